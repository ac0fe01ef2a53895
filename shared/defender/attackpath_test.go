package defender

import (
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// attackPathRow is the first row of the Resource Graph sample answer.
func attackPathRow(t *testing.T) map[string]any {
	t.Helper()
	return sampleMap(t, "attackpaths-resourcegraph.json")["data"].([]any)[0].(map[string]any)
}

func TestParseAttackPathSample(t *testing.T) {
	p, err := ParseAttackPath(mustJSON(t, attackPathRow(t)))
	if err != nil {
		t.Fatal(err)
	}
	lowerCluster := strings.ToLower(clusterID)
	lowerStorage := strings.ToLower(sub + "/resourceGroups/rg-octo-prod/providers/Microsoft.Storage/storageAccounts/stoctopii")
	if p.ID != sub+"/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f" ||
		p.Name != "2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f" || p.RiskLevel != "critical" ||
		!strings.HasPrefix(p.DisplayName, "Internet exposed Kubernetes pod") ||
		!slices.Equal(p.RiskFactors, []model.RiskFactor{model.RiskInternetExposed, model.RiskLateralMovement, model.RiskSensitiveData}) ||
		!slices.Equal(p.Factors, []string{"Internet exposure", "Sensitive data", "Lateral movement"}) ||
		!slices.Equal(p.RiskCategories, []string{"Data exposure"}) ||
		p.EntryPoint != "aks-prod-eus/shop/checkout-api" || p.Target != "stoctopii" ||
		p.EntryPointResourceID != lowerCluster || p.TargetResourceID != lowerStorage ||
		!slices.Equal(p.ResourceIDs, []string{lowerCluster, lowerStorage}) || len(p.Entities) != 2 ||
		p.Entities[0] != (Entity{InternalID: "aks-prod-eus/shop/checkout-api", Name: "checkout-api", Type: "KubernetesPod", ResourceID: lowerCluster}) {
		t.Errorf("attack path = %+v", p)
	}
}

func TestParseAttackPathVariations(t *testing.T) {
	t.Run("entity ids spelled Id, entity without resource", func(t *testing.T) {
		row := attackPathRow(t)
		set(row, "properties.entryPointEntityInternalId", "vm-jump")
		del(row, "properties.entryPointEntityInternalID")
		set(row, "properties.graphComponent.entities", []any{
			map[string]any{"entityInternalId": "vm-jump", "entityName": "vm-jump", "entityType": "VirtualMachine",
				"entityIdentifiers": map[string]any{"azureResourceId": sub + "/resourceGroups/RG-Ops/providers/Microsoft.Compute/virtualMachines/VM-Jump"}},
			map[string]any{"entityInternalId": "internet", "entityName": "Internet", "entityType": "Internet"},
		})
		p, err := ParseAttackPath(mustJSON(t, row))
		if err != nil {
			t.Fatal(err)
		}
		vm := strings.ToLower(sub + "/resourceGroups/RG-Ops/providers/Microsoft.Compute/virtualMachines/VM-Jump")
		if p.EntryPoint != "vm-jump" || p.EntryPointResourceID != vm || !slices.Equal(p.ResourceIDs, []string{vm}) ||
			p.TargetResourceID != "" || len(p.Entities) != 2 || p.Entities[1].ResourceID != "" {
			t.Errorf("attack path = %+v", p)
		}
	})
	for name, raw := range map[string]string{
		"no id":      `{"type":"microsoft.security/attackpaths","properties":{}}`,
		"not JSON":   `{"id":`,
		"not object": `["x"]`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseAttackPath([]byte(raw)); err == nil {
				t.Errorf("%s accepted", raw)
			}
		})
	}
}
