package cosmos

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The store's sentinel errors are model's, so domain code can test for
// them without importing this package.
var (
	// ErrNotFound: the document does not exist.
	ErrNotFound = model.ErrNotFound
	// ErrPreconditionFailed: an ETag-guarded write kept losing to other writers.
	ErrPreconditionFailed = model.ErrPreconditionFailed
	// ErrSkip, returned by an Update callback, means "write nothing".
	ErrSkip = model.ErrSkip
)

// maxAttempts bounds the retry-on-conflict loop of Update.
const maxAttempts = 12

// Container is typed access to one Cosmos DB container.
type Container[T any] struct {
	name string
	c    *azcosmos.ContainerClient
	keys func(*T) (id, partitionKey string)
}

func newContainer[T any](name string, c *azcosmos.ContainerClient, keys func(*T) (string, string)) *Container[T] {
	return &Container[T]{name: name, c: c, keys: keys}
}

// Name is the container name.
func (c *Container[T]) Name() string { return c.name }

func meta[T any](doc *T) *model.Meta {
	m, ok := any(doc).(interface{ StoreMeta() *model.Meta })
	if !ok {
		panic(fmt.Sprintf("cosmos: %T does not embed model.Meta", doc))
	}
	return m.StoreMeta()
}

// ContentHash is the hash of a document's content, its Meta excluded.
func ContentHash[T any](doc *T) (string, error) {
	cp := *doc
	*meta(&cp) = model.Meta{}
	b, err := json.Marshal(&cp)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// Get reads one document; ErrNotFound when it does not exist.
func (c *Container[T]) Get(ctx context.Context, partitionKey, id string) (*T, error) {
	resp, err := c.c.ReadItem(ctx, azcosmos.NewPartitionKeyString(partitionKey), id, nil)
	if err != nil {
		if statusCode(err) == http.StatusNotFound {
			return nil, fmt.Errorf("read %s %s: %w", c.name, id, ErrNotFound)
		}
		return nil, fmt.Errorf("read %s %s: %w", c.name, id, err)
	}
	doc := new(T)
	if err := json.Unmarshal(resp.Value, doc); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", c.name, id, &UnreadableError{ETag: string(resp.ETag), Err: err})
	}
	meta(doc).ETag = string(resp.ETag)
	return doc, nil
}

// UnreadableError: a stored document does not decode into its type (for
// example a number written by an older version that no longer fits).
// Queries skip such a document with a warning instead of failing every
// read; Update replaces it (guarded by ETag) with what its callback builds
// from nothing.
type UnreadableError struct {
	ETag string
	Err  error
}

func (e *UnreadableError) Error() string { return "unreadable document: " + e.Err.Error() }
func (e *UnreadableError) Unwrap() error { return e.Err }

// decodeQueried decodes one query result into doc; an unreadable one is
// logged and reported false, so one bad document never fails a whole read.
func (c *Container[T]) decodeQueried(ctx context.Context, raw []byte, doc *T) bool {
	if err := json.Unmarshal(raw, doc); err != nil {
		var keys struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &keys)
		invocation.Logger(ctx).Warn("skipped unreadable document",
			"container", c.name, "id", keys.ID, "error", err.Error())
		return false
	}
	return true
}

// limit caps doc's text fields (model.LimitDocument), logs what it cut,
// and refuses integers Cosmos DB would not give back exactly.
func (c *Container[T]) limit(ctx context.Context, doc *T) error {
	cut, err := model.LimitDocument(doc)
	id, _ := c.keys(doc)
	for _, f := range cut {
		invocation.Logger(ctx).Warn("cut stored text field",
			"container", c.name, "id", id, "field", f.Path, "bytes", f.Bytes, "kept", model.MaxTextBytes)
	}
	if err != nil {
		return fmt.Errorf("write %s %s: %w", c.name, id, err)
	}
	return nil
}

// hashed is what every write does first, once: cap doc's text (limit)
// and hash its content, for the comparison with what is stored and for
// the write itself (prepare).
func (c *Container[T]) hashed(ctx context.Context, doc *T) (string, error) {
	if err := c.limit(ctx, doc); err != nil {
		return "", err
	}
	h, err := ContentHash(doc)
	if err != nil {
		id, _ := c.keys(doc)
		return "", fmt.Errorf("hash %s %s: %w", c.name, id, err)
	}
	return h, nil
}

