package triage

import (
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

func codeScanningAlert(number int) model.Finding {
	return model.Finding{ID: model.GHASFindingID(model.SourceCodeScanning, checkoutRepo, number), Repository: checkoutRepo,
		Source: model.SourceCodeScanning, State: model.StateOpen, AlertNumber: number, Title: "SQL injection",
		RuleID: "go/sql-injection", Severity: "high"}
}

// The process-wide runtime cache serves a repository's context for
// RuntimeTTL: a workload written behind this process's back is not seen
// (the documented trade-off), one announced through WorkloadChanged is,
// at once, and so is every workload once the TTL has passed.
func TestRuntimeCache(t *testing.T) {
	tr, _ := newTriage(t)
	tr.RuntimeTTL = time.Hour
	ctx := ctxT(t)
	if f := upsert(t, tr, codeScanningAlert(1)); f.Deployed {
		t.Fatalf("alert 1 deployed before any workload")
	}

	w := checkoutWorkload(t, true)
	putWorkload(t, tr, w) // written by "another instance": no WorkloadChanged here
	if f := upsert(t, tr, codeScanningAlert(2)); f.Deployed {
		t.Errorf("alert 2 saw a workload the cache should hide for the TTL")
	}
	other := *tr // another Triage of the process on the same store shares the cache
	other.RuntimeTTL = time.Nanosecond
	if f := upsert(t, &other, codeScanningAlert(3)); !f.Deployed {
		t.Errorf("alert 3: an expired entry was served")
	}

	if _, err := tr.WorkloadChanged(ctx, nil, &w); err != nil {
		t.Fatal(err)
	}
	if f := upsert(t, tr, codeScanningAlert(4)); !f.Deployed || f.Score != 10 {
		t.Errorf("alert 4 after WorkloadChanged: deployed=%v score %v, want the workload's context", f.Deployed, f.Score)
	}
	for _, n := range []int{1, 2} { // re-scored by WorkloadChanged
		if f := getFinding(t, tr, checkoutRepo, codeScanningAlert(n).ID); !f.Deployed {
			t.Errorf("alert %d not re-scored by WorkloadChanged", n)
		}
	}

	// RuntimeChanged (artifact writers) clears it as well.
	w2 := w
	w2.Status = model.WorkloadGone
	putWorkload(t, tr, w2)
	RuntimeChanged(tr.Store)
	if f := upsert(t, tr, codeScanningAlert(5)); f.Deployed {
		t.Errorf("alert 5 after RuntimeChanged still sees the gone workload")
	}
}

// A load that started before a clear is not cached: it may hold the
// runtime from before the change.
func TestRuntimeCacheDropsLoadsThatRacedAClear(t *testing.T) {
	c := &runtimeCache{m: map[string]runtimeEntry{}}
	gen := c.generation()
	c.clear()
	loaded := time.Now()
	c.put("repo|a/b", []model.Workload{{ID: "w"}}, gen, loaded)
	if _, ok := c.get("repo|a/b", loaded.Add(-time.Hour)); ok {
		t.Error("a load older than the clear was kept")
	}
	c.put("repo|a/b", []model.Workload{{ID: "w"}}, c.generation(), loaded)
	if ws, ok := c.get("repo|a/b", loaded.Add(-time.Hour)); !ok || len(ws) != 1 {
		t.Errorf("get = %v, %v", ws, ok)
	}
	if _, ok := c.get("repo|a/b", loaded.Add(time.Millisecond)); ok {
		t.Error("an expired entry was served")
	}
}

// The group of a new finding, created without reading the group and the
// group's findings, is exactly what the guarded RefreshGroup computes, and
// its sync is enqueued once.
func TestCreatedAlertGroupMatchesRefresh(t *testing.T) {
	for _, f := range []model.Finding{codeScanningAlert(1), dependabotFinding(t)} {
		t.Run(string(f.Source), func(t *testing.T) {
			tr, rec := newTriage(t)
			deployed := f.Repository == checkoutRepo
			if deployed {
				putWorkload(t, tr, checkoutWorkload(t, true)) // the alert rises to an open issue
			}
			got := upsert(t, tr, f)
			g := getGroup(t, tr, got.Repository, got.GroupID)
			if g.Kind != GroupKindAlert || len(g.FindingIDs) != 1 || g.FindingIDs[0] != got.ID || g.Status != model.GroupActive {
				t.Fatalf("group %+v", g)
			}
			if g.Desired.Open != deployed {
				t.Errorf("desired open=%v, want %v", g.Desired.Open, deployed)
			}
			if want := map[bool]int{true: 1, false: 0}[g.Desired.Open]; len(rec.groups()) != want {
				t.Errorf("enqueued %v, want %d sync (open=%v)", rec.groups(), want, g.Desired.Open)
			}
			before := g.ContentHash
			enqueued, err := tr.RefreshGroup(ctxT(t), got.Repository, got.GroupID)
			if err != nil || enqueued {
				t.Errorf("RefreshGroup = %v, %v: the created group differs from the refreshed one", enqueued, err)
			}
			if after := getGroup(t, tr, got.Repository, got.GroupID); after.ContentHash != before {
				t.Errorf("RefreshGroup rewrote the group:\n%+v\n%+v", g.Desired, after.Desired)
			}
			// The same event again (a retry) writes and enqueues nothing.
			rec.reset()
			if _, changed, err := tr.Upsert(ctxT(t), f.Repository, f.ID, put(f)); err != nil || changed || len(rec.groups()) != 0 {
				t.Errorf("retry: changed=%v err=%v enqueued %v", changed, err, rec.groups())
			}
		})
	}
}
