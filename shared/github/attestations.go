package github

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	gh "github.com/google/go-github/v62/github"
)

// Provenance is what an artifact attestation (SLSA provenance) says about
// the build of a digest.
type Provenance struct {
	Repository    string `json:"repository"`             // "owner/name"
	RepositoryID  int64  `json:"repositoryId,omitempty"` // from the API answer
	Workflow      string `json:"workflow,omitempty"`     // ".github/workflows/build.yml"
	Ref           string `json:"ref,omitempty"`          // "refs/heads/main"
	Commit        string `json:"commit,omitempty"`       // git commit sha
	RunID         int64  `json:"runId,omitempty"`        // Actions workflow run id when known
	PredicateType string `json:"predicateType"`
	BundleURL     string `json:"bundleUrl,omitempty"`
}

// Predicate types understood.
const (
	PredicateSLSAv1   = "https://slsa.dev/provenance/v1"
	PredicateSLSAv02  = "https://slsa.dev/provenance/v0.2"
	payloadTypeInToto = "application/vnd.in-toto+json"
)

// AttestationOptions configures NewAttestations. Zero fields take defaults.
type AttestationOptions struct {
	// TTL keeps a found provenance (an attestation never changes; a later
	// one for the same digest is rare). Default 24 h.
	TTL time.Duration
	// NegativeTTL keeps "no attestation": short, because a build attests
	// right after it pushes the image. Default 10 min.
	NegativeTTL time.Duration
	Entries     int // default 10,000 digests
	Clock       Clock
	// BlobClient fetches bundles GitHub serves only by bundle_url (signed
	// blob-storage URLs: no GitHub credentials go there). Default: a plain
	// client with a 30 s timeout.
	BlobClient *http.Client
	Logger     *slog.Logger
}

// Attestations looks up the SLSA provenance of image digests:
// GET /orgs/{org}/attestations/{subject_digest}. It decodes but does not
// cryptographically verify the attestations: it takes GitHub's word as the
// API gives it, as evidence of where a digest was built.
type Attestations struct {
	clock  Clock
	ttl    time.Duration
	negTTL time.Duration
	blobs  *http.Client
	log    *slog.Logger
	cache  *lru[string, []Provenance]
}

// NewAttestations returns a lookup with its own cache.
func NewAttestations(o AttestationOptions) *Attestations {
	o.TTL = positiveOr(o.TTL, 24*time.Hour)
	o.NegativeTTL = positiveOr(o.NegativeTTL, 10*time.Minute)
	o.Entries = positiveOr(o.Entries, 10000)
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.BlobClient == nil {
		o.BlobClient = &http.Client{Timeout: 30 * time.Second, Transport: PooledTransport()}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Attestations{clock: o.Clock, ttl: o.TTL, negTTL: o.NegativeTTL, blobs: o.BlobClient,
		log: o.Logger, cache: newLRU[string, []Provenance](o.Entries, 0, nil)}
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// maxAttestationPages bounds one lookup; a digest has a handful of
// attestations, not hundreds.
const maxAttestationPages = 5

// Provenance returns the provenance attested for digest ("sha256:<hex>") in
// org's repositories; none (and no error) when GitHub has no attestation.
func (a *Attestations) Provenance(ctx context.Context, client *gh.Client, org, digest string) ([]Provenance, error) {
	digest = strings.ToLower(strings.TrimSpace(digest))
	if !digestRE.MatchString(digest) {
		return nil, fmt.Errorf("attestation lookup: %q is not a sha256:<hex> digest", digest)
	}
	if org == "" || strings.ContainsAny(org, "/?#") {
		return nil, fmt.Errorf("attestation lookup: invalid org %q", org)
	}
	key := strings.ToLower(org) + "|" + digest
	if p, ok := a.cache.get(key, a.clock.Now()); ok {
		return p, nil
	}

	base := "orgs/" + url.PathEscape(org) + "/attestations/" + digest
	query := "per_page=100&predicate_type=provenance"
	var out []Provenance
	for page := 0; query != "" && page < maxAttestationPages; page++ {
		req, err := client.NewRequest(http.MethodGet, base+"?"+query, nil)
		if err != nil {
			return nil, fmt.Errorf("attestation lookup for %s in %s: %w", digest, org, err)
		}
		var body struct {
			Attestations []struct {
				Bundle       json.RawMessage `json:"bundle"`
				RepositoryID int64           `json:"repository_id"`
				BundleURL    string          `json:"bundle_url"`
			} `json:"attestations"`
		}
		resp, err := client.Do(ctx, req, &body)
		if IsNotFound(err) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("attestation lookup for %s in %s: %w", digest, org, err)
		}
		for _, att := range body.Attestations {
			bundle := att.Bundle
			if isJSONNull(bundle) && att.BundleURL != "" {
				if bundle, err = a.fetchBundle(ctx, att.BundleURL); err != nil {
					return nil, fmt.Errorf("attestation lookup for %s in %s: %w", digest, org, err)
				}
			}
			p, err := provenanceFromBundle(bundle, digest)
			if err != nil {
				// One unreadable attestation does not hide the others.
				a.log.Warn("skipping unreadable attestation", "org", org, "digest", digest,
					"repositoryId", att.RepositoryID, "error", err)
				continue
			}
			if p == nil {
				continue // another predicate type, or another subject
			}
			p.RepositoryID, p.BundleURL = att.RepositoryID, att.BundleURL
			if !containsProvenance(out, *p) {
				out = append(out, *p)
			}
		}
		query = nextQuery(resp)
	}
	ttl := a.ttl
	if len(out) == 0 {
		ttl = a.negTTL
	}
	a.cache.put(key, out, a.clock.Now().Add(ttl))
	return out, nil
}

// fetchBundle reads a bundle GitHub keeps in blob storage: a Snappy-compressed
// protobuf-JSON Sigstore bundle (the same JSON shape as an inline one).
func (a *Attestations) fetchBundle(ctx context.Context, bundleURL string) (json.RawMessage, error) {
	u, err := url.Parse(bundleURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("attestation bundle_url is not an http(s) URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bundleURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch attestation bundle: %w", err)
	}
	resp, err := a.blobs.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch attestation bundle: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch attestation bundle: status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBundle))
	if err != nil {
		return nil, fmt.Errorf("fetch attestation bundle: %w", err)
	}
	out, err := decompressBundle(raw)
	if err != nil {
		return nil, fmt.Errorf("decompress attestation bundle: %w", err)
	}
	return out, nil
}

