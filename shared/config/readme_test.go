package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/config"
)

// The README's settings table is what operators read; every setting the
// handler reads must be in it, and it must name no setting that is gone.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	rows := map[string]bool{}
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| `") {
			name := strings.TrimPrefix(line, "| `")
			if i := strings.Index(name, "`"); i > 0 {
				rows[name[:i]] = true
			}
		}
	}
	known := map[string]bool{}
	for _, s := range config.Settings() {
		known[s.Name] = true
		if !rows[s.Name] {
			t.Errorf("README.md settings table lacks %s", s.Name)
		}
	}
	for name := range rows {
		if strings.ToUpper(name[:1]) == name[:1] && strings.ContainsAny(name, "_") && !known[name] && !strings.Contains(name, "/") {
			t.Errorf("README.md lists %s, which the handler does not read", name)
		}
	}
}