// prepare encodes doc, whose content hash (hashed) is h, for a write.
func (c *Container[T]) prepare(doc *T, h string) (id, pk string, body []byte, err error) {
	id, pk = c.keys(doc)
	if id == "" {
		return "", "", nil, fmt.Errorf("write %s: empty id", c.name)
	}
	m := meta(doc)
	m.ContentHash = h
	cp := *doc
	*meta(&cp) = model.Meta{ContentHash: h}
	body, err = json.Marshal(&cp)
	if err != nil {
		return "", "", nil, fmt.Errorf("encode %s %s: %w", c.name, id, err)
	}
	return id, pk, body, nil
}

// Create writes doc if no document with its id exists. It returns
// created=false, and no error, when one does: creates on deterministic ids
// are idempotent.
func (c *Container[T]) Create(ctx context.Context, doc *T) (bool, error) {
	h, err := c.hashed(ctx, doc)
	if err != nil {
		return false, err
	}
	return c.create(ctx, doc, h)
}

func (c *Container[T]) create(ctx context.Context, doc *T, h string) (bool, error) {
	id, pk, body, err := c.prepare(doc, h)
	if err != nil {
		return false, err
	}
	resp, err := c.c.CreateItem(ctx, azcosmos.NewPartitionKeyString(pk), body, nil)
	if err != nil {
		if statusCode(err) == http.StatusConflict {
			return false, nil
		}
		return false, fmt.Errorf("create %s %s: %w", c.name, id, err)
	}
	meta(doc).ETag = string(resp.ETag)
	return true, nil
}

// Put writes doc unless the stored document has the same content hash, in
// which case it costs one read and no write. With doc's ETag set the write
// is guarded by it (ErrPreconditionFailed when someone else wrote first).
func (c *Container[T]) Put(ctx context.Context, doc *T) (bool, error) {
	docID, docPK := c.keys(doc)
	etag := meta(doc).ETag
	newHash, err := c.hashed(ctx, doc)
	if err != nil {
		return false, err
	}
	cur, err := c.Get(ctx, docPK, docID)
	var unreadable *UnreadableError
	switch {
	case errors.Is(err, ErrNotFound):
		cur = nil
	case errors.As(err, &unreadable) && etag == "":
		invocation.Logger(ctx).Warn("replacing unreadable document", "container", c.name, "id", docID, "error", unreadable.Err.Error())
		cur = nil
	case err != nil:
		return false, err
	}
	if cur != nil && meta(cur).ContentHash == newHash {
		*meta(doc) = *meta(cur)
		return false, nil
	}
	if etag != "" {
		if cur == nil {
			return false, fmt.Errorf("replace %s %s: %w", c.name, docID, ErrPreconditionFailed)
		}
		return true, c.replace(ctx, doc, etag, newHash)
	}
	return true, c.upsert(ctx, doc, newHash)
}

func (c *Container[T]) upsert(ctx context.Context, doc *T, h string) error {
	id, pk, body, err := c.prepare(doc, h)
	if err != nil {
		return err
	}
	resp, err := c.c.UpsertItem(ctx, azcosmos.NewPartitionKeyString(pk), body, nil)
	if err != nil {
		return fmt.Errorf("upsert %s %s: %w", c.name, id, err)
	}
	meta(doc).ETag = string(resp.ETag)
	return nil
}

func (c *Container[T]) replace(ctx context.Context, doc *T, etag, h string) error {
	id, pk, body, err := c.prepare(doc, h)
	if err != nil {
		return err
	}
	e := azcore.ETag(etag)
	resp, err := c.c.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(pk), id, body, &azcosmos.ItemOptions{IfMatchEtag: &e})
	if err != nil {
		if sc := statusCode(err); sc == http.StatusPreconditionFailed || sc == http.StatusNotFound {
			return fmt.Errorf("replace %s %s: %w", c.name, id, ErrPreconditionFailed)
		}
		return fmt.Errorf("replace %s %s: %w", c.name, id, err)
	}
	meta(doc).ETag = string(resp.ETag)
	return nil
}

