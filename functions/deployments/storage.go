package deployments

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Storage record and listing routes.
const (
	RouteStorage         = "POST /api/orgs/{org}/artifacts/metadata/storage-record"
	RouteListDeployments = "GET /api/orgs/{org}/artifacts/{subject_digest}/metadata/deployment-records"
	RouteListStorage     = "GET /api/orgs/{org}/artifacts/{subject_digest}/metadata/storage-records"
)

// maxListed bounds a listing: the deployment records of one digest in one
// org (every cluster, environment and deployment name running it).
const maxListed = 1000

// Documentation URLs of the listings.
const (
	docsListDeployments = "https://docs.github.com/rest/orgs/artifact-metadata#list-artifact-deployment-records"
	docsListStorage     = "https://docs.github.com/rest/orgs/artifact-metadata#list-artifact-storage-records"
)

// Storage stores one storage record (GitHub's shape and validation; unlike
// GitHub, a digest without attestation or github_repository is accepted:
// runtimelink records what it is told).
func (h *Handler) Storage(w http.ResponseWriter, r *http.Request) {
	org, body, ok := h.begin(w, r)
	if !ok {
		return
	}
	var rec deployrecord.StorageRecord
	if !decode(w, r, body, &rec, deployrecord.ResourceStorageRecord, deployrecord.DocsStorageRecord, func() error { return rec.Validate() }) {
		return
	}
	stored, err := h.inventory(r).ApplyStorageRecord(ctx(r), org, rec)
	if err != nil {
		serverError(w, r, "store storage record", err)
		return
	}
	invocation.Logger(r.Context()).Info("storage record stored", "org", org, "digest", rec.Digest, "registry", rec.RegistryURL)
	out := deployrecord.StorageRecordsResponse{TotalCount: 1}
	if rec.ReturnRecords == nil || *rec.ReturnRecords {
		out.StorageRecords = []deployrecord.StoredStorage{inventory.StoredStorage(rec.Digest, &stored)}
	}
	writeJSON(w, http.StatusOK, out)
}

// ListDeployments answers the deployment records of a digest in org:
// every workload reported for the org on that digest, gone ones included
// (GitHub keeps decommissioned records).
func (h *Handler) ListDeployments(w http.ResponseWriter, r *http.Request) {
	org, digest, ok := h.listing(w, r, docsListDeployments)
	if !ok {
		return
	}
	ws, _, err := h.Inventory.Store.WorkloadsOnDigests(r.Context(), []string{digest}, maxListed)
	if err != nil {
		serverError(w, r, "list deployment records", err)
		return
	}
	out := deployrecord.DeploymentRecordsList{DeploymentRecords: []deployrecord.StoredDeployment{}}
	for k := range ws {
		if strings.EqualFold(ws[k].Org, org) {
			out.DeploymentRecords = append(out.DeploymentRecords, inventory.StoredDeployment(&ws[k]))
		}
	}
	slices.SortFunc(out.DeploymentRecords, func(a, b deployrecord.StoredDeployment) int { return cmp.Compare(a.ID, b.ID) })
	out.TotalCount = len(out.DeploymentRecords)
	writeJSON(w, http.StatusOK, out)
}

// ListStorage answers the storage records of a digest in org: those posted
// here, and the one runtimelink pushes to GitHub for an ACR image whose
// source repository the org owns.
func (h *Handler) ListStorage(w http.ResponseWriter, r *http.Request) {
	org, digest, ok := h.listing(w, r, docsListStorage)
	if !ok {
		return
	}
	out := deployrecord.StorageRecordsList{StorageRecords: []deployrecord.StoredStorage{}}
	a, err := h.Inventory.Store.Artifact(r.Context(), digest)
	switch {
	case errors.Is(err, model.ErrNotFound):
	case err != nil:
		serverError(w, r, "list storage records", err)
		return
	default:
		for k := range a.StorageRecords {
			if strings.EqualFold(a.StorageRecords[k].Org, org) {
				out.StorageRecords = append(out.StorageRecords, inventory.StoredStorage(digest, &a.StorageRecords[k]))
			}
		}
		if rec, owner, ok := inventory.StorageRecord(a); ok && strings.EqualFold(owner, org) {
			pushed := model.StorageRecord{Org: owner, Name: rec.Name, Version: rec.Version, RegistryURL: rec.RegistryURL,
				Repository: rec.Repository, Status: rec.Status, GitHubRepository: rec.GitHubRepository}
			if !slices.ContainsFunc(a.StorageRecords, func(s model.StorageRecord) bool {
				return strings.EqualFold(s.Org, owner) && s.RegistryURL == pushed.RegistryURL && s.Repository == pushed.Repository
			}) {
				out.StorageRecords = append(out.StorageRecords, inventory.StoredStorage(digest, &pushed))
			}
		}
	}
	out.TotalCount = len(out.StorageRecords)
	writeJSON(w, http.StatusOK, out)
}

// listing authenticates a listing and reads its org and digest; a digest
// that is not sha256:<64 hex> is a 422 naming subject_digest.
func (h *Handler) listing(w http.ResponseWriter, r *http.Request, docs string) (org, digest string, ok bool) {
	if !h.authorized(w, r) {
		return "", "", false
	}
	if h.Inventory == nil {
		serverError(w, r, "deployments endpoint", errors.New("not configured (see the start-up log)"))
		return "", "", false
	}
	org, digest = r.PathValue("org"), r.PathValue("subject_digest")
	if !orgPattern.MatchString(org) {
		notFound(w, docs)
		return "", "", false
	}
	if !deployrecord.ValidDigest(digest) {
		writeJSON(w, http.StatusUnprocessableEntity, &deployrecord.ValidationError{Message: "Validation Failed",
			Errors: []deployrecord.FieldError{{Resource: "Artifact", Field: "subject_digest", Code: deployrecord.CodeInvalid,
				Message: "subject_digest must match ^sha256:[a-f0-9]{64}$"}},
			DocumentationURL: docs, Status: "422"})
		return "", "", false
	}
	return org, digest, true
}
