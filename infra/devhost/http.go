package main

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func (h *Host) mux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/host/status", h.serveHostStatus)
	mux.HandleFunc("POST /admin/functions/{name}", h.serveAdminInvoke)
	mux.HandleFunc("POST /admin/eventhub/{name}", h.serveEventHub)
	mux.HandleFunc("/runtime/webhooks/eventgrid", h.serveEventGrid)
	mux.HandleFunc("/", h.serveHTTPTrigger)
	return mux
}

func (h *Host) serveHostStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"state": "Running", "version": hostVersion})
}

// serveAdminInvoke is the host's "run a non-HTTP function now" admin API:
// POST /admin/functions/<name> with {"input": "..."} answers 202 and runs
// the function in the background.
func (h *Host) serveAdminInvoke(w http.ResponseWriter, r *http.Request) {
	fn := h.app.Function(r.PathValue("name"))
	if fn == nil || fn.Disabled {
		http.Error(w, fmt.Sprintf("function %q not found", r.PathValue("name")), http.StatusNotFound)
		return
	}
	if !h.authorized(w, r, "admin") {
		return
	}
	var body struct {
		Input *string `json:"input"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && err != io.EOF {
		http.Error(w, "body must be {\"input\": \"...\"}: "+err.Error(), http.StatusBadRequest)
		return
	}
	if fn.Kind() != triggerTimer {
		http.Error(w, fmt.Sprintf("the dev host runs only timer functions through the admin API; %s has a %s: "+
			"use Azurite for queues, /admin/eventhub/<name> and /runtime/webhooks/eventgrid for events", fn.Name, fn.Trigger.Type),
			http.StatusBadRequest)
		return
	}
	h.goInvocation(func(ctx context.Context) {
		// A manual run carries no schedule status (the host only fills it for scheduled runs).
		_, _ = h.invokeTimer(ctx, fn, newTimerInfo(nil, false), "invoked through the admin API")
	})
	w.WriteHeader(http.StatusAccepted)
}

// serveHTTPTrigger routes a request to an HTTP function.
func (h *Host) serveHTTPTrigger(w http.ResponseWriter, r *http.Request) {
	rt, params, ok := matchRoute(h.routes, r.Method, r.URL.EscapedPath())
	if !ok {
		if r.URL.Path == "/" {
			fmt.Fprintln(w, "runtimelink dev host is running")
			return
		}
		http.NotFound(w, r)
		return
	}
	level := strings.ToLower(rt.fn.Trigger.AuthLevel)
	if level == "" {
		level = "function" // the host's default
	}
	if level != "anonymous" && !h.authorized(w, r, level) {
		return
	}
	release, ok := h.httpQueue.enter(r.Context())
	if !ok {
		h.log.Warn("request rejected: too many outstanding HTTP requests", "function", rt.fn.Name,
			"maxOutstandingRequests", h.app.Host.HTTPThrottle.MaxOutstanding)
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	defer release()
	if h.app.Host.ForwardHTTP && rt.fn.httpInAndOut() {
		h.forward(w, r, rt.fn)
		return
	}
	h.invokeHTTP(w, r, rt.fn, params)
}

// httpQueue is the host's HTTP request queue (HTTPThrottle): a request
// beyond maxOutstandingRequests is refused, one beyond
// maxConcurrentRequests waits for a running one to finish.
type httpQueue struct {
	maxOutstanding int64 // ≤ 0: unbounded
	outstanding    atomic.Int64
	running        chan struct{} // nil: unbounded
}

func newHTTPQueue(t HTTPThrottle) *httpQueue {
	q := &httpQueue{maxOutstanding: int64(t.MaxOutstanding)}
	if t.MaxConcurrent > 0 {
		q.running = make(chan struct{}, t.MaxConcurrent)
	}
	return q
}

// enter admits a request, waiting for a running slot; ok is false when the
// queue is full or the client went away while waiting. release must be
// called when the request is done.
func (q *httpQueue) enter(ctx context.Context) (release func(), ok bool) {
	if n := q.outstanding.Add(1); q.maxOutstanding > 0 && n > q.maxOutstanding {
		q.outstanding.Add(-1)
		return nil, false
	}
	if q.running == nil {
		return func() { q.outstanding.Add(-1) }, true
	}
	select {
	case q.running <- struct{}{}:
		return func() { <-q.running; q.outstanding.Add(-1) }, true
	case <-ctx.Done():
		q.outstanding.Add(-1)
		return nil, false
	}
}

// authorized checks the function key (x-functions-key header or code query
// parameter) when DEVHOST_FUNCTION_KEY is set, and answers 401 otherwise.
func (h *Host) authorized(w http.ResponseWriter, r *http.Request, level string) bool {
	if h.opts.FunctionKey == "" {
		return true
	}
	key := r.Header.Get("x-functions-key")
	if key == "" {
		key = r.URL.Query().Get("code")
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(h.opts.FunctionKey)) == 1 {
		return true
	}
	h.log.Warn("request rejected: missing or wrong function key", "path", r.URL.Path, "authLevel", level)
	w.WriteHeader(http.StatusUnauthorized)
	return false
}

// authorizedBody checks the function key (authorized) and reads at most
// limit bytes of the body, what it holds naming a read error; on false it
// has answered.
func (h *Host) authorizedBody(w http.ResponseWriter, r *http.Request, level string, limit int64, what string) ([]byte, bool) {
	if !h.authorized(w, r, level) {
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err != nil {
		http.Error(w, "read "+what+": "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// Hop-by-hop headers are not forwarded (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends the raw request to the handler at its original path, with
// the invocation id header, and streams the handler's answer back: the
// host's enableForwardingHttpRequest behaviour.
func (h *Host) forward(w http.ResponseWriter, r *http.Request, fn *Function) {
	id := newInvocationID()
	start := time.Now()
	h.log.Info("executing", "function", fn.Name, "id", id, "reason", "This function was programmatically called via the host APIs.", "request", r.Method+" "+r.URL.RequestURI())
	target := h.handler.base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.app.Host.FunctionTimeout)
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, r.Method, target, r.Body)
	if err != nil {
		h.httpFailed(w, fn, id, start, fmt.Errorf("build forwarded request: %w", err))
		return
	}
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	out.ContentLength = r.ContentLength
	out.Header = r.Header.Clone()
	for _, k := range hopHeaders {
		out.Header.Del(k)
	}
	out.Host = r.Host
	out.Header.Set(headerInvocation, id)
	out.Header.Set(headerVersion, hostVersion)
	if ua := r.Header.Get("User-Agent"); ua != "" {
		out.Header.Set("User-Agent", ua+" "+userAgent)
	} else {
		out.Header.Set("User-Agent", userAgent)
	}
	resp, err := h.client.Do(out)
	if err != nil {
		h.httpFailed(w, fn, id, start, fmt.Errorf("forward to the handler: %w", err))
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	for _, k := range hopHeaders {
		w.Header().Del(k)
	}
	w.WriteHeader(resp.StatusCode)
	_, copyErr := io.Copy(w, resp.Body)
	attrs := []any{"function", fn.Name, "id", id, "status", "Succeeded", "http", resp.StatusCode, "duration", time.Since(start).Round(time.Millisecond).String()}
	if copyErr != nil {
		attrs = append(attrs, "error", "copy answer: "+copyErr.Error())
	}
	h.log.Info("executed", attrs...)
}

func (h *Host) httpFailed(w http.ResponseWriter, fn *Function, id string, start time.Time, err error) {
	h.log.Error("executed", "function", fn.Name, "id", id, "status", "Failed", "duration", time.Since(start).Round(time.Millisecond).String(), "error", err.Error())
	http.Error(w, "function invocation failed", http.StatusInternalServerError)
}

// invokeHTTP is the non-forwarding form: the request becomes Data.<binding>
// (Url, Method, Query, Headers, Params, Identities, Body) and the answer
// comes back in the HTTP output binding {statusCode, headers, body}.
func (h *Host) invokeHTTP(w http.ResponseWriter, r *http.Request, fn *Function, params map[string]string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	query := map[string]string{}
	for k, vs := range r.URL.Query() {
		query[k] = strings.Join(vs, ",")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	req := map[string]any{
		"Url":        scheme + "://" + r.Host + r.URL.RequestURI(),
		"Method":     r.Method,
		"Query":      query,
		"Headers":    r.Header,
		"Params":     params,
		"Identities": []any{},
	}
	if len(body) > 0 {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
			req["Body"] = base64.StdEncoding.EncodeToString(body)
		} else {
			req["Body"] = string(body)
		}
	}
	metadata := map[string]any{"Query": query, "Headers": r.Header, "sys": h.sysMetadata(fn)}
	for k, v := range params {
		metadata[k] = metadataValue(v)
	}
	res, err := h.invoke(r.Context(), fn, map[string]any{fn.Trigger.Name: req}, metadata, "This function was programmatically called via the host APIs.")
	if err != nil {
		http.Error(w, "function invocation failed", http.StatusInternalServerError)
		return
	}
	out := res.Outputs[fn.httpOutput()]
	if fn.httpOutput() == "$return" {
		out = res.ReturnValue
	}
	writeHTTPOutput(w, out)
}

func writeHTTPOutput(w http.ResponseWriter, raw json.RawMessage) {
	var res struct {
		StatusCode json.RawMessage   `json:"statusCode"`
		Status     json.RawMessage   `json:"status"`
		Headers    map[string]string `json:"headers"`
		Body       json.RawMessage   `json:"body"`
	}
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &res) != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	status := http.StatusOK
	for _, s := range []json.RawMessage{res.StatusCode, res.Status} {
		var v any
		if json.Unmarshal(s, &v) == nil && v != nil {
			if n, err := strconv.Atoi(strings.Trim(fmt.Sprint(v), `"`)); err == nil {
				status = n
				break
			}
		}
	}
	for k, v := range res.Headers {
		w.Header().Set(k, v)
	}
	var text string
	if json.Unmarshal(res.Body, &text) != nil {
		text = string(res.Body) // an object or array body goes out as its JSON
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
