package github

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/codeowners"
)

// Codeowners is a repository's CODEOWNERS file as it applies (the first of
// codeowners.Locations that exists), parsed.
type Codeowners struct {
	Repository string
	Path       string // where it was found, e.g. ".github/CODEOWNERS"
	File       *codeowners.File
	// Errors are the lines GitHub would not honour (skipped, as GitHub does).
	Errors []codeowners.ParseError
}

// CodeownersOptions configures NewCodeownersFetcher. Zero fields take defaults.
type CodeownersOptions struct {
	// TTL keeps a repository's answer (a file or "none") before it is asked
	// again; re-asking is cheap, the transport makes it a conditional GET.
	// Default 10 min.
	TTL     time.Duration
	Entries int // default 5,000 repositories
	Clock   Clock
}

// CodeownersFetcher fetches and caches CODEOWNERS files through the contents
// API (GET /repos/{owner}/{repo}/contents/{path}, raw media type).
type CodeownersFetcher struct {
	clock Clock
	ttl   time.Duration
	cache *lru[string, *Codeowners]
}

// NewCodeownersFetcher returns a fetcher with its own cache.
func NewCodeownersFetcher(o CodeownersOptions) *CodeownersFetcher {
	o.TTL, o.Entries = positiveOr(o.TTL, 10*time.Minute), positiveOr(o.Entries, 5000)
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return &CodeownersFetcher{clock: o.Clock, ttl: o.TTL, cache: newLRU[string, *Codeowners](o.Entries, 0, nil)}
}

// Fetch returns the CODEOWNERS of repository ("owner/name") on its default
// branch, or nil when it has none.
func (f *CodeownersFetcher) Fetch(ctx context.Context, client *gh.Client, repository string) (*Codeowners, error) {
	owner, name, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/?#") {
		return nil, fmt.Errorf("fetch CODEOWNERS: %q is not an owner/name repository", repository)
	}
	key := strings.ToLower(repository)
	if c, ok := f.cache.get(key, f.clock.Now()); ok {
		return c, nil
	}
	var found *Codeowners
	for _, path := range codeowners.Locations {
		data, ok, err := fetchFile(ctx, client, owner, name, path, rawMediaType)
		if err != nil {
			return nil, fmt.Errorf("fetch CODEOWNERS of %s: %w", repository, err)
		}
		if ok {
			file, errs := codeowners.Parse(data)
			found = &Codeowners{Repository: repository, Path: path, File: file, Errors: errs}
			break
		}
	}
	f.cache.put(key, found, f.clock.Now().Add(f.ttl))
	return found, nil
}

// Invalidate forgets a repository's answer (e.g. on a push that touched it).
func (f *CodeownersFetcher) Invalidate(repository string) {
	f.cache.remove(strings.ToLower(repository))
}

const rawMediaType = "application/vnd.github.raw+json"

// fetchFile reads one file of the default branch; ok is false when it does
// not exist (or is not a file).
func fetchFile(ctx context.Context, client *gh.Client, owner, repo, path, accept string) ([]byte, bool, error) {
	u := "repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo) + "/contents/" + path
	req, err := client.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.BareDo(ctx, req)
	if IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, codeowners.MaxSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	// The raw media type gives the bytes; a server that answers with the
	// JSON contents object instead (or a directory listing) is handled too.
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		var c struct {
			Type     string `json:"type"`
			Encoding string `json:"encoding"`
			Content  string `json:"content"`
		}
		if json.Unmarshal(body, &c) != nil || c.Type != "file" {
			return nil, false, nil
		}
		if c.Encoding != "base64" {
			return nil, false, fmt.Errorf("get %s: unexpected content encoding %q", path, c.Encoding)
		}
		if body, err = decodeBase64(strings.ReplaceAll(c.Content, "\n", "")); err != nil {
			return nil, false, fmt.Errorf("get %s: %w", path, err)
		}
	}
	return body, true, nil
}
