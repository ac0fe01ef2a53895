package defender

import (
	"encoding/json"
	"maps"
	"testing"
)

// The clusters Resource Graph lists, over the repository's sample answer
// and the shapes a real answer also takes (tags missing, a non-string
// value, a row that is no cluster).
func TestParseClusterResource(t *testing.T) {
	var answer struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(readSample(t, "clusters-resourcegraph.json"), &answer); err != nil || len(answer.Data) != 3 {
		t.Fatalf("sample: %v (%d rows)", err, len(answer.Data))
	}
	for _, tt := range []struct {
		row     string
		name    string
		tags    map[string]string
		wantErr bool
	}{
		{string(answer.Data[0]), "aks-prod-eus", map[string]string{"env": "prod", "costCenter": "shop"}, false},
		{string(answer.Data[1]), "aks-stg-weu", map[string]string{"env": "staging"}, false},
		{string(answer.Data[2]), "edge-store-17", nil, false},
		{`{"id":"/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerService/managedClusters/AKS-X"}`, "aks-x", nil, false},
		{`{"id":"/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerService/managedClusters/a","tags":{"tier":1,"x":null}}`, "a", map[string]string{"tier": "1", "x": ""}, false},
		{`{"id":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/st"}`, "", nil, true},
		{`{"name":"aks-prod-eus"}`, "", nil, true},
		{`[1]`, "", nil, true},
	} {
		c, err := ParseClusterResource([]byte(tt.row))
		if (err != nil) != tt.wantErr || c.Name != tt.name || !maps.Equal(c.Tags, tt.tags) {
			t.Errorf("%s: got %+v, %v; want %s %v (error %v)", tt.row, c, err, tt.name, tt.tags, tt.wantErr)
		}
	}
}
