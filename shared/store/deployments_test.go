package store_test

import (
	"reflect"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestWorkloadsNamed(t *testing.T) {
	f := newFixture(t)
	named := func(org, env, cluster, ns, name string) *model.Workload {
		return &model.Workload{ID: model.DeploymentWorkloadID(org, env, "", cluster, ns+"/"+name), Cluster: cluster,
			Namespace: ns, Name: name, Org: org, Environment: env, Status: model.WorkloadRunning}
	}
	f.put(
		named("octo-org", "production", "aks-1", "team", "svc"),
		named("octo-org", "staging", "aks-1", "team", "svc"),
		named("octo-org", "staging", "aks-1", "other", "svc"), // another namespace
		named("octo-org", "staging", "aks-2", "team", "svc"),  // another cluster
		&model.Workload{ID: model.WorkloadID("aks-1", "", "svc"), Cluster: "aks-1", Name: "svc", Status: model.WorkloadGone},
	)
	ws, err := f.WorkloadsNamed(f.ctx, "aks-1", "team", "svc")
	if err != nil {
		t.Fatal(err)
	}
	envs := ids(ws, func(w *model.Workload) string { return w.Environment })
	if !reflect.DeepEqual(envs, []string{"production", "staging"}) {
		t.Errorf("team/svc in aks-1: %v", envs)
	}
	ws, err = f.WorkloadsNamed(f.ctx, "aks-1", "", "svc")
	if err != nil || len(ws) != 1 || ws[0].Status != model.WorkloadGone {
		t.Errorf("svc without namespace: %+v, %v", ws, err)
	}
	if ws, err = f.WorkloadsNamed(f.ctx, "aks-9", "team", "svc"); err != nil || len(ws) != 0 {
		t.Errorf("unknown cluster: %+v, %v", ws, err)
	}
}
