// Package artifactsync pushes runtimelink's runtime context into GitHub's
// artifact metadata: a deployment record per workload (with the runtime
// risks merged from every source, decommissioned once the workload is
// gone) and a storage record per ACR image. It is level-triggered: it reads
// the current state, pushes only when the record differs from the last one
// pushed (a hash kept on the document), and looks up the artifact
// attestation of a digest that has none yet, the strongest evidence of
// where an image was built.
package artifactsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/model"
)

// GitHub is what the sync needs from GitHub, per org.
type GitHub interface {
	// PostDeploymentRecord: POST /orgs/{org}/artifacts/metadata/deployment-record.
	PostDeploymentRecord(ctx context.Context, org string, rec deployrecord.DeploymentRecord) error
	// PostStorageRecord: POST /orgs/{org}/artifacts/metadata/storage-record.
	PostStorageRecord(ctx context.Context, org string, rec deployrecord.StorageRecord) error
	// Attestations returns the build provenance attested for digest in org
	// (none, and no error, when nothing is attested).
	Attestations(ctx context.Context, org, digest string) ([]Provenance, error)
}

// Provenance is what an attestation says about a digest's build.
type Provenance struct {
	Repository string // owner/name
	Commit     string
	Workflow   string
	RunID      int64
	Ref        string // identifies the attestation (bundle URL, or repository id)
}

// Errors a GitHub implementation reports so the sync can tell permanent
// refusals from failures worth a retry.
var (
	// ErrNotInstalled: the App has no active installation for the org
	// (github.ErrNotInstalled).
	ErrNotInstalled = github.ErrNotInstalled
	// ErrRejected: GitHub refused the record for good (404: it knows no
	// artifact with that digest; 422: it rejects the content). A retry of
	// the same record cannot succeed.
	ErrRejected = errors.New("github rejected the record")
)

// Outcome of one sync.
type Outcome string

const (
	Pushed    Outcome = "pushed"    // the record was sent
	Unchanged Outcome = "unchanged" // GitHub already has this record
	Planned   Outcome = "planned"   // dry run: logged, not sent
	Skipped   Outcome = "skipped"   // nothing to send (see the log line)
)

// Store is what the sync reads and writes (*store.Store in the app).
type Store interface {
	Artifact(ctx context.Context, digest string) (*model.Artifact, error)
	UpdateArtifact(ctx context.Context, digest string, fn func(a *model.Artifact, exists bool) error) (*model.Artifact, bool, error)
	Workload(ctx context.Context, cluster, id string) (*model.Workload, error)
	UpdateWorkload(ctx context.Context, cluster, id string, fn func(w *model.Workload, exists bool) error) (*model.Workload, bool, error)
	WorkloadsOnDigests(ctx context.Context, digests []string, limit int) ([]model.Workload, bool, error)
	ActiveInstallations(ctx context.Context, fn func(in *model.Installation) error) error
}

// Syncer pushes records. Inventory is used to record attestations found.
type Syncer struct {
	Store     Store
	Inventory *inventory.Inventory
	GitHub    GitHub
	// DryRun plans every push (logs the request it would send) and sends
	// nothing (RUNTIMELINK_DRY_RUN). A nil GitHub (integration off) plans too.
	DryRun bool
	Logger *slog.Logger
	Now    func() time.Time
}

// planOnly: a dry run, or no GitHub to send to (the integration is off).
func (s *Syncer) planOnly() bool { return s.DryRun || s.GitHub == nil }

