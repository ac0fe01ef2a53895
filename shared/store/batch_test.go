package store_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// saveCase is the write half of a batch's read-modify-writes on one kind
// of document: save writes it, set changes a text field that stored reads
// back from the store, other is another writer's update of the stored
// document, fresh a new document whose id exists once saved.
type saveCase[T any] struct {
	save   func(doc *T, exists bool) (bool, error)
	set    func(doc *T, v string)
	stored func(doc *T) string
	other  func(doc *T) error
	fresh  func() *T
}

// check: unchanged, nothing is written; changed, it is written under the
// ETag read; over another writer's write since the read, and as new over
// a document created meanwhile, it is refused (ErrPreconditionFailed).
func (c saveCase[T]) check(t *testing.T, name string, a, b T) {
	t.Helper()
	if written, err := c.save(&a, true); err != nil || written {
		t.Errorf("%s(unchanged) = %v, %v", name, written, err)
	}
	c.set(&a, "changed")
	if written, err := c.save(&a, true); err != nil || !written {
		t.Fatalf("%s(changed) = %v, %v", name, written, err)
	}
	if got := c.stored(&a); got != "changed" {
		t.Errorf("%s stored %q", name, got)
	}
	if err := c.other(&b); err != nil {
		t.Fatal(err)
	}
	c.set(&b, "mine")
	if _, err := c.save(&b, true); !errors.Is(err, model.ErrPreconditionFailed) {
		t.Errorf("%s over another write = %v, want ErrPreconditionFailed", name, err)
	}
	if written, err := c.save(c.fresh(), false); err != nil || !written {
		t.Errorf("%s(new) = %v, %v", name, written, err)
	}
	again := c.fresh()
	c.set(again, "again")
	if _, err := c.save(again, false); !errors.Is(err, model.ErrPreconditionFailed) {
		t.Errorf("%s(new, exists) = %v, want ErrPreconditionFailed", name, err)
	}
}

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

	saveCase[model.Finding]{
		save: func(g *model.Finding, exists bool) (bool, error) { return f.SaveFinding(f.ctx, g, exists) },
		set:  func(g *model.Finding, v string) { g.Title = v },
		stored: func(g *model.Finding) string {
			got, _ := f.Finding(f.ctx, g.Repository, g.ID)
			return got.Title
		},
		other: func(g *model.Finding) error {
			_, _, err := f.UpdateFinding(f.ctx, g.Repository, g.ID, func(x *model.Finding, _ bool) error { x.Title = "theirs"; return nil })
			return err
		},
		fresh: func() *model.Finding { return &model.Finding{ID: "f0001", Repository: "octo/app"} },
	}.check(t, "SaveFinding", fs[0], fs[1])

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