// maxBundle bounds an attestation bundle, compressed and decompressed: a
// Sigstore bundle is a few kilobytes.
const maxBundle = 16 << 20

// decompressBundle decodes the Snappy block format (not the framed stream)
// GitHub stores bundles in. The length the block announces is checked
// against maxBundle before anything is allocated for it: the bytes come
// from the network.
func decompressBundle(raw []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(raw)
	if err != nil {
		return nil, fmt.Errorf("snappy header: %w", err)
	}
	if n > maxBundle {
		return nil, fmt.Errorf("bundle announces %d bytes decompressed, over the %d allowed", n, maxBundle)
	}
	return snappy.Decode(nil, raw)
}

// provenanceFromBundle decodes the in-toto statement in a Sigstore bundle's
// DSSE envelope. It returns nil, nil for a statement that is not SLSA
// provenance or not about digest.
func provenanceFromBundle(bundle json.RawMessage, digest string) (*Provenance, error) {
	var b struct {
		DSSEEnvelope *struct {
			Payload     string `json:"payload"`
			PayloadType string `json:"payloadType"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("decode bundle: %w", err)
	}
	if b.DSSEEnvelope == nil {
		return nil, errors.New("bundle has no dsseEnvelope")
	}
	if b.DSSEEnvelope.PayloadType != payloadTypeInToto {
		return nil, fmt.Errorf("DSSE payloadType %q is not in-toto", b.DSSEEnvelope.PayloadType)
	}
	payload, err := decodeBase64(b.DSSEEnvelope.Payload)
	if err != nil {
		return nil, fmt.Errorf("decode DSSE payload: %w", err)
	}
	var st struct {
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("decode in-toto statement: %w", err)
	}
	hex := strings.TrimPrefix(digest, "sha256:")
	about := false
	for _, s := range st.Subject {
		if strings.EqualFold(s.Digest["sha256"], hex) {
			about = true
		}
	}
	if !about {
		return nil, nil
	}
	switch st.PredicateType {
	case PredicateSLSAv1:
		return slsaV1(st.Predicate)
	case PredicateSLSAv02:
		return slsaV02(st.Predicate)
	}
	return nil, nil
}

func slsaV1(raw json.RawMessage) (*Provenance, error) {
	var p struct {
		BuildDefinition struct {
			ExternalParameters struct {
				Workflow struct {
					Repository string `json:"repository"`
					Path       string `json:"path"`
					Ref        string `json:"ref"`
				} `json:"workflow"`
			} `json:"externalParameters"`
			ResolvedDependencies []struct {
				URI    string            `json:"uri"`
				Digest map[string]string `json:"digest"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Metadata struct {
				InvocationID string `json:"invocationId"`
			} `json:"metadata"`
		} `json:"runDetails"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("decode SLSA v1 predicate: %w", err)
	}
	wf := p.BuildDefinition.ExternalParameters.Workflow
	repo := repositoryFromURI(wf.Repository)
	if repo == "" {
		return nil, fmt.Errorf("SLSA v1 predicate names no workflow repository (%q)", wf.Repository)
	}
	out := &Provenance{Repository: repo, Workflow: wf.Path, Ref: wf.Ref, PredicateType: PredicateSLSAv1,
		RunID: runIDFrom(p.RunDetails.Metadata.InvocationID)}
	// The source is the dependency on the workflow's repository; the first
	// one with a commit when none names it.
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		if c := d.Digest["gitCommit"]; c != "" {
			if strings.EqualFold(repositoryFromURI(d.URI), repo) {
				out.Commit = c
				break
			}
			if out.Commit == "" {
				out.Commit = c
			}
		}
	}
	return out, nil
}

func slsaV02(raw json.RawMessage) (*Provenance, error) {
	var p struct {
		Invocation struct {
			ConfigSource struct {
				URI        string            `json:"uri"`
				Digest     map[string]string `json:"digest"`
				EntryPoint string            `json:"entryPoint"`
			} `json:"configSource"`
		} `json:"invocation"`
		Metadata struct {
			BuildInvocationID string `json:"buildInvocationId"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("decode SLSA v0.2 predicate: %w", err)
	}
	cs := p.Invocation.ConfigSource
	repo, ref := splitSourceURI(cs.URI)
	if repo == "" {
		return nil, fmt.Errorf("SLSA v0.2 predicate names no config source repository (%q)", cs.URI)
	}
	return &Provenance{Repository: repo, Workflow: cs.EntryPoint, Ref: ref, Commit: cs.Digest["sha1"],
		PredicateType: PredicateSLSAv02, RunID: runIDFrom(p.Metadata.BuildInvocationID)}, nil
}