// Save is the write half of a read-modify-write whose read was a query
// (or Get): doc carries the Meta it was read with, or none when exists is
// false. Content equal to what was read (same hash) writes nothing;
// otherwise an existing document is replaced under its ETag and a new one
// created. ErrPreconditionFailed says another writer got there first (the
// ETag moved, or the document was created meanwhile): read again, or fall
// back to Update. written reports whether it wrote.
func (c *Container[T]) Save(ctx context.Context, doc *T, exists bool) (written bool, err error) {
	m := meta(doc)
	id, _ := c.keys(doc)
	h, err := c.hashed(ctx, doc)
	if err != nil {
		return false, err
	}
	if !exists {
		created, err := c.create(ctx, doc, h)
		if err == nil && !created {
			return false, fmt.Errorf("create %s %s: %w", c.name, id, ErrPreconditionFailed)
		}
		return created, err
	}
	if h == m.ContentHash {
		return false, nil
	}
	if m.ETag == "" {
		return false, fmt.Errorf("replace %s %s: no ETag read", c.name, id)
	}
	return true, c.replace(ctx, doc, m.ETag, h)
}

// Update is an ETag-guarded read-modify-write. fn gets the current document
// (a zero value and exists=false when there is none) and changes it in
// place; returning ErrSkip writes nothing. When the content is unchanged
// nothing is written. A write that loses to a concurrent writer is retried
// from a fresh read, so no update is lost.
func (c *Container[T]) Update(ctx context.Context, partitionKey, id string, fn func(doc *T, exists bool) error) (*T, bool, error) {
	for attempt := 0; ; attempt++ {
		cur, err := c.Get(ctx, partitionKey, id)
		exists := true
		// etag guards the write; for an unreadable document it is the
		// stored one's, so the rebuilt document replaces exactly it.
		var unreadable *UnreadableError
		switch {
		case errors.Is(err, ErrNotFound):
			cur, exists = new(T), false
		case errors.As(err, &unreadable):
			invocation.Logger(ctx).Warn("replacing unreadable document", "container", c.name, "id", id, "error", unreadable.Err.Error())
			cur, exists = new(T), false
			meta(cur).ETag = unreadable.ETag
		case err != nil:
			return nil, false, err
		}
		oldHash, etag := meta(cur).ContentHash, meta(cur).ETag
		if err := fn(cur, exists); err != nil {
			if errors.Is(err, ErrSkip) {
				return cur, false, nil
			}
			return nil, false, err
		}
		if gotID, gotPK := c.keys(cur); gotID != id || gotPK != partitionKey {
			return nil, false, fmt.Errorf("update %s %s: callback changed the id or partition key", c.name, id)
		}
		newHash, err := c.hashed(ctx, cur)
		if err != nil {
			return nil, false, err
		}
		if exists && newHash == oldHash {
			return cur, false, nil
		}
		if exists || etag != "" {
			err = c.replace(ctx, cur, etag, newHash)
		} else {
			var created bool
			created, err = c.create(ctx, cur, newHash)
			if err == nil && !created {
				err = ErrPreconditionFailed // someone created it first: merge into theirs
			}
		}
		if err == nil {
			return cur, true, nil
		}
		if !errors.Is(err, ErrPreconditionFailed) {
			return nil, false, err
		}
		if attempt+1 >= maxAttempts {
			return nil, false, fmt.Errorf("update %s %s after %d attempts: %w", c.name, id, maxAttempts, ErrPreconditionFailed)
		}
		// Jittered backoff so contending writers spread out.
		d := time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(d):
		}
	}
}

// Delete removes a document; deleting a missing document is not an error.
func (c *Container[T]) Delete(ctx context.Context, partitionKey, id string) error {
	if _, err := c.c.DeleteItem(ctx, azcosmos.NewPartitionKeyString(partitionKey), id, nil); err != nil && statusCode(err) != http.StatusNotFound {
		return fmt.Errorf("delete %s %s: %w", c.name, id, err)
	}
	return nil
}

// Query selects documents. PartitionKey "" queries across partitions.
type Query struct {
	SQL          string
	Params       map[string]any
	PartitionKey string
	// PageSize is the most documents a page of Query holds (0: 100).
	// Batch reads ask for their whole batch in one page.
	PageSize int
}

func (q Query) options(pageSize int, continuation string) (azcosmos.PartitionKey, *azcosmos.QueryOptions) {
	opts := &azcosmos.QueryOptions{}
	if pageSize > 0 {
		opts.PageSizeHint = int32(pageSize)
	}
	if continuation != "" {
		opts.ContinuationToken = &continuation
	}
	names := make([]string, 0, len(q.Params))
	for n := range q.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		opts.QueryParameters = append(opts.QueryParameters, azcosmos.QueryParameter{Name: n, Value: q.Params[n]})
	}
	if q.PartitionKey == "" {
		return azcosmos.NewPartitionKey(), opts
	}
	return azcosmos.NewPartitionKeyString(q.PartitionKey), opts
}

