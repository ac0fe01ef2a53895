package cosmos_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/logtest"
	"github.com/runtimelink/runtimelink/shared/model"
)

// An alert number of 2^63-1 written by an older version comes back from
// Cosmos DB as a double that no longer fits an int: queries skip that one
// document with a warning, pages and the rest of the partition still read,
// and the next update of it rebuilds it.
func TestUnreadableDocumentIsALoggedSkip(t *testing.T) {
	s := localstack.Store(t)
	var logs logtest.Buffer
	ctx := invocation.WithLogger(ctxT(t), slog.New(slog.NewJSONHandler(&logs, nil)))
	const repo = "octo-org/unreadable"
	for n := 1; n <= 3; n++ {
		if _, err := s.Findings.Create(ctx, finding(repo, n)); err != nil {
			t.Fatal(err)
		}
	}
	bad := model.GHASFindingID(model.SourceCodeScanning, repo, 99)
	raw := fmt.Sprintf(`{"id":%q,"repository":%q,"source":"code_scanning","state":"open","title":"x","alertNumber":9223372036854775807}`, bad, repo)
	if err := cosmos.UpsertRaw(ctx, s.Findings, repo, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	q := cosmos.Query{SQL: "SELECT * FROM c WHERE c.repository = @r", Params: map[string]any{"@r": repo}, PartitionKey: repo}
	var got []string
	if err := s.Findings.Query(ctx, q, func(f *model.Finding) error { got = append(got, f.ID); return nil }); err != nil {
		t.Fatalf("query failed on one unreadable document: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("query read %d findings, want the 3 readable ones: %v", len(got), got)
	}
	page, _, err := s.Findings.Page(ctx, q, 10, "")
	if err != nil || len(page) != 3 {
		t.Fatalf("page = %d findings, %v; want 3, nil", len(page), err)
	}
	skips := 0
	for _, l := range logs.Lines() {
		if l["msg"] == "skipped unreadable document" && l["id"] == bad && l["container"] == "findings" {
			skips++
		}
	}
	if skips != 2 {
		t.Fatalf("logged %d skips of %s, want 2 (query and page); logs:\n%s", skips, bad, logs.String())
	}
	if _, err := s.Findings.Get(ctx, repo, bad); !errors.As(err, new(*cosmos.UnreadableError)) {
		t.Fatalf("get of the unreadable document = %v, want an UnreadableError", err)
	}
	// The next update rebuilds it from nothing, guarded by the stored ETag.
	_, wrote, err := s.Findings.Update(ctx, repo, bad, func(f *model.Finding, exists bool) error {
		if exists {
			t.Error("an unreadable document was handed to the callback as existing")
		}
		*f = *finding(repo, 99)
		return nil
	})
	if err != nil || !wrote {
		t.Fatalf("update of the unreadable document: wrote=%v, %v", wrote, err)
	}
	if f, err := s.Findings.Get(ctx, repo, bad); err != nil || f.AlertNumber != 0 || f.Title != "alert 99" {
		t.Fatalf("after update: %+v, %v", f, err)
	}
}

// A 5 MB description is stored cut to model.MaxTextBytes with a marker,
// the record kept; storing the same record again writes nothing.
func TestLongTextIsCutAndTheRecordKept(t *testing.T) {
	s := localstack.Store(t)
	var logs logtest.Buffer
	ctx := invocation.WithLogger(ctxT(t), slog.New(slog.NewJSONHandler(&logs, nil)))
	mk := func() *model.Finding {
		f := finding("octo-org/long", 1)
		f.Description = strings.Repeat("é", 5<<20/2)
		return f
	}
	if wrote, err := s.Findings.Put(ctx, mk()); err != nil || !wrote {
		t.Fatalf("put: wrote=%v, %v", wrote, err)
	}
	got, err := s.Findings.Get(ctx, "octo-org/long", mk().ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Description) > model.MaxTextBytes || !strings.HasSuffix(got.Description, "[cut by runtimelink: 5242880 bytes received]") {
		t.Fatalf("stored description: %d bytes, ends %q", len(got.Description), got.Description[max(0, len(got.Description)-60):])
	}
	if !strings.Contains(logs.String(), `"msg":"cut stored text field"`) || !strings.Contains(logs.String(), `"field":"description"`) {
		t.Fatalf("the cut was not logged:\n%s", logs.String())
	}
	if wrote, err := s.Findings.Put(ctx, mk()); err != nil || wrote {
		t.Fatalf("second put of the same record: wrote=%v, %v; want no write", wrote, err)
	}
}

// An integer Cosmos DB would not give back exactly is refused before any
// write, so it can never poison later reads.
func TestUnsafeIntegerIsRefused(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	f := finding("octo-org/big", 1)
	f.AlertNumber = 1<<53 + 1
	if _, err := s.Findings.Put(ctx, f); !errors.Is(err, model.ErrUnsafeInteger) {
		t.Fatalf("put = %v, want ErrUnsafeInteger", err)
	}
	if _, _, err := s.Findings.Update(ctx, f.Repository, f.ID, func(d *model.Finding, _ bool) error { *d = *f; return nil }); !errors.Is(err, model.ErrUnsafeInteger) {
		t.Fatalf("update = %v, want ErrUnsafeInteger", err)
	}
	if _, err := s.Findings.Get(ctx, f.Repository, f.ID); !errors.Is(err, cosmos.ErrNotFound) {
		t.Fatalf("something was stored: %v", err)
	}
}
