package store_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

func TestFindingQueries(t *testing.T) {
	f := newFixture(t)
	mk := func(repo, id string, src model.Source, cve, ghsa, group string, state model.FindingState) *model.Finding {
		return &model.Finding{ID: id, Repository: repo, Source: src, CVE: cve, GHSA: ghsa, GroupID: group, State: state, Image: "acr.io/app"}
	}
	f.put(
		mk("Octo/App", "dep1", model.SourceDependabot, "CVE-1", "GHSA-aaaa", "alert:dep1", model.StateOpen),
		mk("Octo/App", "dep2", model.SourceDependabot, "", "GHSA-bbbb", "alert:dep2", model.StateFixed),
		mk("octo/app", "cve1", model.SourceDefenderCVE, "CVE-1", "", "image:x", ""),
		mk("octo/app", "cve2", model.SourceDefenderCVE, "GHSA-bbbb", "", "image:x", model.StateOpen),
		mk("octo/lib", "cve3", model.SourceDefenderCVE, "CVE-1", "", "image:y", model.StateOpen),
	)

	fs, err := f.FindingsOfGroup(f.ctx, "octo/app", "image:x")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsOfGroup", findingIDs(fs), []string{"cve1", "cve2"})

	fs, err = f.FindingsByID(f.ctx, []string{"cve3", "dep1", "none"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsByID", findingIDs(fs), []string{"cve3", "dep1"})

	// Defender CVEs are matched on their CVE id, Dependabot alerts on CVE or GHSA.
	fs, err = f.FindingsNamingVulnerability(f.ctx, "octo/app", model.SourceDefenderCVE, []string{"CVE-1", "GHSA-bbbb"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsNamingVulnerability(defender)", findingIDs(fs), []string{"cve1", "cve2"})
	fs, err = f.FindingsNamingVulnerability(f.ctx, "Octo/App", model.SourceDependabot, []string{"GHSA-bbbb"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsNamingVulnerability(dependabot)", findingIDs(fs), []string{"dep2"})

	fs, err = f.FindingsOfImages(f.ctx, []string{"acr.io/none"}, nil)
	if err != nil || len(fs) != 0 {
		t.Errorf("FindingsOfImages(unknown) = %v, %v", findingIDs(fs), err)
	}
	cve3, _ := f.Finding(f.ctx, "octo/lib", "cve3")
	cve3.Image, cve3.Digests = "acr.io/lib", []string{"sha256:l"}
	f.put(cve3)
	fs, err = f.FindingsOfImages(f.ctx, nil, []string{"sha256:l"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsOfImages(digest)", findingIDs(fs), []string{"cve3"})
	// A batch past one query's hundred: cve3 matches by image in the first
	// hundred and by digest in the third, the findings of acr.io/app by
	// image in the second; each is listed once.
	var images, digests []string
	for k := range 250 {
		images = append(images, fmt.Sprintf("acr.io/other%d", k))
		digests = append(digests, fmt.Sprintf("sha256:other%d", k))
	}
	images[7], images[150], digests[240] = "acr.io/lib", "acr.io/app", "sha256:l"
	fs, err = f.FindingsOfImages(f.ctx, images, digests)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsOfImages(batch)", findingIDs(fs), []string{"cve1", "cve2", "cve3", "dep1", "dep2"})
	fs, err = f.FindingsOfImages(f.ctx, images[:100], digests)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsOfImages(digest in the third hundred)", findingIDs(fs), []string{"cve3"})

	var inRepo, open, all []model.Finding
	collect := func(out *[]model.Finding) func(*model.Finding) error {
		return func(f *model.Finding) error { *out = append(*out, *f); return nil }
	}
	if err := f.FindingsOfRepository(f.ctx, "Octo/App", collect(&inRepo)); err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsOfRepository", findingIDs(inRepo), []string{"dep1", "dep2"})
	if err := f.OpenFindings(f.ctx, collect(&open)); err != nil {
		t.Fatal(err)
	}
	want(t, "OpenFindings (no state is open)", findingIDs(open), []string{"cve1", "cve2", "cve3", "dep1"})
	if err := f.AllFindings(f.ctx, collect(&all)); err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Errorf("AllFindings = %v", findingIDs(all))
	}

	var paged []model.Finding
	cursor := ""
	for range 10 {
		page, next, err := f.FindingsPage(f.ctx, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if cursor = next; cursor == "" {
			break
		}
	}
	want(t, "FindingsPage over every page", findingIDs(paged), []string{"cve1", "cve2", "cve3", "dep1", "dep2"})
}

func TestUpdateFindingHonoursSkip(t *testing.T) {
	f := newFixture(t)
	got, changed, err := f.UpdateFinding(f.ctx, "octo/app", "x", func(doc *model.Finding, exists bool) error {
		if exists {
			t.Error("exists before the first write")
		}
		doc.ID, doc.Repository, doc.Title = "x", "octo/app", "first"
		return nil
	})
	if err != nil || !changed || got.ETag == "" {
		t.Fatalf("create = %+v, %v, %v", got, changed, err)
	}
	_, changed, err = f.UpdateFinding(f.ctx, "octo/app", "x", func(doc *model.Finding, exists bool) error {
		doc.Title = "not written"
		return model.ErrSkip
	})
	if err != nil || changed {
		t.Errorf("skip = %v, %v", changed, err)
	}
	if got, _ := f.Finding(f.ctx, "octo/app", "x"); got.Title != "first" {
		t.Errorf("title after a skipped update = %q", got.Title)
	}
	if _, err := f.Finding(f.ctx, "octo/app", "none"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Finding(missing) = %v, want model.ErrNotFound", err)
	}
}

func TestFindingsMatching(t *testing.T) {
	f := newFixture(t)
	yes := true
	f.put(
		&model.Finding{ID: "a", Repository: "octo/app", Source: model.SourceDependabot, Score: 5, Deployed: true, RuntimeRisks: []model.RiskFactor{model.RiskInternetExposed}},
		&model.Finding{ID: "b", Repository: "octo/app", Source: model.SourceDependabot, Score: 9, State: model.StateOpen},
		&model.Finding{ID: "c", Repository: "Octo/App", Source: model.SourceCodeScanning, Score: 7, State: model.StateFixed},
	)
	fs, next, err := f.FindingsMatching(f.ctx, store.FindingsFilter{Repository: "octo/app"}, 10, "")
	if err != nil || next != "" {
		t.Fatal(err, next)
	}
	if got := findingIDsInOrder(fs); len(got) != 2 || got[0] != "b" {
		t.Errorf("one partition, highest first = %v", got)
	}
	fs, _, err = f.FindingsMatching(f.ctx, store.FindingsFilter{Repository: "Octo/App"}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "both spellings of the repository", findingIDs(fs), []string{"a", "b", "c"})
	fs, _, err = f.FindingsMatching(f.ctx, store.FindingsFilter{Deployed: &yes, Risks: []model.RiskFactor{model.RiskInternetExposed}}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "deployed and exposed", findingIDs(fs), []string{"a"})
	fs, _, err = f.FindingsMatching(f.ctx, store.FindingsFilter{States: []model.FindingState{model.StateOpen}}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "open (a finding without a state is open)", findingIDs(fs), []string{"a", "b"})
}

// refuseContinuation answers a query with a continuation token as Cosmos
// DB answers one it did not issue (400); the emulator accepts any.
type refuseContinuation struct{ next *http.Client }

func (r refuseContinuation) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("x-ms-continuation") != "" {
		return &http.Response{StatusCode: http.StatusBadRequest, Request: req,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   io.NopCloser(strings.NewReader(`{"code":"BadRequest","message":"Invalid Continuation Token"}`))}, nil
	}
	return r.next.Do(req)
}

func TestFindingsMatchingRefusedCursor(t *testing.T) {
	ctx := newFixture(t).ctx
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the emulator's self-signed certificate
	s := store.New(localstack.StoreThrough(t, refuseContinuation{next: insecure}))
	if _, _, err := s.FindingsMatching(ctx, store.FindingsFilter{}, 10, ""); err != nil {
		t.Fatalf("first page: %v", err)
	}
	if _, _, err := s.FindingsMatching(ctx, store.FindingsFilter{}, 10, "bm90LWEtY3Vyc29y"); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("refused cursor error = %v, want store.ErrBadCursor", err)
	}
}

func findingIDsInOrder(fs []model.Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestGroupsAndLeases(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC()
	created, err := f.CreateGroup(f.ctx, &model.Group{ID: "g1", Repository: "octo/app",
		Desired: model.DesiredIssue{Open: true, Hash: "h2"}, Synced: model.SyncedIssue{Hash: "h1", IssueNumber: 4, At: now}})
	if err != nil || !created {
		t.Fatalf("CreateGroup = %v, %v", created, err)
	}
	if created, err := f.CreateGroup(f.ctx, &model.Group{ID: "g1", Repository: "octo/app"}); err != nil || created {
		t.Errorf("CreateGroup again = %v, %v; want false, nil", created, err)
	}
	f.put(&model.Group{ID: "g2", Repository: "octo/app", Desired: model.DesiredIssue{Hash: "h"}, Synced: model.SyncedIssue{Hash: "h", At: now.Add(-48 * time.Hour)}},
		&model.Group{ID: "g3", Repository: "octo/lib", Desired: model.DesiredIssue{Hash: "h"}, Synced: model.SyncedIssue{Hash: "h", At: now}},
		// Never applied: an open claimed a moment ago, no synced hash yet.
		&model.Group{ID: "g4", Repository: "octo/lib", Desired: model.DesiredIssue{Open: true, Hash: "h"}, Synced: model.SyncedIssue{State: "opening", At: now}})
	g, changed, err := f.UpdateGroup(f.ctx, "octo/lib", "g3", func(g *model.Group, exists bool) error {
		g.Kind = "alert"
		return nil
	})
	if err != nil || !changed || g.Kind != "alert" {
		t.Fatalf("UpdateGroup = %+v, %v, %v", g, changed, err)
	}
	if g, err := f.Group(f.ctx, "octo/lib", "g3"); err != nil || g.Kind != "alert" {
		t.Errorf("Group = %+v, %v", g, err)
	}
	var behind []model.Group
	if err := f.GroupsBehind(f.ctx, now.Add(-time.Hour), func(g *model.Group) error { behind = append(behind, *g); return nil }); err != nil {
		t.Fatal(err)
	}
	want(t, "GroupsBehind", ids(behind, func(g *model.Group) string { return g.ID }), []string{"g1", "g2", "g4"})
	for _, g := range behind {
		if g.ID == "g1" && (!g.Desired.Open || g.Synced.IssueNumber != 4 || g.Desired.Hash != "h2") {
			t.Errorf("GroupsBehind leaves out what a sync decision reads: %+v", g)
		}
	}

	if _, err := f.Lease(f.ctx, "run"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Lease(missing) = %v", err)
	}
	l, changed, err := f.UpdateLease(f.ctx, "run", func(l *model.Lease, exists bool) error {
		l.ID, l.Holder = "run", "me"
		return nil
	})
	if err != nil || !changed || l.Holder != "me" {
		t.Fatalf("UpdateLease = %+v, %v, %v", l, changed, err)
	}
	if l, err := f.Lease(f.ctx, "run"); err != nil || l.Holder != "me" || l.TS == 0 {
		t.Errorf("Lease = %+v, %v", l, err)
	}
}