// Query streams every matching document page by page (continuation
// tokens); memory is bounded by one page whatever the container holds.
func (c *Container[T]) Query(ctx context.Context, q Query, fn func(doc *T) error) error {
	pk, opts := q.options(cmp.Or(q.PageSize, 100), "")
	pager := c.c.NewQueryItemsPager(q.SQL, pk, opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", c.name, err)
		}
		for _, raw := range page.Items {
			doc := new(T)
			if !c.decodeQueried(ctx, raw, doc) || !c.inPartition(doc, q.PartitionKey) {
				continue
			}
			if err := fn(doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// inPartition guards single-partition queries: Cosmos DB scopes them by the
// partition key header, the local emulator ignores that header, so results
// are checked here too (a no-op against the real service).
func (c *Container[T]) inPartition(doc *T, partitionKey string) bool {
	if partitionKey == "" {
		return true
	}
	_, pk := c.keys(doc)
	return pk == partitionKey
}

// ErrMalformedCursor: a cursor that this package did not make for this
// query. Page refuses it before any call to Cosmos DB, so hostile or stale
// cursors cost nothing (the local emulator answers some bad continuation
// tokens with 500, which the SDK retries for seconds).
var ErrMalformedCursor = errors.New("malformed cursor")

// MaxCursorLen bounds the cursors Page accepts (the encoded form).
// Continuation tokens of the real service are a few hundred bytes; the
// SDK's default response token limit is well under this.
const MaxCursorLen = 8 << 10

// pageCursor is what a Page cursor encodes: the continuation token and a digest
// of the query it belongs to, so a cursor of another query (or garbage) is
// refused locally instead of being sent to Cosmos DB.
type pageCursor struct {
	Query        string `json:"q"`
	Continuation string `json:"c"`
}

// digest identifies a query (text, parameters, partition) for cursors.
func (q Query) digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\x00%q\x00", q.SQL, q.PartitionKey)
	names := make([]string, 0, len(q.Params))
	for n := range q.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, _ := json.Marshal(q.Params[n])
		fmt.Fprintf(h, "%q=%s\x00", n, v)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func encodeCursor(q Query, continuation string) string {
	b, _ := json.Marshal(pageCursor{Query: q.digest(), Continuation: continuation})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the continuation token of a cursor made by Page for
// q, or ErrMalformedCursor.
func decodeCursor(q Query, s string) (string, error) {
	if len(s) > MaxCursorLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrMalformedCursor, MaxCursorLen)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%w: not base64url", ErrMalformedCursor)
	}
	var cur pageCursor
	if err := json.Unmarshal(b, &cur); err != nil {
		return "", fmt.Errorf("%w: not a cursor", ErrMalformedCursor)
	}
	if cur.Query != q.digest() {
		return "", fmt.Errorf("%w: made for another query", ErrMalformedCursor)
	}
	// Continuation tokens are JSON, from the real service and the emulator.
	if cur.Continuation == "" || !json.Valid([]byte(cur.Continuation)) {
		return "", fmt.Errorf("%w: bad continuation token", ErrMalformedCursor)
	}
	return cur.Continuation, nil
}

// Page returns one page of results for cursor-paged APIs; next is "" when
// there are no more. The cursor wraps the continuation token with a digest
// of q (URL-safe encoded); one Page did not make for q is refused with
// ErrMalformedCursor without calling Cosmos DB.
func (c *Container[T]) Page(ctx context.Context, q Query, pageSize int, cursor string) ([]T, string, error) {
	var continuation string
	if cursor != "" {
		var err error
		if continuation, err = decodeCursor(q, cursor); err != nil {
			return nil, "", fmt.Errorf("query %s: %w", c.name, err)
		}
	}
	pk, opts := q.options(pageSize, continuation)
	pager := c.c.NewQueryItemsPager(q.SQL, pk, opts)
	var docs []T
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("query %s: %w", c.name, err)
		}
		for _, raw := range page.Items {
			var doc T
			if c.decodeQueried(ctx, raw, &doc) && c.inPartition(&doc, q.PartitionKey) {
				docs = append(docs, doc)
			}
		}
		// A page may come back empty with a token (cross-partition
		// fan-out); keep going until there is something to return.
		if len(docs) > 0 || page.ContinuationToken == nil {
			next := ""
			if page.ContinuationToken != nil {
				next = encodeCursor(q, *page.ContinuationToken)
			}
			return docs, next, nil
		}
	}
	return docs, "", nil
}
