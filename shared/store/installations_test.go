package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestInstallations(t *testing.T) {
	f := newFixture(t)
	install := func(org string, id int64, status model.InstallationStatus) {
		t.Helper()
		_, changed, err := f.UpdateInstallation(f.ctx, org, func(in *model.Installation, exists bool) error {
			in.ID, in.Org, in.InstallationID, in.Status = model.InstallationDocID(org), org, id, status
			return nil
		})
		if err != nil || !changed {
			t.Fatalf("UpdateInstallation(%s) = %v, %v", org, changed, err)
		}
	}
	install("Octo-Org", 11, model.InstallationActive)
	install("other", 12, model.InstallationActive)
	install("gone-org", 13, model.InstallationDeleted)

	for _, spelled := range []string{"Octo-Org", "octo-org", "OCTO-ORG"} {
		in, err := f.InstallationOf(f.ctx, spelled)
		if err != nil || in.InstallationID != 11 || in.Org != "Octo-Org" {
			t.Errorf("InstallationOf(%s) = %+v, %v", spelled, in, err)
		}
	}
	if _, err := f.InstallationOf(f.ctx, "nobody"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("InstallationOf(nobody) error = %v, want model.ErrNotFound", err)
	}

	var active []string
	if err := f.ActiveInstallations(f.ctx, func(in *model.Installation) error { active = append(active, in.Org); return nil }); err != nil {
		t.Fatal(err)
	}
	want(t, "ActiveInstallations", sorted(active), []string{"Octo-Org", "other"})

	in, changed, err := f.UpdateInstallation(f.ctx, "Octo-Org", func(in *model.Installation, exists bool) error {
		if !exists {
			t.Error("stored installation reported missing")
		}
		in.Backfill = map[string]string{"dependabot": "cursor-2"}
		return nil
	})
	if err != nil || !changed || in.Backfill["dependabot"] != "cursor-2" {
		t.Errorf("UpdateInstallation = %+v, %v, %v", in, changed, err)
	}
}

func TestDeliveries(t *testing.T) {
	f := newFixture(t)
	if seen, err := f.Delivered(f.ctx, "d-1"); err != nil || seen {
		t.Fatalf("Delivered(new) = %v, %v", seen, err)
	}
	at := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	if err := f.RecordDelivery(f.ctx, "d-1", "issues", at); err != nil {
		t.Fatal(err)
	}
	if err := f.RecordDelivery(f.ctx, "d-1", "issues", at); err != nil {
		t.Errorf("recording a delivery twice: %v", err)
	}
	if seen, err := f.Delivered(f.ctx, "d-1"); err != nil || !seen {
		t.Errorf("Delivered(recorded) = %v, %v", seen, err)
	}
	if seen, _ := f.Delivered(f.ctx, "d-2"); seen {
		t.Error("another delivery reported as seen")
	}
}

func TestGroupsOfIssue(t *testing.T) {
	f := newFixture(t)
	group := func(repo, id string, issue int) *model.Group {
		return &model.Group{ID: id, Repository: repo, Kind: "alert", Status: model.GroupActive, Synced: model.SyncedIssue{IssueNumber: issue}}
	}
	// g5's issue octo/app#9 was transferred: it is now Octo/Platform#3.
	moved := group("octo/app", "g5", 3)
	moved.Synced.IssueURL = "https://github.com/Octo/Platform/issues/3"
	f.put(group("octo/app", "g1", 7), group("octo/app", "g2", 8), group("octo/lib", "g3", 7), group("octo/app", "g4", 0), moved,
		group("octo/platform", "g6", 3))
	gs, err := f.GroupsOfIssue(f.ctx, "octo/app", 7)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(gs))
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	want(t, "GroupsOfIssue(octo/app#7)", ids, []string{"g1"})
	if gs, err := f.GroupsOfIssue(f.ctx, "octo/app", 99); err != nil || len(gs) != 0 {
		t.Errorf("GroupsOfIssue(no such issue) = %v, %v", gs, err)
	}
	// octo/app#3 is not g5's issue any more: it went to octo/platform.
	if gs, err := f.GroupsOfIssue(f.ctx, "octo/app", 3); err != nil || len(gs) != 0 {
		t.Errorf("GroupsOfIssue(octo/app#3, transferred away) = %v, %v", gs, err)
	}
	gs, err = f.GroupsOfMovedIssue(f.ctx, "octo/platform", 3)
	if err != nil || len(gs) != 1 || gs[0].ID != "g5" || gs[0].Repository != "octo/app" {
		t.Errorf("GroupsOfMovedIssue(octo/platform#3) = %v, %v; want g5 of octo/app", gs, err)
	}
	for _, miss := range []struct {
		repo string
		n    int
	}{{"octo/platform", 30}, {"octo/platfor", 3}, {"x-octo/platform", 3}, {"octo/app", 7}} {
		if gs, err := f.GroupsOfMovedIssue(f.ctx, miss.repo, miss.n); err != nil || len(gs) != 0 {
			t.Errorf("GroupsOfMovedIssue(%s#%d) = %v, %v; want none", miss.repo, miss.n, gs, err)
		}
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