// repositoryFromURI turns "https://github.com/o/r", "git+https://host/o/r@ref"
// or "git+https://host/o/r.git" into "o/r" ("" when it names no repository).
func repositoryFromURI(s string) string {
	repo, _ := splitSourceURI(s)
	return repo
}

// splitSourceURI splits "git+https://host/o/r@refs/tags/v1@x" into "o/r" and
// the ref after the first "@" of the path (a ref may itself hold an "@").
func splitSourceURI(s string) (repo, ref string) {
	u, err := url.Parse(strings.TrimPrefix(s, "git+"))
	if err != nil || u.Host == "" {
		return "", ""
	}
	path, ref, _ := strings.Cut(u.Path, "@")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", ""
	}
	return parts[0] + "/" + strings.TrimSuffix(parts[1], ".git"), ref
}

// runIDFrom reads the run id from ".../actions/runs/<id>/attempts/<n>" or
// "<id>-<attempt>".
func runIDFrom(s string) int64 {
	if i := strings.Index(s, "/actions/runs/"); i >= 0 {
		s = s[i+len("/actions/runs/"):]
		s, _, _ = strings.Cut(s, "/")
	} else {
		s, _, _ = strings.Cut(s, "-")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func isJSONNull(m json.RawMessage) bool {
	s := strings.TrimSpace(string(m))
	return s == "" || s == "null"
}

func containsProvenance(list []Provenance, p Provenance) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

// nextQuery is the query string of the Link header's rel="next" URL ("" on
// the last page). Only the query is kept: GitHub's links may name the org by
// id (/organizations/123/...), and a resumable cursor should not carry a host.
func nextQuery(resp *gh.Response) string {
	if resp == nil || resp.Response == nil {
		return ""
	}
	for _, v := range resp.Header.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			segs := strings.Split(part, ";")
			if len(segs) < 2 {
				continue
			}
			target := strings.Trim(strings.TrimSpace(segs[0]), "<>")
			for _, s := range segs[1:] {
				if strings.ReplaceAll(strings.TrimSpace(s), " ", "") == `rel="next"` {
					if u, err := url.Parse(target); err == nil {
						return u.RawQuery
					}
				}
			}
		}
	}
	return ""
}
