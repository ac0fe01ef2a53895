package github

// Conditional requests: GETs carry If-None-Match when an answer with an
// ETag is cached, and a 304 (which GitHub does not count against the
// primary limit) is answered from the bounded cache as a 200.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type noConditionalKey struct{}

// withoutConditional keeps a request's answer out of the ETag cache: a
// backfill reads each page once, caching them would only evict useful entries.
func withoutConditional(ctx context.Context) context.Context {
	return context.WithValue(ctx, noConditionalKey{}, true)
}

type cachedResponse struct {
	etag   string
	header http.Header
	body   []byte
}

// conditional finds the cached answer for a GET that may be made conditional.
func (t *Transport) conditional(req *http.Request, id int64) (string, *cachedResponse) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" ||
		req.Header.Get("If-Modified-Since") != "" || req.Context().Value(noConditionalKey{}) != nil {
		return "", nil
	}
	key := strconv.FormatInt(id, 10) + " " + req.URL.String() + " " + req.Header.Get("Accept")
	c, _ := t.etags.get(key, t.clock.Now())
	return key, c
}

// finish answers a 304 from the cache and caches a fresh 200 with an ETag.
func (t *Transport) finish(req *http.Request, resp *http.Response, key string, cached *cachedResponse) *http.Response {
	if cached != nil && resp.StatusCode == http.StatusNotModified {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := cached.header.Clone()
		for k, v := range resp.Header {
			if strings.HasPrefix(k, "X-Ratelimit-") || k == "Date" {
				h[k] = v
			}
		}
		// go-github skips its own rate bookkeeping for answers marked so
		// (the convention of HTTP caches below it), which is right: the
		// body is not what GitHub just sent.
		h.Set("X-From-Cache", "1")
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK,
			Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
			Header: h, Body: io.NopCloser(bytes.NewReader(cached.body)),
			ContentLength: int64(len(cached.body)), Request: req,
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		// go-github would refuse every later call of this client until the
		// reset itself, with its own error and without our bounded wait;
		// marking the answer keeps this transport the single authority.
		resp.Header.Set("X-From-Cache", "1")
	}
	if key == "" || resp.StatusCode != http.StatusOK {
		return resp
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.etags.remove(key)
		return resp
	}
	if resp.ContentLength > t.maxBody {
		return resp
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, t.maxBody+1))
	if err != nil || int64(len(head)) > t.maxBody {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		return resp
	}
	resp.Body.Close()
	t.etags.put(key, &cachedResponse{etag: etag, header: resp.Header.Clone(), body: head}, time.Time{})
	resp.Body = io.NopCloser(bytes.NewReader(head))
	return resp
}
