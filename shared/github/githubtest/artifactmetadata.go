package githubtest

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
)

// GitHub's artifact-metadata API: deployment records (one at a time, or a
// cluster's whole set) and storage records, and their listings by digest.
// Bodies are read and validated by shared/deployrecord, the same reading of
// GitHub's rules runtimelink's own drop-in of the API answers with; the
// fake adds what only GitHub knows: which digests it has an artifact for.

// DeploymentRecord is a deployment record as the fake holds it: the body
// last posted for it (a cluster entry expanded to a single record, as
// deployrecord.ClusterRequest.Records does) and GitHub's id and times.
type DeploymentRecord struct {
	deployrecord.DeploymentRecord
	ID                   int64
	CreatedAt, UpdatedAt time.Time
}

// StorageRecord is a storage record as the fake holds it: the body last
// posted for it (status defaulted to active) and GitHub's id and times.
type StorageRecord struct {
	deployrecord.StorageRecord
	ID                   int64
	CreatedAt, UpdatedAt time.Time
}

// artifactMetadata is one org's records, in creation order.
type artifactMetadata struct {
	deployments []*DeploymentRecord
	storage     []*StorageRecord
}

// maxMetadataBody bounds a request body; GitHub's cluster endpoint takes
// up to 1,000 deployments, far below it.
const maxMetadataBody = 8 << 20

// DeploymentRecords returns org's deployment records, in creation order.
func (s *Server) DeploymentRecords(org string) []DeploymentRecord {
	return copyRecords(s, org, func(m *artifactMetadata) []*DeploymentRecord { return m.deployments })
}

// StorageRecords returns org's storage records, in creation order.
func (s *Server) StorageRecords(org string) []StorageRecord {
	return copyRecords(s, org, func(m *artifactMetadata) []*StorageRecord { return m.storage })
}

func copyRecords[T any](s *Server, org string, records func(*artifactMetadata) []*T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	if m := s.metadata[strings.ToLower(org)]; m != nil {
		for _, rec := range records(m) {
			out = append(out, *rec)
		}
	}
	return out
}

func (s *Server) metadataLocked(org string) *artifactMetadata {
	key := strings.ToLower(org)
	m := s.metadata[key]
	if m == nil {
		m = &artifactMetadata{}
		s.metadata[key] = m
	}
	return m
}

// readRecord checks the token may write the org's metadata, then reads and
// validates the body as GitHub does (400 not JSON, 422 naming the fields);
// on failure it has answered. validate runs after the body is decoded into v.
func (s *Server) readRecord(w http.ResponseWriter, r *http.Request, v any, resource, docs string, validate func() error) bool {
	if !s.orgAccessible(w, r, docs) {
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMetadataBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeErrorDoc(w, http.StatusRequestEntityTooLarge, "Payload Too Large", docs)
			return false
		}
		writeErrorDoc(w, http.StatusBadRequest, "Problems parsing JSON", docs)
		return false
	}
	if err = deployrecord.Decode(body, v, resource, docs); err == nil {
		err = validate()
	}
	if err == nil {
		return true
	}
	if status, answer, ok := deployrecord.Refusal(err); ok {
		writeJSON(w, status, answer)
	} else {
		writeErrorDoc(w, http.StatusInternalServerError, "Server Error", docs)
	}
	return false
}

// orgAccessible answers 403 when the token's installation is not the org's,
// as GitHub answers an installation token used on another org.
func (s *Server) orgAccessible(w http.ResponseWriter, r *http.Request, docs string) bool {
	id := whoOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.installations {
		if in.id == id.installation && strings.EqualFold(in.org, r.PathValue("org")) {
			return true
		}
	}
	writeErrorDoc(w, http.StatusForbidden, "Resource not accessible by integration", docs)
	return false
}

// knownArtifactLocked: GitHub records metadata only for a digest it has an
// artifact for (an attestation in the org) or one the record ties to a
// repository of the org (github_repository).
func (s *Server) knownArtifactLocked(org, digest, githubRepository string) bool {
	return githubRepository != "" || len(s.attestations[strings.ToLower(org)+"|"+strings.ToLower(digest)]) > 0
}

// lockKnownArtifact takes s.mu for a single record's write and reports
// true when the artifact is known (knownArtifactLocked); otherwise it
// releases s.mu and answers 404 Not Found with the record's docs.
func (s *Server) lockKnownArtifact(w http.ResponseWriter, org, digest, githubRepository, docs string) bool {
	s.mu.Lock()
	if !s.knownArtifactLocked(org, digest, githubRepository) {
		s.mu.Unlock()
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docs)
		return false
	}
	return true
}

