package mapping

import "testing"

// The legacy sub-assessment of testdata/defender names its registry only by
// resource id; the host it gets depends on the cloud.
const legacyRegistryID = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-octo-shared/providers/Microsoft.ContainerRegistry/registries/octoacr"

func TestACRLoginServerPerCloud(t *testing.T) {
	for _, tt := range []struct {
		cloud Cloud
		id    string
		want  string
	}{
		{CloudPublic, legacyRegistryID, "octoacr.azurecr.io"},
		{CloudUSGov, legacyRegistryID, "octoacr.azurecr.us"},
		{CloudChina, legacyRegistryID, "octoacr.azurecr.cn"},
		{CloudUSGov, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/OctoACR/providers/Microsoft.Security/assessments/x", "octoacr.azurecr.us"},
		{Cloud{}, legacyRegistryID, ""}, // no cloud configured: no guess
		{CloudPublic, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks", ""},
		{CloudPublic, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/", ""},
		{CloudPublic, "", ""},
	} {
		if got := tt.cloud.ACRLoginServer(tt.id); got != tt.want {
			t.Errorf("%s.ACRLoginServer(%q) = %q, want %q", tt.cloud, tt.id, got, tt.want)
		}
	}
}

func TestCloudOfARMEndpoint(t *testing.T) {
	for endpoint, want := range map[string]string{
		"https://management.azure.com/":         "AzureCloud",
		"https://management.azure.com":          "AzureCloud",
		"https://Management.UsGovCloudApi.net/": "AzureUSGovernment",
		"https://management.chinacloudapi.cn/":  "AzureChinaCloud",
		"http://127.0.0.1:8443/":                "",
		"management.azure.com":                  "",
	} {
		c, ok := CloudOfARMEndpoint(endpoint)
		if c.Name != want || ok != (want != "") {
			t.Errorf("CloudOfARMEndpoint(%q) = %q, %v; want %q", endpoint, c.Name, ok, want)
		}
	}
	for name, want := range map[string]string{"AzureUSGovernment": "AzureUSGovernment", "azurechinacloud": "AzureChinaCloud", " public ": "AzureCloud", "mars": ""} {
		if c, _ := ParseCloud(name); c.Name != want {
			t.Errorf("ParseCloud(%q) = %q, want %q", name, c.Name, want)
		}
	}
}

func TestPortalURLAndResourceName(t *testing.T) {
	const cluster = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-octo-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod-eus"
	for _, tt := range []struct {
		cloud      Cloud
		id, name   string
		portalLink string
	}{
		{CloudPublic, cluster, "aks-prod-eus", "https://portal.azure.com/#resource" + cluster},
		{CloudUSGov, cluster, "aks-prod-eus", "https://portal.azure.us/#resource" + cluster},
		{CloudChina, cluster + "/providers/Microsoft.Security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5",
			"assessment c609cf0f on aks-prod-eus", "https://portal.azure.cn/#resource" + cluster + "/providers/Microsoft.Security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"},
		{CloudPublic, "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f",
			"attack path 2c4e6f80", "https://portal.azure.com/#resource/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f"},
		{CloudPublic, legacyRegistryID + "/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648/subassessments/0f3c9a51-6d7e-4b2a-8c1d-5e6f7a8b9c0d",
			"sub-assessment 0f3c9a51 on octoacr", "https://portal.azure.com/#resource" + legacyRegistryID + "/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648/subassessments/0f3c9a51-6d7e-4b2a-8c1d-5e6f7a8b9c0d"},
		{Cloud{}, cluster, "aks-prod-eus", ""},
		{CloudPublic, "deployment-record", "deployment-record", ""},
	} {
		if got := ResourceName(tt.id); got != tt.name {
			t.Errorf("ResourceName(%q) = %q, want %q", tt.id, got, tt.name)
		}
		if got := tt.cloud.PortalURL(tt.id); got != tt.portalLink {
			t.Errorf("%s.PortalURL(%q) = %q, want %q", tt.cloud, tt.id, got, tt.portalLink)
		}
	}
}

func TestReadableSource(t *testing.T) {
	const (
		path       = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f"
		assessment = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourcegroups/rg-octo-prod/providers/microsoft.containerservice/managedclusters/aks-prod-eus/providers/microsoft.security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"
	)
	// The explanation source the demo's checkout-api CVEs carry.
	src := "workload aks-prod-eus/shop-checkout-api-api via " + RiskSourceAttackPathPrefix + path + ", " + RiskSourceAssessmentPrefix + assessment + ", deployment-record"
	got := ReadableSource(CloudUSGov, src)
	want := []SourcePart{
		{Text: "workload aks-prod-eus/shop-checkout-api-api via "},
		{Text: "attack path 2c4e6f80", URL: "https://portal.azure.us/#resource" + path},
		{Text: ", "},
		{Text: "assessment c609cf0f on aks-prod-eus", URL: "https://portal.azure.us/#resource" + assessment},
		{Text: ", deployment-record"},
	}
	if len(got) != len(want) {
		t.Fatalf("parts = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("part %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if txt := ReadableSourceText(src); txt != "workload aks-prod-eus/shop-checkout-api-api via attack path 2c4e6f80, assessment c609cf0f on aks-prod-eus, deployment-record" {
		t.Errorf("text = %q", txt)
	}
	// No cloud: names, no links; a hostile id: no link.
	for _, p := range ReadableSource(Cloud{}, src) {
		if p.URL != "" {
			t.Errorf("link without a cloud: %+v", p)
		}
	}
	if p := ReadableSource(CloudPublic, "via /subscriptions/x/providers/a/b/c\"><script>"); len(p) < 2 || p[1].URL != "" {
		t.Errorf("hostile id linked: %+v", p)
	}
	if p := ReadableSource(CloudPublic, "running in production: aks-prod-eus/shop-checkout-api-api"); len(p) != 1 || p[0].URL != "" {
		t.Errorf("plain source = %+v", p)
	}
}
