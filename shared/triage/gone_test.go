package triage

import (
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// An image CVE is resolved by runtime when the last workload running its
// image is gone, and its group's issue is then due to close; it is active
// again as soon as a workload runs the image. A code alert of the
// repository is not about the image and stays open.
func TestLastWorkloadGoneResolvesItsImageCVEs(t *testing.T) {
	tr, rec := newTriage(t)
	ctx := ctxT(t)
	cve, alert := imageCVEAndCodeAlert(t)
	a := checkoutWorkload(t, true)
	b := a
	b.ID, b.Name = model.WorkloadID(a.Cluster, "shop", "checkout-api-canary"), "checkout-api-canary"
	change := func(before, after *model.Workload) {
		t.Helper()
		putWorkload(t, tr, *after)
		if _, err := tr.WorkloadChanged(ctx, before, after); err != nil {
			t.Fatal(err)
		}
	}
	change(nil, &a)
	change(nil, &b)
	cve.GroupID = upsert(t, tr, cve).GroupID
	upsert(t, tr, alert)
	if f := getFinding(t, tr, checkoutRepo, cve.ID); !f.Deployed || !f.State.Active() {
		t.Fatalf("before: deployed=%v state=%s", f.Deployed, f.State)
	}
	// The group has its issue.
	if _, _, err := dbOf(tr).Groups.Update(ctx, checkoutRepo, cve.GroupID, func(g *model.Group, _ bool) error {
		g.Synced.IssueNumber, g.Synced.Hash = 3, g.Desired.Hash
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	goneA, goneB := a, b
	goneA.Status, goneB.Status = model.WorkloadGone, model.WorkloadGone
	change(&a, &goneA)
	if f := getFinding(t, tr, checkoutRepo, cve.ID); !f.Deployed || !f.State.Active() {
		t.Fatalf("one workload still runs the image: deployed=%v state=%s", f.Deployed, f.State)
	}
	rec.reset()
	change(&b, &goneB)
	f := getFinding(t, tr, checkoutRepo, cve.ID)
	if f.Deployed || f.State != model.StateResolved || f.StateReason != model.ReasonWorkloadGone || f.SourceUpdatedAt.IsZero() {
		t.Fatalf("the last workload gone: deployed=%v state=%s/%s at %v", f.Deployed, f.State, f.StateReason, f.SourceUpdatedAt)
	}
	if a := getFinding(t, tr, checkoutRepo, alert.ID); !a.State.Active() {
		t.Errorf("the code alert was resolved with the image: %s/%s", a.State, a.StateReason)
	}
	if g := getGroup(t, tr, checkoutRepo, cve.GroupID); g.Desired.Open {
		t.Error("the group still wants an open issue")
	}
	if got := rec.groups(); len(got) == 0 || got[0] != cve.GroupID {
		t.Errorf("enqueued %v, want the image group's sync", got)
	}

	// The image runs again.
	change(&goneA, &a)
	if f := getFinding(t, tr, checkoutRepo, cve.ID); !f.Deployed || f.State != model.StateOpen || f.StateReason != "" {
		t.Errorf("running again: deployed=%v state=%s/%s", f.Deployed, f.State, f.StateReason)
	}
	if g := getGroup(t, tr, checkoutRepo, cve.GroupID); !g.Desired.Open {
		t.Error("running again, the group wants no issue")
	}
}