func (s *Server) handleDeploymentRecord(w http.ResponseWriter, r *http.Request) {
	const docs = deployrecord.DocsDeploymentRecord
	var rec deployrecord.DeploymentRecord
	if !s.readRecord(w, r, &rec, deployrecord.ResourceDeploymentRecord, docs, func() error { return rec.Validate() }) {
		return
	}
	org := r.PathValue("org")
	now := s.now().UTC().Truncate(time.Second)
	if !s.lockKnownArtifact(w, org, rec.Digest, rec.GitHubRepository, docs) {
		return
	}
	stored := s.upsertDeploymentLocked(s.metadataLocked(org), rec, now)
	s.mu.Unlock()
	writeDeploymentRecords(w, http.StatusOK, []DeploymentRecord{stored}, nil, rec.ReturnRecords)
}

// handleClusterRecords sets a cluster's deployments: each entry is upserted
// as a record of the cluster; the cluster's records (in the same
// environments) missing from the set are decommissioned. Entries for
// digests GitHub has no artifact for fail the request (404), or with
// partial_success are skipped and listed in a 207.
func (s *Server) handleClusterRecords(w http.ResponseWriter, r *http.Request) {
	const docs = deployrecord.DocsClusterRecords
	cluster := r.PathValue("cluster")
	var req deployrecord.ClusterRequest
	if !s.readRecord(w, r, &req, deployrecord.ResourceDeploymentRecord, docs, func() error { return req.Validate(cluster) }) {
		return
	}
	org := r.PathValue("org")
	partial := req.PartialSuccess != nil && *req.PartialSuccess
	now := s.now().UTC().Truncate(time.Second)
	s.mu.Lock()
	var errs []deployrecord.DeploymentError
	var accepted []deployrecord.DeploymentRecord
	for i, rec := range req.Records(cluster) {
		if !s.knownArtifactLocked(org, rec.Digest, rec.GitHubRepository) {
			errs = append(errs, deployrecord.DeploymentError{Cause: deployrecord.CauseNotFound, Deployment: req.Deployments[i]})
			continue
		}
		accepted = append(accepted, rec)
	}
	if len(errs) > 0 && !partial {
		s.mu.Unlock()
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docs)
		return
	}
	m := s.metadataLocked(org)
	stored := make([]DeploymentRecord, 0, len(accepted))
	for _, rec := range accepted {
		stored = append(stored, s.upsertDeploymentLocked(m, rec, now))
	}
	for _, d := range m.deployments {
		if d.Cluster != cluster || d.LogicalEnvironment != req.LogicalEnvironment || d.PhysicalEnvironment != req.PhysicalEnvironment ||
			d.Status == deployrecord.StatusDecommissioned ||
			slices.ContainsFunc(accepted, func(a deployrecord.DeploymentRecord) bool { return a.DeploymentName == d.DeploymentName }) {
			continue
		}
		d.Status, d.UpdatedAt = deployrecord.StatusDecommissioned, now
	}
	s.mu.Unlock()
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusMultiStatus
	}
	writeDeploymentRecords(w, status, stored, errs, req.ReturnRecords)
}

// upsertDeploymentLocked keeps one record per logical environment, physical
// environment, cluster and deployment name, as GitHub does.
func (s *Server) upsertDeploymentLocked(m *artifactMetadata, rec deployrecord.DeploymentRecord, now time.Time) DeploymentRecord {
	for _, d := range m.deployments {
		if d.LogicalEnvironment == rec.LogicalEnvironment && d.PhysicalEnvironment == rec.PhysicalEnvironment &&
			d.Cluster == rec.Cluster && d.DeploymentName == rec.DeploymentName {
			d.DeploymentRecord, d.UpdatedAt = rec, now
			return *d
		}
	}
	s.metadataIDs++
	d := &DeploymentRecord{DeploymentRecord: rec, ID: s.metadataIDs, CreatedAt: now, UpdatedAt: now}
	m.deployments = append(m.deployments, d)
	return *d
}

func (s *Server) handleStorageRecord(w http.ResponseWriter, r *http.Request) {
	const docs = deployrecord.DocsStorageRecord
	var rec deployrecord.StorageRecord
	if !s.readRecord(w, r, &rec, deployrecord.ResourceStorageRecord, docs, func() error { return rec.Validate() }) {
		return
	}
	if rec.Status == "" {
		rec.Status = deployrecord.StorageActive
	}
	org := r.PathValue("org")
	now := s.now().UTC().Truncate(time.Second)
	if !s.lockKnownArtifact(w, org, rec.Digest, rec.GitHubRepository, docs) {
		return
	}
	m := s.metadataLocked(org)
	var stored *StorageRecord
	for _, st := range m.storage {
		if st.Digest == rec.Digest && st.RegistryURL == rec.RegistryURL && st.Repository == rec.Repository {
			stored = st
			st.StorageRecord, st.UpdatedAt = rec, now
		}
	}
	if stored == nil {
		s.metadataIDs++
		stored = &StorageRecord{StorageRecord: rec, ID: s.metadataIDs, CreatedAt: now, UpdatedAt: now}
		m.storage = append(m.storage, stored)
	}
	out := *stored
	s.mu.Unlock()
	writeStorageRecords(w, []StorageRecord{out}, rec.ReturnRecords)
}

