package githubtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// TestdataDir finds the repository's testdata/github folder by walking up
// from the test's working directory to the module root.
func TestdataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("githubtest: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "testdata", "github")
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("githubtest: module root %s has no testdata/github: %v", dir, err)
			}
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("githubtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Payload reads a webhook payload example, e.g. Payload(t, "dependabot_alert", "created.json").
func Payload(t testing.TB, event, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(TestdataDir(t), event, file))
	if err != nil {
		t.Fatalf("githubtest: read payload: %v", err)
	}
	return b
}

// alertTemplates: the webhook payload whose `alert` each source's REST
// alerts are built from.
var alertTemplates = map[model.Source][2]string{
	model.SourceCodeScanning:   {"code_scanning_alert", "created.json"},
	model.SourceDependabot:     {"dependabot_alert", "created.json"},
	model.SourceSecretScanning: {"secret_scanning_alert", "reopened.json"},
}

// GenerateAlerts returns n REST alerts of one source, built from the real
// webhook payload's `alert` object plus the `repository` the org-wide
// listing adds, spread over repos ("owner/name"; default
// "octo-org/hello-world"). Alert i has number i+1 and its own URLs and times.
func GenerateAlerts(t testing.TB, source model.Source, n int, repos ...string) []json.RawMessage {
	t.Helper()
	tpl, ok := alertTemplates[source]
	if !ok {
		t.Fatalf("githubtest: no alert template for source %q", source)
	}
	var payload struct {
		Alert      map[string]any `json:"alert"`
		Repository map[string]any `json:"repository"`
	}
	if err := json.Unmarshal(Payload(t, tpl[0], tpl[1]), &payload); err != nil {
		t.Fatalf("githubtest: decode %s/%s: %v", tpl[0], tpl[1], err)
	}
	if len(repos) == 0 {
		repos = []string{"octo-org/hello-world"}
	}
	seg := alertPaths[source]
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	severities := []string{"critical", "high", "medium", "low"}
	repoObjects := make(map[string]map[string]any, len(repos))
	for _, r := range repos {
		repoObjects[r] = repositoryFor(t, payload.Repository, r)
	}
	out := make([]json.RawMessage, n)
	for i := range n {
		repo := repos[i%len(repos)]
		number := i + 1
		a := deepCopy(t, payload.Alert)
		a["number"] = number
		a["url"] = fmt.Sprintf("https://api.github.com/repos/%s/%s/alerts/%d", repo, seg, number)
		a["html_url"] = fmt.Sprintf("https://github.com/%s/security/%s/%d", repo, seg, number)
		at := base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		a["created_at"] = at
		a["updated_at"] = at
		a["repository"] = repoObjects[repo] // shared: only marshalled
		switch source {
		case model.SourceCodeScanning:
			// The REST alert carries the most recent instance and the rule's
			// security severity (the webhook example predates them).
			if inst, ok := a["instances"].([]any); ok && len(inst) > 0 && a["most_recent_instance"] == nil {
				a["most_recent_instance"] = inst[0]
			}
			if rule, ok := a["rule"].(map[string]any); ok && rule["security_severity_level"] == nil {
				rule["security_severity_level"] = severities[i%len(severities)]
			}
			a["instances_url"] = fmt.Sprintf("https://api.github.com/repos/%s/code-scanning/alerts/%d/instances", repo, number)
		case model.SourceSecretScanning:
			// The webhook example is minimal; the REST alert has these.
			setDefault(a, "state", "open")
			setDefault(a, "secret_type_display_name", "Adafruit IO Key")
			setDefault(a, "validity", "unknown")
			setDefault(a, "locations_url", fmt.Sprintf("https://api.github.com/repos/%s/secret-scanning/alerts/%d/locations", repo, number))
			setDefault(a, "push_protection_bypassed", false)
			setDefault(a, "publicly_leaked", false)
			setDefault(a, "multi_repo", false)
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("githubtest: encode alert: %v", err)
		}
		out[i] = b
	}
	return out
}

func repositoryFor(t testing.TB, tpl map[string]any, fullName string) map[string]any {
	r := deepCopy(t, tpl)
	owner, name := fullName, fullName
	for i := range fullName {
		if fullName[i] == '/' {
			owner, name = fullName[:i], fullName[i+1:]
			break
		}
	}
	r["id"] = repoID(fullName)
	r["name"] = name
	r["full_name"] = fullName
	r["html_url"] = "https://github.com/" + fullName
	r["url"] = "https://api.github.com/repos/" + fullName
	if o, ok := r["owner"].(map[string]any); ok {
		o["login"] = owner
	}
	return r
}

func setDefault(m map[string]any, k string, v any) {
	if m[k] == nil {
		m[k] = v
	}
}

func deepCopy(t testing.TB, m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("githubtest: copy: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("githubtest: copy: %v", err)
	}
	return out
}
