package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/model"
)

// AlertPage is one page of an org-wide alert listing.
type AlertPage struct {
	Source model.Source
	Org    string
	// Cursor is the cursor this page was read with ("" for the first page);
	// Next is the cursor of the page after it ("" when this is the last).
	Cursor, Next string
	Alerts       []RawAlert
}

// RawAlert is one alert as the REST API lists it: the same object as the
// webhook's `alert`, plus the `repository` it belongs to.
type RawAlert struct {
	Repository string // "owner/name"
	Number     int
	JSON       json.RawMessage
}

// BackfillPageSize is the page size asked for (GitHub's maximum).
const BackfillPageSize = 100

// alertListings: the org-wide list endpoint of each GHAS source and the query
// of its first page. Dependabot accepts only cursors (before/after; `page`
// is refused with a 400); secret scanning switches to cursors when `after`
// is present, even empty; code scanning pages by number. Every one of them
// announces the next page in the Link header, which is all Backfill follows.
var alertListings = map[model.Source]struct{ path, first string }{
	model.SourceCodeScanning:   {"code-scanning/alerts", "per_page=100"},
	model.SourceDependabot:     {"dependabot/alerts", "per_page=100"},
	model.SourceSecretScanning: {"secret-scanning/alerts", "per_page=100&after="},
}

// Backfill lists every alert of one source in org, page by page, from cursor
// ("" = the beginning), and hands each page to fn. It returns "" when the
// listing is complete. On an error (GitHub's or fn's) it returns the cursor
// of the page that was not completed, to be persisted and passed back to
// resume there; pages may then be seen twice, never skipped, so fn must be
// idempotent. A cursor is an opaque query string; it holds no host or token.
func Backfill(ctx context.Context, client *gh.Client, org string, source model.Source, cursor string,
	fn func(AlertPage) error) (string, error) {
	listing, ok := alertListings[source]
	if !ok {
		return cursor, fmt.Errorf("backfill: source %q has no org-wide alert listing", source)
	}
	if org == "" || strings.ContainsAny(org, "/?#") {
		return cursor, fmt.Errorf("backfill: invalid org %q", org)
	}
	if _, err := url.ParseQuery(cursor); err != nil {
		return cursor, fmt.Errorf("backfill %s alerts of %s: malformed cursor: %w", source, org, err)
	}
	// Each page is read once: keep them out of the ETag cache.
	ctx = withoutConditional(ctx)
	path := "orgs/" + url.PathEscape(org) + "/" + listing.path + "?"
	for {
		query := cursor
		if query == "" {
			query = listing.first
		}
		req, err := client.NewRequest(http.MethodGet, path+query, nil)
		if err != nil {
			return cursor, fmt.Errorf("backfill %s alerts of %s: %w", source, org, err)
		}
		resp, raw, err := listPage(ctx, client, req)
		if err != nil {
			return cursor, fmt.Errorf("backfill %s alerts of %s: %w", source, org, err)
		}
		page := AlertPage{Source: source, Org: org, Cursor: cursor, Next: nextQuery(resp),
			Alerts: make([]RawAlert, 0, len(raw))}
		for _, a := range raw {
			var head struct {
				Number     int `json:"number"`
				Repository struct {
					FullName string `json:"full_name"`
				} `json:"repository"`
			}
			if json.Unmarshal(a, &head) != nil {
				continue // not an object: nothing a normalizer could use
			}
			page.Alerts = append(page.Alerts, RawAlert{Repository: head.Repository.FullName, Number: head.Number, JSON: a})
		}
		if err := fn(page); err != nil {
			return cursor, fmt.Errorf("backfill %s alerts of %s: %w", source, org, err)
		}
		if page.Next == "" {
			return "", nil
		}
		if page.Next == query {
			return cursor, fmt.Errorf("backfill %s alerts of %s: GitHub's next page is this page (%s)", source, org, query)
		}
		cursor = page.Next
	}
}

// maxPageBytes bounds one listing page (100 alerts are a few hundred KB).
const maxPageBytes = 64 << 20

// listPage reads one page whole before decoding it: sized by Content-Length,
// this allocates the page once instead of growing a decoder's buffer.
func listPage(ctx context.Context, client *gh.Client, req *http.Request) (*gh.Response, []json.RawMessage, error) {
	resp, err := client.BareDo(ctx, req)
	if err != nil {
		return resp, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxPageBytes {
		buf.Grow(int(n))
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxPageBytes+1)); err != nil {
		return resp, nil, fmt.Errorf("read page: %w", err)
	}
	if buf.Len() > maxPageBytes {
		return resp, nil, fmt.Errorf("page larger than %d bytes", maxPageBytes)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		return resp, nil, fmt.Errorf("decode page: %w", err)
	}
	return resp, raw, nil
}
