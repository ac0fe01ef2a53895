package alerts

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	short := "  a short advisory\n\n"
	if got := clip(short); got != "a short advisory" {
		t.Errorf("clip(short) = %q", got)
	}
	// A multi-byte character straddles the limit: the cut must not split it.
	long := strings.Repeat("a", maxDescription-1) + "é" + strings.Repeat("b", 100)
	got := clip(long)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "…") || len(got) > maxDescription+len("…") {
		t.Errorf("clip(long) = %d bytes, valid %v, suffix %q", len(got), utf8.ValidString(got), got[len(got)-5:])
	}
}

func TestRepositoryFromURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/Codertocat/hello-world":      "Codertocat/hello-world",
		"https://github.com/Codertocat/hello-world.git/": "Codertocat/hello-world",
		"https://ghe.example.com/team/app":               "team/app",
		"https://github.com/Codertocat":                  "",
		"https://github.com/a/b/tree/main":               "",
		"git@github.com:a/b.git":                         "",
		"":                                               "",
	} {
		if got := repositoryFromURL(in); got != want {
			t.Errorf("repositoryFromURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecode: whatever the body, every decoder answers without panicking,
// and an error is always one the webhook can map to a status (400 or 202).
func FuzzDecode(f *testing.F) {
	for _, rel := range []string{
		"code_scanning_alert/created.json", "code_scanning_alert/fixed.json", "dependabot_alert/created.json",
		"secret_scanning_alert/reopened.json", "registry_package/published.docker.json", "workflow_run/completed.json",
	} {
		b, err := readSample(rel)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"action":"created","repository":{"full_name":"o/r"},"alert":{"number":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range []string{EventCodeScanningAlert, EventDependabotAlert, EventSecretScanningAlert, EventSecretScanningAlertLocation} {
			a, err := Decode(e, b, received)
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAction) {
					t.Fatalf("%s: untyped error %v", e, err)
				}
				continue
			}
			if a.Finding.ID == "" || a.Finding.Repository == "" || a.Finding.AlertNumber <= 0 || a.Finding.State == "" || a.Finding.SourceUpdatedAt.IsZero() {
				t.Fatalf("%s: decoded an incomplete finding %+v", e, a.Finding)
			}
			if m, changed := Apply(&a.Finding, a.Finding); changed || m.ID != a.Finding.ID {
				t.Fatalf("%s: applying a finding to itself changed it", e)
			}
		}
		for _, dec := range []func([]byte) error{
			func(b []byte) error { _, err := DecodeRegistryPackage(b, received); return err },
			func(b []byte) error { _, err := DecodePackage(b, received); return err },
		} {
			if err := dec(b); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAction) && !errors.Is(err, ErrNotContainer) {
				t.Fatalf("package: untyped error %v", err)
			}
		}
		if _, err := DecodeWorkflowRun(b, received); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAction) {
			t.Fatalf("workflow_run: untyped error %v", err)
		}
	})
}

func TestFirstNonBlank(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"", " \t\n"}, ""},
		{[]string{"  ", " main ", "other"}, "main"},
		{[]string{"first", "second"}, "first"},
	}
	for _, tt := range tests {
		if got := FirstNonBlank(tt.in...); got != tt.want {
			t.Errorf("FirstNonBlank(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
