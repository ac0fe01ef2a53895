package inventory_test

import (
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// An explanation names an attack path by its display name (the Resource
// Graph answer's properties.displayName), linked to the path: people read
// what the path is, not its id. A path without one is named by its id.
func TestExplanationNamesTheAttackPath(t *testing.T) {
	const display = "Internet exposed Kubernetes pod is running a container with high severity vulnerabilities and has access to sensitive data"
	for _, tt := range []struct {
		name string
		edit func(m map[string]any)
		want string // the readable source of the internet-exposed factor
	}{
		{"the sample path", nil, "workload aks-prod-eus/shop-checkout-api-api via attack path “" + display + "”"},
		{"a name with quotes and line breaks", func(m map[string]any) {
			m["properties"].(map[string]any)["displayName"] = "Pod “exposed”\nto the internet"
		}, "workload aks-prod-eus/shop-checkout-api-api via attack path “Pod exposed to the internet”"},
		{"no display name", func(m map[string]any) { delete(m["properties"].(map[string]any), "displayName") },
			"workload aks-prod-eus/shop-checkout-api-api via attack path 2c4e6f80"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := ctxT(t)
			rec := sampleRecord(t)
			rec.RuntimeRisks = nil // only the path says internet-exposed
			if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.inv.ApplyAttackPaths(ctx, []defender.AttackPath{samplePath(t, tt.edit)}); err != nil {
				t.Fatal(err)
			}
			f := &model.Finding{Source: model.SourceDefenderCVE, Severity: "high"}
			res := scoring.Score(scoring.DefaultPolicy(), f, scoring.ContextOf(e.workloads(t)))
			var src string
			for _, x := range res.Explanation.Factors {
				if x.Name == string(model.RiskInternetExposed) {
					src = x.Source
				}
			}
			parts := mapping.ReadableSource(mapping.CloudPublic, src)
			if got := mapping.ReadableSourceText(src); got != tt.want {
				t.Errorf("readable source = %q, want %q", got, tt.want)
			}
			if len(parts) != 2 || !strings.HasPrefix(parts[1].URL, "https://portal.azure.com/#resource/subscriptions/") ||
				!strings.HasSuffix(parts[1].URL, "/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f") {
				t.Errorf("parts = %+v, want the path linked to its portal page", parts)
			}
		})
	}
}
