package github

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
)

const (
	testDigest  = "sha256:9b2c4a8f6d1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a"
	otherDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	testCommit  = "788437584c2522f27feab10d8e631bab3e9e783a"
)

func isAttestationGet(r githubtest.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Path, "/attestations/")
}

func newAttestations(e *env) *Attestations {
	return NewAttestations(AttestationOptions{Clock: e.clock, TTL: time.Hour, NegativeTTL: 5 * time.Minute,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
}

func TestAttestationProvenance(t *testing.T) {
	build := githubtest.Build{Digest: testDigest, Image: "ghcr.io/octo-org/app", Repository: "octo-org/app",
		Workflow: ".github/workflows/release.yml", Ref: "refs/heads/main", Commit: testCommit, RunID: 9876543210}
	want := Provenance{Repository: "octo-org/app", Workflow: ".github/workflows/release.yml", Ref: "refs/heads/main",
		Commit: testCommit, RunID: 9876543210}
	tests := []struct {
		name          string
		att           githubtest.Attestation
		predicateType string
	}{
		{"SLSA v1 inline bundle", githubtest.Attestation{Repository: "octo-org/app", Bundle: githubtest.ProvenanceBundle(t, build)}, PredicateSLSAv1},
		{"SLSA v0.2", githubtest.Attestation{Repository: "octo-org/app", Bundle: githubtest.ProvenanceBundle(t, withV02(build))}, PredicateSLSAv02},
		{"bundle only at bundle_url (Snappy)", githubtest.Attestation{Repository: "octo-org/app", Bundle: githubtest.ProvenanceBundle(t, build), OnlyByURL: true}, PredicateSLSAv1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Limits{})
			c := e.client(t, testInstallation)
			e.srv.AddAttestation("octo-org", testDigest, tt.att)
			a := newAttestations(e)
			got, err := a.Provenance(context.Background(), c, "octo-org", testDigest)
			if err != nil {
				t.Fatalf("Provenance: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("provenance = %+v, want one", got)
			}
			p := got[0]
			if p.RepositoryID == 0 || p.BundleURL == "" {
				t.Errorf("repository id / bundle url missing: %+v", p)
			}
			w := want
			w.PredicateType, w.RepositoryID, w.BundleURL = tt.predicateType, p.RepositoryID, p.BundleURL
			if p != w {
				t.Errorf("provenance = %+v\nwant         %+v", p, w)
			}
			// The second lookup is served from the cache.
			if _, err := a.Provenance(context.Background(), c, "octo-org", strings.ToUpper(testDigest[:6])+testDigest[6:]); err != nil {
				t.Fatal(err)
			}
			if n := e.srv.Count(isAttestationGet); n != 1 {
				t.Errorf("attestation requests = %d, want 1", n)
			}
		})
	}
}

func withV02(b githubtest.Build) githubtest.Build { b.SLSAv02 = true; return b }

// No attestation is an answer, not an error; it is kept for the negative TTL.
func TestAttestationNotFoundIsCachedBriefly(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	a := newAttestations(e)
	for range 2 {
		got, err := a.Provenance(context.Background(), c, "octo-org", testDigest)
		if err != nil || len(got) != 0 {
			t.Fatalf("Provenance = %v, %v; want none, no error", got, err)
		}
	}
	if n := e.srv.Count(isAttestationGet); n != 1 {
		t.Fatalf("requests = %d, want 1 (negative answer cached)", n)
	}
	// The build attests after a while: seen once the negative entry expires.
	e.srv.AddAttestation("octo-org", testDigest, githubtest.Attestation{Repository: "octo-org/app",
		Bundle: githubtest.ProvenanceBundle(t, githubtest.Build{Digest: testDigest, Repository: "octo-org/app",
			Workflow: ".github/workflows/build.yml", Ref: "refs/heads/main", Commit: testCommit})})
	e.clock.Advance(6 * time.Minute)
	got, err := a.Provenance(context.Background(), c, "octo-org", testDigest)
	if err != nil || len(got) != 1 || got[0].Repository != "octo-org/app" {
		t.Fatalf("after the negative TTL: %v, %v", got, err)
	}
}

func TestAttestationSkipsOtherSubjectsAndBadBundles(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	other := githubtest.ProvenanceBundle(t, githubtest.Build{Digest: otherDigest, Repository: "octo-org/other",
		Workflow: "w.yml", Ref: "refs/heads/main", Commit: testCommit})
	e.srv.AddAttestation("octo-org", testDigest, githubtest.Attestation{Repository: "octo-org/other", Bundle: other})
	// Provenance by its type, but a predicate that is not SLSA's shape.
	badStatement := `{"subject":[{"name":"img","digest":{"sha256":"` + strings.TrimPrefix(testDigest, "sha256:") +
		`"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":"oops"}}`
	bad, _ := json.Marshal(map[string]any{"dsseEnvelope": map[string]string{
		"payload": base64.StdEncoding.EncodeToString([]byte(badStatement)), "payloadType": "application/vnd.in-toto+json"}})
	e.srv.AddAttestation("octo-org", testDigest, githubtest.Attestation{Repository: "octo-org/app", Bundle: bad})
	good := githubtest.ProvenanceBundle(t, githubtest.Build{Digest: testDigest, Repository: "octo-org/app",
		Workflow: ".github/workflows/build.yml", Ref: "refs/tags/v1.2.0", Commit: testCommit})
	e.srv.AddAttestation("octo-org", testDigest, githubtest.Attestation{Repository: "octo-org/app", Bundle: good})

	var logs bytes.Buffer
	a := NewAttestations(AttestationOptions{Clock: e.clock, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	got, err := a.Provenance(context.Background(), c, "octo-org", testDigest)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Ref != "refs/tags/v1.2.0" {
		t.Fatalf("provenance = %+v, want only the good one", got)
	}
	if !strings.Contains(logs.String(), "skipping unreadable attestation") {
		t.Errorf("the bad bundle was not reported; logs: %s", logs.String())
	}
}

func TestAttestationRejectsBadInput(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	a := newAttestations(e)
	for _, tt := range []struct{ org, digest string }{
		{"octo-org", "sha256:abc"},
		{"octo-org", "md5:" + strings.Repeat("a", 64)},
		{"octo-org", testDigest + "/../../x"},
		{"octo/org", testDigest},
		{"", testDigest},
	} {
		if _, err := a.Provenance(context.Background(), c, tt.org, tt.digest); err == nil {
			t.Errorf("Provenance(%q, %q) accepted", tt.org, tt.digest)
		}
	}
	if n := e.srv.Count(isAttestationGet); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}

func TestProvenanceFromBundle(t *testing.T) {
	hex := strings.TrimPrefix(testDigest, "sha256:")
	envelope := func(statement string, payloadType string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"dsseEnvelope": map[string]any{
			"payload": base64.StdEncoding.EncodeToString([]byte(statement)), "payloadType": payloadType}})
		return b
	}
	subject := `"subject":[{"name":"img","digest":{"sha256":"` + hex + `"}}]`
	tests := []struct {
		name    string
		bundle  json.RawMessage
		want    *Provenance
		wantErr bool
	}{
		{
			name:   "v1 with a dependency on another repository first",
			bundle: envelope(`{"_type":"https://in-toto.io/Statement/v1",`+subject+`,"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"externalParameters":{"workflow":{"repository":"https://github.com/Octo-Org/App","path":".github/workflows/b.yml","ref":"refs/heads/main"}},"resolvedDependencies":[{"uri":"git+https://github.com/octo-org/shared-actions@refs/heads/main","digest":{"gitCommit":"aaaa"}},{"uri":"git+https://github.com/octo-org/app@refs/heads/main","digest":{"gitCommit":"bbbb"}}]},"runDetails":{"metadata":{"invocationId":"https://github.com/Octo-Org/App/actions/runs/42/attempts/2"}}}}`, payloadTypeInToto),
			want:   &Provenance{Repository: "Octo-Org/App", Workflow: ".github/workflows/b.yml", Ref: "refs/heads/main", Commit: "bbbb", RunID: 42, PredicateType: PredicateSLSAv1},
		},
		{
			name:   "v0.2 on GitHub Enterprise Server with an @ in the ref",
			bundle: envelope(`{`+subject+`,"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"invocation":{"configSource":{"uri":"git+https://ghe.example/octo/app.git@refs/tags/pkg@1.0","digest":{"sha1":"cccc"},"entryPoint":".github/workflows/r.yml"}},"metadata":{"buildInvocationId":"77-1"}}}`, payloadTypeInToto),
			want:   &Provenance{Repository: "octo/app", Workflow: ".github/workflows/r.yml", Ref: "refs/tags/pkg@1.0", Commit: "cccc", RunID: 77, PredicateType: PredicateSLSAv02},
		},
		{
			name:   "SBOM predicate is not provenance",
			bundle: envelope(`{`+subject+`,"predicateType":"https://spdx.dev/Document/v2.3","predicate":{}}`, payloadTypeInToto),
		},
		{
			name:   "statement about another digest",
			bundle: envelope(`{"subject":[{"name":"img","digest":{"sha256":"ffff"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`, payloadTypeInToto),
		},
		{name: "not in-toto", bundle: envelope(`{}`, "text/plain"), wantErr: true},
		{name: "no envelope", bundle: json.RawMessage(`{"mediaType":"x"}`), wantErr: true},
		{name: "v1 without repository", bundle: envelope(`{`+subject+`,"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`, payloadTypeInToto), wantErr: true},
		{name: "payload not JSON", bundle: envelope(`not json`, payloadTypeInToto), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := provenanceFromBundle(tt.bundle, testDigest)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("got %+v, want nothing", got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRunIDFrom(t *testing.T) {
	tests := map[string]int64{
		"https://github.com/o/r/actions/runs/123/attempts/1": 123,
		"https://github.com/o/r/actions/runs/456":            456,
		"789-2": 789,
		"":      0,
		"abc":   0,
	}
	for in, want := range tests {
		if got := runIDFrom(in); got != want {
			t.Errorf("runIDFrom(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestDecompressBundle(t *testing.T) {
	bundle := []byte(strings.Repeat(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`, 500))
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr string // in the error; "" for none
	}{
		{"encoded by the module", snappy.Encode(nil, bundle), string(bundle), ""},
		{"literal", []byte{5, 4 << 2, 'h', 'e', 'l', 'l', 'o'}, "hello", ""},
		// "abc" then a 1-byte-offset copy of 9 from 3 back: an overlapping run.
		{"copy1 overlapping", []byte{12, 2 << 2, 'a', 'b', 'c', 0x01 | (9-4)<<2, 3}, "abcabcabcabc", ""},
		{"copy2", []byte{6, 1 << 2, 'a', 'b', 0x02 | (4-1)<<2, 2, 0}, "ababab", ""},
		{"copy4", []byte{4, 1 << 2, 'x', 'y', 0x03 | (2-1)<<2, 2, 0, 0, 0}, "xyxy", ""},
		{"copy before start", []byte{4, 0x01 | 0<<2, 5}, "", "corrupt"},
		{"length mismatch", []byte{9, 1 << 2, 'a', 'b'}, "", "corrupt"},
		{"truncated literal", []byte{5, 4 << 2, 'h', 'e'}, "", "corrupt"},
		{"empty", nil, "", "snappy header"},
		{"unterminated length", []byte{0xff, 0xff}, "", "snappy header"},
		// A hostile header: 4 GiB announced in five bytes. Refused before
		// anything is allocated for it.
		{"4 GiB announced", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, "", "over the 16777216 allowed"},
		{"one byte over the cap", binary.AppendUvarint(nil, maxBundle+1), "", "announces 16777217 bytes"},
	}
	for _, tt := range tests {
		got, err := decompressBundle(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || string(got) != tt.want):
			t.Errorf("%s: decompressBundle = %.40q, %v; want %.40q", tt.name, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}

// The cap is checked before decoding: a header announcing more than the
// cap costs no allocation of that size.
func TestDecompressBundleAllocatesNothingForAHostileHeader(t *testing.T) {
	hostile := binary.AppendUvarint(nil, 1<<31)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := decompressBundle(hostile); err == nil {
			t.Fatal("a 2 GiB header was accepted")
		}
	}
	runtime.ReadMemStats(&after)
	// Process-wide, so leave room for other goroutines; one decode of the
	// announced size alone would be 2 GiB.
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("refusing 10 hostile headers allocated %d bytes", n)
	}
}
