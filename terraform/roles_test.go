package terraform_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/arm"
)

// roleActions reads the actions of the custom role runtimelink's identity
// gets on each subscription.
func roleActions(t *testing.T) []string {
	t.Helper()
	files, err := loadModule(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		toks := f.toks
		for i := 0; i+3 < len(toks); i++ {
			if !toks[i].is(tokIdent, "resource") || !toks[i+1].is(tokString, "azurerm_role_definition") || !toks[i+2].is(tokString, "runtimelink") {
				continue
			}
			end, err := matching(toks, i+3)
			if err != nil {
				t.Fatal(err)
			}
			for j := i + 3; j+2 < end; j++ {
				if toks[j].is(tokIdent, "actions") && toks[j+1].is(tokPunct, "=") {
					list, err := listStrings(toks[j+2 : end])
					if err != nil {
						t.Fatalf("%s: actions: %v", f.name, err)
					}
					return list
				}
			}
		}
	}
	t.Fatal("no azurerm_role_definition \"runtimelink\" with actions")
	return nil
}

// grants reports whether an ARM action pattern (with * wildcards) covers action.
func grants(pattern, action string) bool {
	re := "(?i)^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(action)
}

// The role grants what the governance calls need, and of governance
// assignments nothing more (runtimelink never deletes one).
func TestRoleGrantsExactlyTheGovernanceCalls(t *testing.T) {
	actions := roleActions(t)
	for _, need := range arm.Actions {
		if !slices.ContainsFunc(actions, func(p string) bool { return grants(p, need) }) {
			t.Errorf("the runtimelink role does not grant %s, which shared/arm calls", need)
		}
	}
	for _, extra := range []string{
		"Microsoft.Security/assessments/governanceAssignments/delete",
		"Microsoft.Security/governanceRules/write",
		"Microsoft.Security/assessments/write",
	} {
		for _, p := range actions {
			if grants(p, extra) {
				t.Errorf("the runtimelink role grants %s (through %q), which nothing calls", extra, p)
			}
		}
	}
}
