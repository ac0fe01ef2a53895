package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/registry"
	"github.com/runtimelink/runtimelink/shared/sampletest"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// demoInput is one thing the demo (infra/feed) or the nightly run feeds
// the app, applied the way its function applies it.
type demoInput struct {
	name  string
	apply func(ctx context.Context, inv *inventory.Inventory) error
}

// demoInputs are the bundled samples as make demo feeds them: the single
// and the per-cluster deployment records, the ACR push, every Defender
// export sample as one batch (testdata/defender and testdata/demo), and the
// Resource Graph attack path the nightly run pulls.
func demoInputs(t *testing.T) []demoInput {
	t.Helper()
	var records struct {
		Single  deployrecord.DeploymentRecord `json:"single"`
		Cluster deployrecord.ClusterRequest   `json:"cluster"`
	}
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "deployment-records.json"), &records); err != nil {
		t.Fatal(err)
	}
	push, err := registry.ParseEvent(sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var batch []defender.Record
	root := sampletest.Root(t)
	names, _ := filepath.Glob(filepath.Join(root, "testdata", "defender", "*.json"))
	more, _ := filepath.Glob(filepath.Join(root, "testdata", "demo", "*.json"))
	for _, n := range append(names, more...) {
		b := filepath.Base(n)
		if !strings.HasPrefix(b, "alert-") && !strings.HasPrefix(b, "assessment-") && !strings.HasPrefix(b, "subassessment-") {
			continue
		}
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		recs, errs := defender.ParseMessage(raw)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", b, errs)
		}
		batch = append(batch, recs...)
	}
	path := samplePath(t, nil)
	return []demoInput{
		{"deployment record", func(ctx context.Context, inv *inventory.Inventory) error {
			_, err := inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{records.Single})
			return err
		}},
		{"cluster deployment records", func(ctx context.Context, inv *inventory.Inventory) error {
			_, err := inv.ApplyCluster(ctx, "octo-org", "aks-stg-weu", records.Cluster)
			return err
		}},
		{"ACR push", func(ctx context.Context, inv *inventory.Inventory) error {
			_, err := inv.RecordImageEvent(ctx, push)
			return err
		}},
		{"Defender export batch", func(ctx context.Context, inv *inventory.Inventory) error {
			_, err := inv.IngestDefender(ctx, slices.Clone(batch))
			return err
		}},
		{"attack paths", func(ctx context.Context, inv *inventory.Inventory) error {
			_, err := inv.ApplyAttackPaths(ctx, []defender.AttackPath{path})
			return err
		}},
	}
}

// scored is what a finding's score rests on, as the report shows it.
func scored(f *model.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s %.2f %s deployed=%v risks=%v", f.Title, f.Repository, f.State, f.Score, f.Priority, f.Deployed, f.RuntimeRisks)
	for _, x := range f.Explanation.Factors {
		fmt.Fprintf(&b, "\n    %s %s%g (%g) %s", x.Name, x.Op, x.Value, x.Contribution, x.Source)
	}
	return b.String()
}

// runDemo applies inputs in the order given on a fresh store, with the
// app's triage scoring as it ingests, and returns the final findings.
func runDemo(t *testing.T, inputs []demoInput, order []int) (map[string]string, *model.Finding) {
	t.Helper()
	s, _ := inventorytest.Store(t)
	d := inventorytest.Deps(t, s, &inventorytest.Sync{})
	tri, err := d.Triage()
	if err != nil {
		t.Fatal(err)
	}
	inv := d.Inventory(tri)
	ctx := triage.WithCache(ctxT(t))
	for _, k := range order {
		if err := inputs[k].apply(ctx, inv); err != nil {
			t.Fatalf("%s: %v", inputs[k].name, err)
		}
	}
	out := map[string]string{}
	var dashboard *model.Finding
	fs := findingsIn(t, s, "")
	for i := range fs {
		out[fs[i].ID] = scored(&fs[i])
		if fs[i].RuleID == "K8S_ExposedDashboard" {
			dashboard = &fs[i]
		}
	}
	return out, dashboard
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// Order does not matter: every permutation of the demo inputs ends in the
// same findings with the same scores and explanations, and the Defender
// alert on the production cluster's dashboard is a production finding.
func TestEveryOrderOfTheDemoInputsScoresTheSame(t *testing.T) {
	inputs := demoInputs(t)
	perms := permutations(len(inputs))
	if testing.Short() {
		perms = perms[:6]
	}
	want, dashboard := runDemo(t, inputs, []int{0, 1, 2, 3, 4})
	if dashboard == nil {
		t.Fatal("no finding for the exposed dashboard alert")
	}
	if !dashboard.Deployed || dashboard.Priority.Rank() < model.PriorityMedium.Rank() || dashboard.Cluster != "aks-prod-eus" ||
		len(dashboard.Explanation.Factors) < 2 || !strings.HasPrefix(dashboard.Explanation.Factors[1].Source, "running in production: aks-prod-eus/") {
		t.Errorf("dashboard alert is not scored as a production finding on aks-prod-eus:\n%s", scored(dashboard))
	}
	for _, p := range perms[1:] {
		got, _ := runDemo(t, inputs, p)
		var names []string
		for _, k := range p {
			names = append(names, inputs[k].name)
		}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("order %s: finding %s\n  got  %s\n  want %s", strings.Join(names, " → "), id, got[id], w)
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("order %s: extra finding %s: %s", strings.Join(names, " → "), id, g)
			}
		}
		if t.Failed() {
			return
		}
	}
}