// handleListDeploymentRecords: GET /orgs/{org}/artifacts/{subject_digest}/metadata/deployment-records.
func (s *Server) handleListDeploymentRecords(w http.ResponseWriter, r *http.Request) {
	list, ok := listByDigest(s, w, r, "#list-artifact-deployment-records",
		func(m *artifactMetadata) []*DeploymentRecord { return m.deployments },
		func(d *DeploymentRecord) string { return d.Digest })
	if ok {
		writeDeploymentRecords(w, http.StatusOK, list, nil, nil)
	}
}

// handleListStorageRecords: GET /orgs/{org}/artifacts/{subject_digest}/metadata/storage-records.
func (s *Server) handleListStorageRecords(w http.ResponseWriter, r *http.Request) {
	list, ok := listByDigest(s, w, r, "#list-artifact-storage-records",
		func(m *artifactMetadata) []*StorageRecord { return m.storage },
		func(st *StorageRecord) string { return st.Digest })
	if ok {
		writeStorageRecords(w, list, nil)
	}
}

// listByDigest returns copies of the org's records of {subject_digest}; a
// malformed digest is a 422 naming the parameter (answered, ok false).
func listByDigest[T any](s *Server, w http.ResponseWriter, r *http.Request, anchor string,
	records func(*artifactMetadata) []*T, digestOf func(*T) string) ([]T, bool) {
	digest := r.PathValue("subject_digest")
	if !deployrecord.ValidDigest(digest) {
		writeJSON(w, http.StatusUnprocessableEntity, &deployrecord.ValidationError{Message: "Validation Failed",
			Errors: []deployrecord.FieldError{{Resource: "Artifact", Field: "subject_digest", Code: deployrecord.CodeInvalid,
				Message: "subject_digest must match ^sha256:[a-f0-9]{64}$"}},
			DocumentationURL: docsPrefix + "/orgs/artifact-metadata" + anchor, Status: "422"})
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	if m := s.metadata[strings.ToLower(r.PathValue("org"))]; m != nil {
		for _, rec := range records(m) {
			if digestOf(rec) == digest {
				out = append(out, *rec)
			}
		}
	}
	return out, true
}

func writeDeploymentRecords(w http.ResponseWriter, status int, list []DeploymentRecord, errs []deployrecord.DeploymentError, returnRecords *bool) {
	out := deployrecord.DeploymentRecordsResponse{TotalCount: len(list), Errors: errs}
	if returnRecords == nil || *returnRecords {
		out.DeploymentRecords = make([]deployrecord.StoredDeployment, 0, len(list))
		for _, d := range list {
			out.DeploymentRecords = append(out.DeploymentRecords, deployrecord.StoredDeployment{
				ID: d.ID, Digest: d.Digest, LogicalEnvironment: d.LogicalEnvironment, PhysicalEnvironment: d.PhysicalEnvironment,
				Cluster: d.Cluster, DeploymentName: d.DeploymentName, Tags: d.Tags, RuntimeRisks: d.RuntimeRisks,
				CreatedAt: d.CreatedAt.Format(time.RFC3339), UpdatedAt: d.UpdatedAt.Format(time.RFC3339),
			})
		}
	}
	writeJSON(w, status, out)
}

func writeStorageRecords(w http.ResponseWriter, list []StorageRecord, returnRecords *bool) {
	out := deployrecord.StorageRecordsResponse{TotalCount: len(list)}
	if returnRecords == nil || *returnRecords {
		out.StorageRecords = make([]deployrecord.StoredStorage, 0, len(list))
		for _, st := range list {
			out.StorageRecords = append(out.StorageRecords, deployrecord.StoredStorage{
				ID: st.ID, Name: st.Name, Digest: st.Digest, ArtifactURL: nonEmpty(st.ArtifactURL), RegistryURL: st.RegistryURL,
				Repository: nonEmpty(st.Repository), Status: st.Status,
				CreatedAt: st.CreatedAt.Format(time.RFC3339), UpdatedAt: st.UpdatedAt.Format(time.RFC3339),
			})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// nonEmpty is nil for "" (the API's null).
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
