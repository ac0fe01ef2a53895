package defender

import (
	"reflect"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestAttackPathTargets(t *testing.T) {
	lowerCluster := strings.ToLower(clusterID)
	entities := func(t *testing.T, edit func(es []any) []any) AttackPath {
		t.Helper()
		row := attackPathRow(t)
		gc := row["properties"].(map[string]any)["graphComponent"].(map[string]any)
		if edit != nil {
			gc["entities"] = edit(gc["entities"].([]any))
		}
		p, err := ParseAttackPath(mustJSON(t, row))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	entity := func(id, name, typ, rid string) map[string]any {
		return map[string]any{"entityInternalID": id, "entityName": name, "entityType": typ,
			"entityIdentifiers": map[string]any{"azureResourceId": rid}}
	}
	for _, tt := range []struct {
		name string
		edit func(es []any) []any
		want []Target
	}{
		{"the sample: its pod, not its cluster; the storage account names no workload", nil,
			[]Target{{Kind: TargetWorkload, Cluster: "aks-prod-eus", ClusterResourceID: lowerCluster, Namespace: "shop", Name: "checkout-api", Entity: "aks-prod-eus/shop/checkout-api"}}},
		{"a cluster entity: the whole cluster", func(es []any) []any {
			return append(es, entity(clusterID, "aks-prod-eus", "KubernetesCluster", clusterID))
		}, []Target{
			{Kind: TargetWorkload, Cluster: "aks-prod-eus", ClusterResourceID: lowerCluster, Namespace: "shop", Name: "checkout-api", Entity: "aks-prod-eus/shop/checkout-api"},
			{Kind: TargetCluster, Cluster: "aks-prod-eus", ClusterResourceID: lowerCluster, Entity: clusterID},
		}},
		{"a container image entity: the image", func(es []any) []any {
			return []any{entity("octoacr.azurecr.io/checkout-api@sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
				"octoacr.azurecr.io/checkout-api:1.4.2", "ContainerImage", ""), es[1]}
		}, []Target{{Kind: TargetImage, Image: "octoacr.azurecr.io/checkout-api", Entity: "octoacr.azurecr.io/checkout-api@sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"}}},
		{"a pod entity without the cluster/namespace/name id: its name in the cluster", func(es []any) []any {
			return []any{entity("pod-7", "checkout-api", "KubernetesPod", clusterID)}
		}, []Target{{Kind: TargetWorkload, Cluster: "aks-prod-eus", ClusterResourceID: lowerCluster, Name: "checkout-api", Entity: "pod-7"}}},
		{"a pod entity naming no cluster at all is left out", func(es []any) []any {
			return []any{entity("pod-7", "checkout-api", "KubernetesPod", "")}
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := entities(t, tt.edit).Targets(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("targets =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestAlertResource(t *testing.T) {
	lowerCluster := strings.ToLower(clusterID)
	for _, tt := range []struct {
		file string
		want *model.Resource
	}{
		{"alert-pascal.json", &model.Resource{Kind: model.ResourceWorkload, Cluster: "aks-prod-eus", ResourceID: lowerCluster, Namespace: "kube-system", Name: "kubernetes-dashboard"}},
		{"alert-camel.json", &model.Resource{Kind: model.ResourcePod, Cluster: "aks-prod-eus", ResourceID: lowerCluster, Namespace: "shop", Name: "checkout-api-7c9d8f6b5-x2kqz"}},
	} {
		recs, errs := ParseMessage(readSample(t, tt.file))
		if len(errs) > 0 || len(recs) != 1 || recs[0].Alert == nil {
			t.Fatalf("%s: %v %v", tt.file, recs, errs)
		}
		if got := recs[0].Alert.Resource(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: resource = %+v, want %+v", tt.file, got, tt.want)
		}
	}
	if r := (&Alert{ResourceIDs: []string{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"}}).Resource(); r != nil {
		t.Errorf("storage account alert: resource = %+v, want none", r)
	}
}
