package remediation

import (
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// A risk source is shown as the resource's name with a portal link in the
// configured cloud, never as its ARM id.
func TestExplanationShowsRiskSourcesByName(t *testing.T) {
	const (
		path       = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f"
		assessment = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourcegroups/rg-octo-prod/providers/microsoft.containerservice/managedclusters/aks-prod-eus/providers/microsoft.security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"
	)
	e := model.Explanation{Factors: []model.Factor{
		{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "cvss"},
		{Name: "deployment", Op: "x", Value: 1, Source: "running in production: aks-prod-eus/shop-checkout-api-api"},
		{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5,
			Source: "workload aks-prod-eus/shop-checkout-api-api via attack-path:" + path + ", defender-assessment:" + assessment + ", deployment-record"},
	}}
	for _, tt := range []struct {
		cloud mapping.Cloud
		want  string
	}{
		{mapping.CloudPublic, "workload aks-prod-eus/shop-checkout-api-api via [attack path 2c4e6f80](https://portal.azure.com/#resource" + path +
			"), [assessment c609cf0f on aks-prod-eus](https://portal.azure.com/#resource" + assessment + "), deployment-record"},
		{mapping.CloudChina, "via [attack path 2c4e6f80](https://portal.azure.cn/#resource" + path + ")"},
		{mapping.Cloud{}, "workload aks-prod-eus/shop-checkout-api-api via attack path 2c4e6f80, assessment c609cf0f on aks-prod-eus, deployment-record"},
	} {
		md := ExplanationMarkdown(e, 9, tt.cloud)
		if !strings.Contains(md, tt.want) {
			t.Errorf("%s: explanation\n%s\nlacks %q", tt.cloud, md, tt.want)
		}
		if strings.Contains(md, "attack-path:/subscriptions") || strings.Contains(md, "defender-assessment:/subscriptions") {
			t.Errorf("%s: explanation shows an ARM id as the source:\n%s", tt.cloud, md)
		}
		if lines := whereItRuns(&model.Finding{Explanation: e}, tt.cloud); len(lines) != 2 || !strings.Contains(lines[1], tt.want) {
			t.Errorf("%s: where it runs = %q", tt.cloud, lines)
		}
	}
}
