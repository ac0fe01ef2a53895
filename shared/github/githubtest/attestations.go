package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/golang/snappy"
)

type storedAttestation struct {
	repositoryID  int64
	bundle        json.RawMessage
	predicateType string
	blobID        string
	onlyByURL     bool
}

// Attestation is one attestation kept for a digest.
type Attestation struct {
	// Repository ("owner/name") the attestation belongs to; its id is derived.
	Repository string
	// Bundle is the Sigstore bundle (see ProvenanceBundle).
	Bundle json.RawMessage
	// OnlyByURL answers with "bundle": null and the bundle only at
	// bundle_url, Snappy-compressed, as GitHub does for newer attestations.
	OnlyByURL bool
}

// AddAttestation stores an attestation for digest ("sha256:<hex>") in org.
func (s *Server) AddAttestation(org, digest string, a Attestation) {
	var b struct {
		DSSEEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(a.Bundle, &b) == nil {
		if p, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload); err == nil {
			_ = json.Unmarshal(p, &st)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strconv.Itoa(len(s.blobs) + 1)
	s.blobs[id] = snappy.Encode(nil, a.Bundle)
	key := strings.ToLower(org) + "|" + strings.ToLower(digest)
	s.attestations[key] = append(s.attestations[key], storedAttestation{
		repositoryID: repoID(a.Repository), bundle: a.Bundle, predicateType: st.PredicateType,
		blobID: id, onlyByURL: a.OnlyByURL})
}

// handleAttestations: GET /orgs/{org}/attestations/{subject_digest}; a 404
// when nothing is attested for the digest.
func (s *Server) handleAttestations(w http.ResponseWriter, r *http.Request) {
	key := strings.ToLower(r.PathValue("org")) + "|" + strings.ToLower(r.PathValue("digest"))
	want := r.URL.Query().Get("predicate_type")
	s.mu.Lock()
	stored := s.attestations[key]
	s.mu.Unlock()
	list := []map[string]any{}
	for _, a := range stored {
		if !predicateMatches(want, a.predicateType) {
			continue
		}
		entry := map[string]any{"repository_id": a.repositoryID, "bundle_url": s.srv.URL + "/_blobs/" + a.blobID}
		if a.onlyByURL {
			entry["bundle"] = nil
		} else {
			entry["bundle"] = a.bundle
		}
		list = append(list, entry)
	}
	if len(list) == 0 {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/orgs/orgs#list-attestations")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"attestations": list})
}

func predicateMatches(want, have string) bool {
	switch want {
	case "":
		return true
	case "provenance":
		return strings.HasPrefix(have, "https://slsa.dev/provenance/")
	case "sbom":
		return strings.Contains(have, "spdx") || strings.Contains(have, "cyclonedx")
	}
	return want == have
}

// serveBlob answers a bundle_url: signed blob storage, no GitHub auth.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request) int {
	s.mu.Lock()
	b, ok := s.blobs[strings.TrimPrefix(r.URL.Path, "/_blobs/")]
	s.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		w.WriteHeader(http.StatusNotFound)
		return http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
	return http.StatusOK
}

// Build describes the build a provenance attestation speaks of.
type Build struct {
	Digest     string // "sha256:<hex>" of the image
	Image      string // subject name, e.g. "ghcr.io/octo-org/app"
	Repository string // "owner/name"
	Workflow   string // ".github/workflows/build.yml"
	Ref        string // "refs/heads/main"
	Commit     string
	RunID      int64
	// SLSAv02 writes the older v0.2 predicate instead of v1.
	SLSAv02 bool
}

// ProvenanceBundle returns a Sigstore bundle (v0.3) whose DSSE envelope holds
// an in-toto statement with the SLSA provenance GitHub's attest action
// writes for b. The signature and certificate are placeholders: nothing here
// verifies them.
func ProvenanceBundle(t testing.TB, b Build) json.RawMessage {
	t.Helper()
	hex := strings.TrimPrefix(b.Digest, "sha256:")
	repoURL := "https://github.com/" + b.Repository
	var predicateType string
	var predicate any
	if b.SLSAv02 {
		predicateType = "https://slsa.dev/provenance/v0.2"
		predicate = map[string]any{
			"builder":   map[string]any{"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0"},
			"buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
			"invocation": map[string]any{
				"configSource": map[string]any{
					"uri":        "git+" + repoURL + "@" + b.Ref,
					"digest":     map[string]string{"sha1": b.Commit},
					"entryPoint": b.Workflow,
				},
				"parameters":  map[string]any{},
				"environment": map[string]any{"github_event_name": "push", "github_run_id": strconv.FormatInt(b.RunID, 10)},
			},
			"metadata": map[string]any{
				"buildInvocationId": fmt.Sprintf("%d-1", b.RunID),
				"completeness":      map[string]bool{"parameters": true, "environment": false, "materials": false},
				"reproducible":      false,
			},
			"materials": []any{map[string]any{"uri": "git+" + repoURL + "@" + b.Ref, "digest": map[string]string{"sha1": b.Commit}}},
		}
	} else {
		predicateType = "https://slsa.dev/provenance/v1"
		predicate = map[string]any{
			"buildDefinition": map[string]any{
				"buildType": "https://actions.github.io/buildtypes/workflow/v1",
				"externalParameters": map[string]any{
					"workflow": map[string]any{"ref": b.Ref, "repository": repoURL, "path": b.Workflow},
				},
				"internalParameters": map[string]any{
					"github": map[string]any{"event_name": "push", "repository_id": strconv.FormatInt(repoID(b.Repository), 10),
						"repository_owner_id": "9000001", "runner_environment": "github-hosted"},
				},
				"resolvedDependencies": []any{map[string]any{
					"uri":    "git+" + repoURL + "@" + b.Ref,
					"digest": map[string]string{"gitCommit": b.Commit},
				}},
			},
			"runDetails": map[string]any{
				"builder": map[string]any{"id": repoURL + "/" + b.Workflow + "@" + b.Ref},
				"metadata": map[string]any{
					"invocationId": fmt.Sprintf("%s/actions/runs/%d/attempts/1", repoURL, b.RunID),
				},
			},
		}
	}
	statement := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": b.Image, "digest": map[string]string{"sha256": hex}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	}
	payload, err := json.Marshal(statement)
	if err != nil {
		t.Fatalf("encode in-toto statement: %v", err)
	}
	bundle := map[string]any{
		"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{
			"certificate": map[string]string{"rawBytes": base64.StdEncoding.EncodeToString([]byte("placeholder certificate"))},
			"tlogEntries": []any{map[string]any{"logIndex": "123456", "kindVersion": map[string]string{"kind": "dsse", "version": "0.0.1"}}},
		},
		"dsseEnvelope": map[string]any{
			"payload":     base64.StdEncoding.EncodeToString(payload),
			"payloadType": "application/vnd.in-toto+json",
			"signatures":  []any{map[string]string{"sig": base64.StdEncoding.EncodeToString([]byte("placeholder signature"))}},
		},
	}
	out, err := json.Marshal(bundle)
	if err != nil {
		t.Fatalf("encode bundle: %v", err)
	}
	return out
}
