package triage

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// racingStore lets another writer change one finding between a batch's
// read of it and its write.
type racingStore struct {
	Store
	id   string
	race func()
	once sync.Once
}

func (r *racingStore) SaveFinding(ctx context.Context, f *model.Finding, exists bool) (bool, error) {
	if f.ID == r.id {
		r.once.Do(r.race)
	}
	return r.Store.SaveFinding(ctx, f, exists)
}

// TestUpsertBatch: a batch links its findings to their stored peers both
// ways, applies several merges of one finding in order, keeps what another
// writer wrote between the batch's read and its write (the finding is
// replayed from a fresh read), and leaves the image's group with every
// finding.
func TestUpsertBatch(t *testing.T) {
	tr, _ := newTriage(t)
	ctx := ctxT(t)
	db := dbOf(tr)
	dep := dependabotFinding(t) // CVE-2022-25883 in wolfy1339/pika-pack
	upsert(t, tr, dep)
	image, repo := "ghcr.io/wolfy1339/pika-pack", "wolfy1339/pika-pack"
	cve := func(id string) model.Finding {
		return model.Finding{ID: model.ImageCVEFindingID(image, id), Repository: repo, Source: model.SourceDefenderCVE,
			State: model.StateOpen, Title: id, CVE: id, Severity: "medium", Image: image, Digests: []string{"sha256:" + strings.Repeat("cd", 32)}}
	}
	a, b := cve("CVE-2022-25883"), cve("CVE-2024-00001")
	upsert(t, tr, b) // stored before the batch: the racing writer changes it
	racing := *tr
	racing.Store = &racingStore{Store: tr.Store, id: b.ID, race: func() {
		if _, _, err := db.Findings.Update(ctx, repo, b.ID, func(f *model.Finding, _ bool) error {
			f.Description = "theirs"
			return nil
		}); err != nil {
			t.Error(err)
		}
	}}
	res, err := racing.UpsertBatch(ctx, []model.FindingMerge{
		{Repository: repo, ID: a.ID, Merge: put(a)},
		{Repository: repo, ID: b.ID, Merge: func(f *model.Finding, exists bool) error {
			if !exists {
				t.Error("the stored finding is not found")
			}
			f.Title = "mine"
			return nil
		}},
		{Repository: repo, ID: a.ID, Merge: func(f *model.Finding, exists bool) error {
			if !exists || f.Title != a.Title {
				t.Errorf("second merge of one finding sees exists=%v %+v, want the first merge's result", exists, f)
			}
			f.Severity = "high"
			return nil
		}},
		{Repository: repo, ID: "absent", Merge: func(*model.Finding, bool) error { return model.ErrSkip }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Found || !r.Applied || !r.Written || r.Finding == nil || r.Finding.Severity != "high" {
		t.Errorf("first merge of a: %+v", r)
	}
	if r := res[2]; !r.Found || !r.Applied || !r.Written {
		t.Errorf("second merge of a: %+v", r)
	}
	if r := res[1]; !r.Found || !r.Written {
		t.Errorf("merge of b: %+v", r)
	}
	if r := res[3]; r.Found || r.Applied || r.Written || r.Finding != nil {
		t.Errorf("skipped merge: %+v", r)
	}
	gotB := getFinding(t, tr, repo, b.ID)
	if gotB.Title != "mine" || gotB.Description != "theirs" {
		t.Errorf("b after a racing write: title %q description %q, want both writes", gotB.Title, gotB.Description)
	}
	gotA, gotDep := getFinding(t, tr, repo, a.ID), getFinding(t, tr, dep.Repository, dep.ID)
	if !slices.Equal(gotA.Related, []string{dep.ID}) || !slices.Equal(gotDep.Related, []string{a.ID}) {
		t.Errorf("related: defender %v, dependabot %v", gotA.Related, gotDep.Related)
	}
	g := getGroup(t, tr, repo, gotA.GroupID)
	if !slices.Equal(g.FindingIDs, []string{a.ID, b.ID}) && !slices.Equal(g.FindingIDs, []string{b.ID, a.ID}) {
		t.Errorf("group findings %v", g.FindingIDs)
	}
	if dg := getGroup(t, tr, dep.Repository, gotDep.GroupID); !strings.Contains(dg.Desired.Body, "CVE-2022-25883 on container image") {
		t.Errorf("the Dependabot alert's issue does not name the image finding:\n%s", dg.Desired.Body)
	}
}
