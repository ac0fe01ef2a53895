package store_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// TestBatchReadsAndSave: a batch reads one partition's findings and groups
// in one query per thousand ids, only those of that partition, and writes
// back only what changed, under the ETag it read.
func TestBatchReadsAndSave(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for k := range 1005 {
		id := fmt.Sprintf("f%04d", k)
		if k%2 == 0 {
			f.put(&model.Finding{ID: id, Repository: "octo/app", Title: "t"})
		}
		ids = append(ids, id)
	}
	// The same id in another partition is not the batch's.
	f.put(&model.Finding{ID: "f0000", Repository: "octo/other", Title: "other"})
	fs, err := f.FindingsIn(f.ctx, "octo/app", ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 503 {
		t.Fatalf("FindingsIn = %d findings, want 503", len(fs))
	}
	for _, g := range fs {
		if g.Repository != "octo/app" || g.ETag == "" || g.ContentHash == "" || g.TS == 0 {
			t.Fatalf("FindingsIn returned %+v", g)
		}
	}
	if none, err := f.FindingsIn(f.ctx, "octo/app", nil); err != nil || len(none) != 0 {
		t.Errorf("FindingsIn(no ids) = %v, %v", none, err)
	}

	// Unchanged: nothing written. Changed: written under the ETag read.
	g := fs[0]
	if written, err := f.SaveFinding(f.ctx, &g, true); err != nil || written {
		t.Errorf("SaveFinding(unchanged) = %v, %v", written, err)
	}
	g.Title = "changed"
	if written, err := f.SaveFinding(f.ctx, &g, true); err != nil || !written {
		t.Fatalf("SaveFinding(changed) = %v, %v", written, err)
	}
	if got, _ := f.Finding(f.ctx, "octo/app", g.ID); got.Title != "changed" {
		t.Errorf("stored title %q", got.Title)
	}
	// Someone else wrote since the read: refused.
	stale := fs[1]
	if _, _, err := f.UpdateFinding(f.ctx, "octo/app", stale.ID, func(x *model.Finding, _ bool) error { x.Title = "theirs"; return nil }); err != nil {
		t.Fatal(err)
	}
	stale.Title = "mine"
	if _, err := f.SaveFinding(f.ctx, &stale, true); !errors.Is(err, model.ErrPreconditionFailed) {
		t.Errorf("SaveFinding over another write = %v, want ErrPreconditionFailed", err)
	}
	// New: created; created meanwhile by someone else: refused.
	if written, err := f.SaveFinding(f.ctx, &model.Finding{ID: "f0001", Repository: "octo/app"}, false); err != nil || !written {
		t.Errorf("SaveFinding(new) = %v, %v", written, err)
	}
	if _, err := f.SaveFinding(f.ctx, &model.Finding{ID: "f0001", Repository: "octo/app", Title: "again"}, false); !errors.Is(err, model.ErrPreconditionFailed) {
		t.Errorf("SaveFinding(new, exists) = %v, want ErrPreconditionFailed", err)
	}

	f.put(&model.Group{ID: "g1", Repository: "octo/app", FindingIDs: []string{"f0000"}, Desired: model.DesiredIssue{Body: "long"}},
		&model.Group{ID: "g2", Repository: "octo/app"}, &model.Group{ID: "g1", Repository: "octo/other"})
	gs, err := f.GroupMembers(f.ctx, "octo/app", []string{"g1", "g3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].ID != "g1" || gs[0].Repository != "octo/app" || len(gs[0].FindingIDs) != 1 || gs[0].TS == 0 || gs[0].Desired.Body != "" {
		t.Errorf("GroupMembers = %+v", gs)
	}
}
