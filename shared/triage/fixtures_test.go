package triage

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

// The sample data (testdata/ at the repository root) describes one org,
// octo-org: the image octoacr.azurecr.io/checkout-api built from
// octo-org/checkout-api runs in production in aks-prod-eus, internet
// exposed (its deployment record) and next to sensitive data (Defender's
// assessment risk); Defender reports CVE-2023-44487 (MDVM format) and
// CVE-2023-5363 (legacy format) on its digest.
const (
	checkoutRepo    = "octo-org/checkout-api"
	checkoutCluster = "aks-prod-eus"
	clusterResource = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-octo-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod-eus"
)

func testdata(t testing.TB, rel string) []byte { t.Helper(); return sampletest.Testdata(t, rel) }

// cveFindings turns a Defender export sample into findings the way the
// Defender ingest stores them: one per CVE and image, under the image's
// source repository.
func cveFindings(t testing.TB, rel, repository string) []model.Finding {
	t.Helper()
	recs, errs := defender.ParseMessage(testdata(t, rel))
	if len(errs) > 0 {
		t.Fatalf("parse %s: %v", rel, errs)
	}
	var out []model.Finding
	for _, rec := range recs {
		sa := rec.SubAssessment
		if sa == nil {
			t.Fatalf("%s: not a sub-assessment", rel)
		}
		for _, c := range sa.CVEs {
			if c.Registry == "" { // the legacy format: the inventory derives it in its cloud
				c.Registry = mapping.CloudPublic.ACRLoginServer(sa.ResourceID)
			}
			image, err := mapping.NormalizeImage(c.Registry + "/" + c.Repository)
			if err != nil {
				t.Fatalf("%s: image: %v", rel, err)
			}
			f := model.Finding{
				ID:              model.ImageCVEFindingID(image, c.ID),
				Repository:      repository,
				Source:          model.SourceDefenderCVE,
				State:           model.StateOpen,
				SourceUpdatedAt: c.TimeGenerated,
				Title:           c.Title,
				CVE:             c.ID,
				Aliases:         []string{c.ID},
				Severity:        c.Severity,
				CVSS:            c.CVSS,
				Exploit:         c.Exploit,
				Image:           image,
				Digests:         []string{c.Digest},
				DefenderIDs:     []string{sa.ID},
			}
			if c.Package.Name != "" {
				p := c.Package
				f.Package = &p
			}
			out = append(out, f)
		}
	}
	return out
}

// checkoutWorkload is the workload of the sample's single deployment
// record, placed in namespace "shop" under the name the attack path sample
// gives its pod, with the assessment's sensitive-data risk when asked.
func checkoutWorkload(t testing.TB, sensitive bool) model.Workload {
	t.Helper()
	var r deployrecord.DeploymentRecord
	if err := json.Unmarshal(sampletest.DeploymentRecords(t)["single"], &r); err != nil {
		t.Fatal(err)
	}
	image, err := mapping.NormalizeImage(r.Name)
	if err != nil {
		t.Fatal(err)
	}
	w := model.Workload{
		ID: model.WorkloadID(r.Cluster, "shop", "checkout-api"), Cluster: r.Cluster, Namespace: "shop", Name: "checkout-api",
		Org: "octo-org", Image: image, Digest: r.Digest, Environment: r.LogicalEnvironment, Production: r.LogicalEnvironment == "production",
		Region: r.PhysicalEnvironment, ResourceID: clusterResource, Repository: mapping.NormalizeRepository(r.GitHubRepository, "octo-org"),
		Status: model.WorkloadRunning, FirstSeen: time.Unix(1_790_000_000, 0).UTC(), LastSeen: time.Unix(1_790_000_000, 0).UTC(),
	}
	for _, name := range r.RuntimeRisks {
		f, ok := mapping.RiskFromDefender(string(name))
		if !ok {
			t.Fatalf("risk %q", name)
		}
		w.Risks = append(w.Risks, model.Risk{Factor: f, Source: mapping.RiskSourceDeploymentRecord})
	}
	if sensitive {
		w.Risks = append(w.Risks, model.Risk{Factor: model.RiskSensitiveData, Source: mapping.RiskSourceAssessmentPrefix + "c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"})
	}
	w.Risks = mapping.MergeRisks(w.Risks)
	return w
}

// dependabotFinding decodes the sample Dependabot alert.
func dependabotFinding(t testing.TB) model.Finding {
	t.Helper()
	a, err := alerts.DecodeDependabot(testdata(t, "github/dependabot_alert/created.json"), time.Unix(1_790_000_000, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	return a.Finding
}

// syncRecorder is the sync queue: it records requests, or fails them. It
// is both the domain's SyncQueue and the queue.Sync the inventory takes.
type syncRecorder struct {
	mu   sync.Mutex
	reqs []queue.SyncRequest
	fail error
}

func (r *syncRecorder) EnqueueSync(_ context.Context, req queue.SyncRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.reqs = append(r.reqs, req)
	return nil
}

func (r *syncRecorder) EnqueueGroupSync(ctx context.Context, repository, groupID string) error {
	return r.EnqueueSync(ctx, queue.SyncRequest{Kind: queue.KindGroup, Repository: repository, GroupID: groupID})
}

func (r *syncRecorder) groups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		out = append(out, q.GroupID)
	}
	return out
}

func (r *syncRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

var errQueueDown = errors.New("queue unavailable")

// put replaces a finding with the incoming one: the merge a source uses
// when it owns every field.
func put(in model.Finding) func(f *model.Finding, exists bool) error {
	return func(f *model.Finding, _ bool) error {
		meta, related, first := f.Meta, f.Related, f.FirstSeen
		*f = in
		f.Meta, f.Related = meta, related
		if f.FirstSeen.IsZero() {
			f.FirstSeen = first
		}
		return nil
	}
}
