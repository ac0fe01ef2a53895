package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/runtimelink/runtimelink/shared/clocktest"
	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/resourcegraph"
	"github.com/runtimelink/runtimelink/shared/store"
)

// seedImageFindings stores n CVE findings on the checkout image, scored.
func seedImageFindings(t testing.TB, tr *Triage, n int) []model.Finding {
	t.Helper()
	base := cveFindings(t, "defender/subassessment-mdvm.json", checkoutRepo)[0]
	ctx := WithCache(ctxT(t))
	var out []model.Finding
	for i := range n {
		f := base
		f.CVE = fmt.Sprintf("CVE-2024-%05d", i)
		f.ID = model.ImageCVEFindingID(f.Image, f.CVE)
		f.Title = f.CVE
		f.Aliases = []string{f.CVE}
		got, _, err := tr.Upsert(ctx, f.Repository, f.ID, put(f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *got)
	}
	return out
}

// newClockedTriage is newTriage on a fake clock that starts now.
func newClockedTriage(t testing.TB) (*Triage, *syncRecorder, *clocktest.Clock) {
	t.Helper()
	tr, rec := newTriage(t)
	clk := clocktest.New(time.Now().UTC())
	tr.Now = clk.Now
	return tr, rec, clk
}

func TestReprioritizeWritesOnlyWhatChanged(t *testing.T) {
	tr, rec := newTriage(t)
	ctx := ctxT(t)
	w := checkoutWorkload(t, false)
	putWorkload(t, tr, w)
	cves := seedImageFindings(t, tr, 12)
	// Findings of another image, not touched by the change below.
	other := cveFindings(t, "defender/subassessment-legacy.json", "octo-org/billing")[0]
	other.Image, other.Digests = "octoacr.azurecr.io/billing", []string{"sha256:" + strings.Repeat("ef", 32)}
	other.ID = model.ImageCVEFindingID(other.Image, other.CVE)
	otherStored := upsert(t, tr, other)
	rec.reset()

	// Nothing changed since the findings were scored: no writes at all.
	st, err := tr.Reprioritize(ctx, SweepOptions{PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	// The image group wants an issue and was never synced: drift.
	if st.Scanned != 13 || st.Changed != 0 || st.Enqueued != 0 || st.Drift != 1 || !st.Complete || st.Errors != 0 {
		t.Fatalf("idle run = %+v", st)
	}
	// The priority mix counts every open finding scanned, by its priority.
	wantMix := map[string]int{}
	for _, f := range append(append([]model.Finding{}, cves...), *otherStored) {
		if f.State.Active() {
			wantMix[string(f.Priority)]++
		}
	}
	if fmt.Sprint(st.OpenByPriority) != fmt.Sprint(wantMix) || len(wantMix) == 0 {
		t.Fatalf("open by priority = %v, want %v", st.OpenByPriority, wantMix)
	}
	rec.reset()

	// The workload gains sensitive data behind the app's back (no
	// WorkloadChanged call): the nightly run catches up.
	w.Risks = mapping.MergeRisks(w.Risks, []model.Risk{{Factor: model.RiskSensitiveData, Source: "defender-assessment:x"}})
	putWorkload(t, tr, w)
	st, err = tr.Reprioritize(ctx, SweepOptions{PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Its findings span three pages; the group is refreshed once and enqueued
	// once, and drift does not enqueue it a second time.
	if st.Scanned != 13 || st.Changed != 12 || st.GroupsRefreshed != 1 || st.Enqueued != 1 || st.Drift != 0 {
		t.Fatalf("run after the change = %+v", st)
	}
	for _, f := range cves {
		got := getFinding(t, tr, checkoutRepo, f.ID)
		if !slices.Contains(got.RuntimeRisks, model.RiskSensitiveData) || got.Score != 10 {
			t.Errorf("%s not re-scored: %v %v", f.ID, got.Score, got.RuntimeRisks)
		}
	}
	if got := getFinding(t, tr, other.Repository, other.ID); got.ETag != otherStored.ETag {
		t.Error("an unaffected finding was rewritten")
	}
	if got := rec.groups(); !slices.Equal(got, []string{cves[0].GroupID}) {
		t.Errorf("enqueued %v, want the image group once", got)
	}
	l, err := dbOf(tr).Leases.Get(ctx, LeaseID, LeaseID)
	if err != nil || l.Holder != "" || l.Cursor != "" {
		t.Errorf("lease after a complete run = %+v, %v", l, err)
	}
}

func TestReprioritizeLease(t *testing.T) {
	tr, _, clk := newClockedTriage(t)
	ctx := ctxT(t)
	seedImageFindings(t, tr, 2)
	held := model.Lease{ID: LeaseID, Holder: "other-instance", Expires: clk.Now().Add(5 * time.Minute)}
	if _, err := dbOf(tr).Leases.Put(ctx, &held); err != nil {
		t.Fatal(err)
	}
	st, err := tr.Reprioritize(ctx, SweepOptions{Holder: "me"})
	if err != nil || !st.LeaseHeld || st.Scanned != 0 {
		t.Fatalf("with the lease held: %+v, %v", st, err)
	}
	if l, _ := dbOf(tr).Leases.Get(ctx, LeaseID, LeaseID); l.Holder != "other-instance" {
		t.Errorf("lease taken: %+v", l)
	}
	// The other instance died: its lease expires and this run takes over.
	clk.Advance(6 * time.Minute)
	st, err = tr.Reprioritize(ctx, SweepOptions{Holder: "me"})
	if err != nil || st.LeaseHeld || st.Scanned != 2 || !st.Complete {
		t.Fatalf("after expiry: %+v, %v", st, err)
	}
}

func TestReprioritizeStopsAtItsBudgetAndResumes(t *testing.T) {
	tr, _, clk := newClockedTriage(t)
	ctx := ctxT(t)
	putWorkload(t, tr, checkoutWorkload(t, false))
	seedImageFindings(t, tr, 23)

	// The first page takes the whole budget.
	budget := 4 * time.Minute
	st, err := tr.Reprioritize(ctx, SweepOptions{Holder: "run-1", MaxRuntime: budget, PageSize: 10, Progress: func(SweepStats) { clk.Advance(budget) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Scanned != 10 || st.Complete {
		t.Fatalf("first run = %+v, want 10 scanned, not complete", st)
	}
	l, err := dbOf(tr).Leases.Get(ctx, LeaseID, LeaseID)
	if err != nil || l.Cursor == "" || l.Holder != "" {
		t.Fatalf("lease after stopping = %+v, %v; want a cursor, released", l, err)
	}

	clk.Advance(time.Hour)
	st, err = tr.Reprioritize(ctx, SweepOptions{Holder: "run-2", MaxRuntime: budget, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Resumed || !st.Complete || st.Scanned != 13 {
		t.Fatalf("second run = %+v, want it to resume and scan the 13 left", st)
	}
	if l, _ := dbOf(tr).Leases.Get(ctx, LeaseID, LeaseID); l.Cursor != "" {
		t.Errorf("cursor kept after a complete run: %q", l.Cursor)
	}
}

func TestReprioritizeStartsOverOnARejectedCursor(t *testing.T) {
	tr, _ := newTriage(t)
	ctx := ctxT(t)
	seedImageFindings(t, tr, 3)
	if _, err := dbOf(tr).Leases.Put(ctx, &model.Lease{ID: LeaseID, Cursor: "!!not-a-cursor"}); err != nil {
		t.Fatal(err)
	}
	st, err := tr.Reprioritize(ctx, SweepOptions{})
	if err != nil || st.Scanned != 3 || !st.Complete || st.Resumed {
		t.Fatalf("= %+v, %v", st, err)
	}
}

func TestReprioritizeReenqueuesDrift(t *testing.T) {
	tr, rec, clk := newClockedTriage(t)
	ctx := ctxT(t)
	now := clk.Now()
	groups := []model.Group{
		{ID: "alert:behind", Repository: "o/r", Desired: model.DesiredIssue{Open: true, Hash: "h2"}, Synced: model.SyncedIssue{IssueNumber: 1, Hash: "h1", At: now}},
		{ID: "alert:never-synced", Repository: "o/r", Desired: model.DesiredIssue{Open: true, Hash: "h"}},
		{ID: "alert:closed-no-issue", Repository: "o/r", Desired: model.DesiredIssue{Hash: "h"}},
		{ID: "alert:in-step", Repository: "o/s", Desired: model.DesiredIssue{Open: true, Hash: "h"}, Synced: model.SyncedIssue{IssueNumber: 2, Hash: "h", At: now.Add(-time.Hour)}},
		{ID: "alert:old-sync", Repository: "o/s", Desired: model.DesiredIssue{Open: true, Hash: "h"}, Synced: model.SyncedIssue{IssueNumber: 3, Hash: "h", At: now.Add(-30 * 24 * time.Hour)}},
	}
	for i := range groups {
		if _, err := dbOf(tr).Groups.Put(ctx, &groups[i]); err != nil {
			t.Fatal(err)
		}
	}
	st, err := tr.Reprioritize(ctx, SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.groups()
	slices.Sort(got)
	if want := []string{"alert:behind", "alert:never-synced", "alert:old-sync"}; !slices.Equal(got, want) || st.Drift != 3 {
		t.Errorf("drift enqueued %v (%d), want %v", got, st.Drift, want)
	}
}

// resourceGraph is a Resource Graph endpoint speaking the wire format:
// POST /providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01
// with a bearer token, answering the sample attack path and the sample
// clusters with their tags.
func resourceGraph(t *testing.T) *httptest.Server {
	paths, clusters := testdata(t, "defender/attackpaths-resourcegraph.json"), testdata(t, "defender/clusters-resourcegraph.json")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/providers/Microsoft.ResourceGraph/resources" || r.URL.Query().Get("api-version") != resourcegraph.APIVersion {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer test-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req struct {
			Subscriptions []string `json:"subscriptions"`
			Query         string   `json:"query"`
		}
		b, _ := io.ReadAll(r.Body)
		body := paths
		switch {
		case json.Unmarshal(b, &req) != nil:
			t.Errorf("request body %s", b)
		case req.Query == defender.ClustersQuery:
			body = clusters
		case !strings.Contains(req.Query, "microsoft.security/attackpaths"):
			t.Errorf("request body %s", b)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestReprioritizeAppliesAttackPaths(t *testing.T) {
	tr, _ := newTriage(t)
	ctx := ctxT(t)
	srv := resourceGraph(t)
	graph, err := resourcegraph.NewClient(staticToken{}, resourcegraph.Options{
		Endpoint: srv.URL, Subscriptions: []string{"6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"},
		ClientOptions: policy.ClientOptions{Transport: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	pod := checkoutWorkload(t, false)
	cart := pod
	cart.ID, cart.Name = model.WorkloadID(pod.Cluster, "shop", "cart"), "cart"
	cart.Image, cart.Digest = "octoacr.azurecr.io/cart", "sha256:"+strings.Repeat("0c", 32)
	cart.Risks = append(slices.Clone(cart.Risks), model.Risk{Factor: model.RiskCriticalResource, Source: mapping.RiskSourceAttackPathPrefix + "/old"})
	putWorkload(t, tr, pod)
	putWorkload(t, tr, cart)
	cve := upsert(t, tr, cveFindings(t, "defender/subassessment-legacy.json", checkoutRepo)[0])
	if cve.Score != 6.8 {
		t.Fatalf("before: %v", cve.Score)
	}

	applier := inventory.New(tr.Store.(*store.Store), tr, queue.RecordSyncs{Sync: tr.Sync.(*syncRecorder)}, nil, nil)
	applier.Clusters = tr.Store.(*store.Store)
	st, err := tr.Reprioritize(ctx, SweepOptions{AttackPaths: graph, Applier: applier})
	if err != nil {
		t.Fatal(err)
	}
	// The clusters' ARM tags, for the production rule.
	if c, err := tr.Store.(*store.Store).Cluster(ctx, "aks-prod-eus"); err != nil || c == nil || c.Tags["env"] != "prod" {
		t.Errorf("cluster aks-prod-eus after the run: %+v, %v; want its tags from Resource Graph", c, err)
	}
	if st.WorkloadsUpdated != 2 {
		t.Errorf("workloads updated = %d, want 2 (%+v)", st.WorkloadsUpdated, st)
	}
	got, err := dbOf(tr).Workloads.Get(ctx, pod.Cluster, pod.ID)
	if err != nil {
		t.Fatal(err)
	}
	path := "attack-path:/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f"
	for _, f := range []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData, model.RiskLateralMovement} {
		if !slices.ContainsFunc(got.Risks, func(r model.Risk) bool { return r.Factor == f && r.Source == path && r.SourceName != "" }) {
			t.Errorf("pod lacks %s from the attack path: %v", f, got.Risks)
		}
	}
	// The stale path's risk is gone from the other workload of the cluster.
	c, _ := dbOf(tr).Workloads.Get(ctx, cart.Cluster, cart.ID)
	if slices.ContainsFunc(c.Risks, func(r model.Risk) bool { return r.Source == mapping.RiskSourceAttackPathPrefix+"/old" }) {
		t.Errorf("cart keeps a stale attack-path risk: %v", c.Risks)
	}
	// 5.3 + internet-exposed 1.5 + sensitive-data 1 + lateral-movement 0.75.
	if f := getFinding(t, tr, checkoutRepo, cve.ID); f.Score != 8.55 || !slices.Contains(f.RuntimeRisks, model.RiskLateralMovement) {
		t.Errorf("CVE after the attack path: %v %v", f.Score, f.RuntimeRisks)
	}
	// A second run finds nothing new.
	st, err = tr.Reprioritize(ctx, SweepOptions{AttackPaths: graph, Applier: applier})
	if err != nil || st.WorkloadsUpdated != 0 || st.Changed != 0 {
		t.Errorf("second run = %+v, %v", st, err)
	}
}