func (s *Syncer) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Deployment pushes the deployment record of one workload.
func (s *Syncer) Deployment(ctx context.Context, cluster, workloadID string) (Outcome, error) {
	log := s.logger().With("workloadId", workloadID, "cluster", cluster)
	w, err := s.Store.Workload(ctx, cluster, workloadID)
	if errors.Is(err, model.ErrNotFound) {
		log.Warn("deployment sync for a workload that does not exist; nothing to push")
		return Skipped, nil
	}
	if err != nil {
		return "", fmt.Errorf("deployment sync of %s: %w", workloadID, err)
	}
	if w.Org == "" || w.Digest == "" {
		log.Info("workload has no org or digest; no deployment record to push")
		return Skipped, nil
	}
	found, err := s.lookupAttestation(ctx, w.Digest, w.Image, []string{w.Org})
	if err != nil {
		if errors.Is(err, ErrNotInstalled) {
			log.Warn("GitHub App not installed for the workload's org; deployment record not pushed", "org", w.Org)
			return Skipped, nil
		}
		return "", fmt.Errorf("deployment sync of %s: %w", workloadID, err)
	}
	if found {
		// The attestation may have moved the workload to another repository.
		if w, err = s.Store.Workload(ctx, cluster, workloadID); err != nil {
			return "", fmt.Errorf("deployment sync of %s: %w", workloadID, err)
		}
	}
	rec := inventory.DeploymentRecord(w)
	hash := inventory.RecordHash(rec)
	if hash == w.DeploymentRecordHash {
		return Unchanged, nil
	}
	out, err := s.post(log, "deployment", "workload", w.Org, rec, func() error {
		return s.GitHub.PostDeploymentRecord(ctx, w.Org, rec)
	})
	if err != nil {
		return "", fmt.Errorf("deployment sync of %s: %w", workloadID, err)
	}
	if out != Pushed {
		return out, nil
	}
	_, _, err = s.Store.UpdateWorkload(ctx, cluster, workloadID, func(cur *model.Workload, exists bool) error {
		// A workload that changed since is pushed again by its own sync.
		if !exists || inventory.RecordHash(inventory.DeploymentRecord(cur)) != hash {
			return model.ErrSkip
		}
		cur.DeploymentRecordHash = hash
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("remember deployment record of %s: %w", workloadID, err)
	}
	log.Info("deployment record pushed", "org", w.Org, "status", rec.Status, "runtimeRisks", rec.RuntimeRisks)
	return Pushed, nil
}

// maxAttestationOrgs bounds the orgs asked about one digest, and
// maxRunningOrgsScan the workloads read to find them.
const (
	maxAttestationOrgs = 5
	maxRunningOrgsScan = 1000
)

// Storage pushes the storage record of one ACR image digest.
func (s *Syncer) Storage(ctx context.Context, digest string) (Outcome, error) {
	log := s.logger().With("digest", digest)
	a, err := s.Store.Artifact(ctx, digest)
	if errors.Is(err, model.ErrNotFound) {
		log.Warn("storage sync for an unknown digest; nothing to push")
		return Skipped, nil
	}
	if err != nil {
		return "", fmt.Errorf("storage sync of %s: %w", digest, err)
	}
	orgs, err := s.orgsOf(ctx, a)
	if err != nil {
		return "", fmt.Errorf("storage sync of %s: %w", digest, err)
	}
	found, err := s.lookupAttestation(ctx, digest, a.Image, orgs)
	if err != nil && !errors.Is(err, ErrNotInstalled) {
		return "", fmt.Errorf("storage sync of %s: %w", digest, err)
	}
	if found {
		if a, err = s.Store.Artifact(ctx, digest); err != nil {
			return "", fmt.Errorf("storage sync of %s: %w", digest, err)
		}
	}
	rec, org, ok := inventory.StorageRecord(a)
	if !ok {
		log.Info("no storage record to push (not an ACR image, or its source repository is unknown)",
			"registry", a.Registry, "repository", a.Repository)
		return Skipped, nil
	}
	hash := inventory.RecordHash(rec)
	if hash == a.StorageRecordHash {
		return Unchanged, nil
	}
	out, err := s.post(log, "storage", "image", org, rec, func() error {
		return s.GitHub.PostStorageRecord(ctx, org, rec)
	})
	if err != nil {
		return "", fmt.Errorf("storage sync of %s: %w", digest, err)
	}
	if out != Pushed {
		return out, nil
	}
	_, _, err = s.Store.UpdateArtifact(ctx, digest, func(cur *model.Artifact, exists bool) error {
		if !exists {
			return model.ErrSkip
		}
		if r, _, ok := inventory.StorageRecord(cur); !ok || inventory.RecordHash(r) != hash {
			return model.ErrSkip
		}
		cur.StorageRecordHash = hash
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("remember storage record of %s: %w", digest, err)
	}
	log.Info("storage record pushed", "org", org, "status", rec.Status)
	return Pushed, nil
}

// post validates rec, the kind ("deployment", "storage") of record of an
// owner ("workload", "image") in org, and sends it, unless the syncer only
// plans. It answers Pushed when GitHub took it; Skipped for a record that
// is not valid, an org without the App, or a record GitHub rejected
// (retrying the same record cannot help; the next change pushes again);
// Planned when it only planned.
func (s *Syncer) post(log *slog.Logger, kind, owner, org string, rec interface{ Validate() error }, send func() error) (Outcome, error) {
	if err := rec.Validate(); err != nil {
		log.Error(kind+" record is not valid for GitHub; not pushed", "error", err)
		return Skipped, nil
	}
	if s.planOnly() {
		log.Info("plan only: would POST "+kind+" record", "org", org, "dryRun", s.DryRun,
			"path", "/orgs/"+org+"/artifacts/metadata/"+kind+"-record", "body", jsonString(rec))
		return Planned, nil
	}
	if err := send(); err != nil {
		switch {
		case errors.Is(err, ErrNotInstalled):
			log.Warn("GitHub App not installed for the "+owner+"'s org; "+kind+" record not pushed", "org", org)
			return Skipped, nil
		case errors.Is(err, ErrRejected):
			log.Warn("GitHub rejected the "+kind+" record", "org", org, "error", err)
			return Skipped, nil
		}
		return "", err
	}
	return Pushed, nil
}

// orgsOf lists the orgs to ask about an artifact's attestation: the owner
// of its source repository, else the orgs of the workloads running it,
// else every org the App is installed in.
func (s *Syncer) orgsOf(ctx context.Context, a *model.Artifact) ([]string, error) {
	if owner, _, ok := strings.Cut(a.Repository, "/"); ok {
		return []string{owner}, nil
	}
	seen := map[string]bool{}
	var orgs []string
	addOrg := func(org string) error {
		if org != "" && !seen[strings.ToLower(org)] {
			seen[strings.ToLower(org)] = true
			orgs = append(orgs, org)
		}
		if len(orgs) >= maxAttestationOrgs {
			return errEnough
		}
		return nil
	}
	ws, _, err := s.Store.WorkloadsOnDigests(ctx, []string{a.Digest}, maxRunningOrgsScan)
	if err != nil {
		return nil, fmt.Errorf("orgs running %s: %w", a.Digest, err)
	}
	for _, w := range ws {
		if addOrg(w.Org) != nil {
			break
		}
	}
	if len(orgs) > 0 {
		return orgs, nil
	}
	err = s.Store.ActiveInstallations(ctx, func(in *model.Installation) error { return addOrg(in.Org) })
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return orgs, nil
}

var errEnough = errors.New("enough")

// lookupAttestation asks GitHub for the attestation of a digest that has
// none recorded yet and records what it finds as evidence; found reports
// whether new evidence was recorded. Orgs without the App installed are
// skipped; ErrNotInstalled is returned only when no org could be asked.
func (s *Syncer) lookupAttestation(ctx context.Context, digest, image string, orgs []string) (bool, error) {
	if s.GitHub == nil {
		return false, nil
	}
	a, err := s.Store.Artifact(ctx, digest)
	switch {
	case errors.Is(err, model.ErrNotFound):
		a = &model.Artifact{}
	case err != nil:
		return false, fmt.Errorf("read artifact %s: %w", digest, err)
	}
	for _, e := range a.Evidence {
		if e.Kind == model.EvidenceAttestation {
			return false, nil
		}
	}
	asked, found := 0, false
	for _, org := range orgs {
		provs, err := s.GitHub.Attestations(ctx, org, digest)
		if errors.Is(err, ErrNotInstalled) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("look up attestation of %s in %s: %w", digest, org, err)
		}
		asked++
		for _, p := range provs {
			_, changed, err := s.Inventory.AddEvidence(ctx, digest, image, model.Evidence{
				Kind:       model.EvidenceAttestation,
				Repository: p.Repository,
				Commit:     p.Commit,
				Workflow:   p.Workflow,
				RunID:      p.RunID,
				Ref:        p.Ref,
				At:         s.now(),
			})
			if err != nil {
				return false, err
			}
			found = found || changed
		}
		if len(provs) > 0 {
			s.logger().Info("attestation found", "digest", digest, "org", org, "repository", provs[0].Repository)
			break
		}
	}
	if asked == 0 && len(orgs) > 0 {
		return false, ErrNotInstalled
	}
	return found, nil
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}
