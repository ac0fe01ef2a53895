package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// What the dev host calls itself in the headers the real host sets.
const (
	hostVersion      = "4.0.0-runtimelink-devhost"
	headerInvocation = "X-Azure-Functions-InvocationId"
	headerVersion    = "X-Azure-Functions-HostVersion"
	userAgent        = "Azure-Functions-Host/" + hostVersion
)

// Options configure a Host.
type Options struct {
	App           *App
	Addr          string        // listen address, e.g. 127.0.0.1:7071
	HandlerPath   string        // overrides host.json's defaultExecutablePath
	FunctionKey   string        // key for authLevel function/admin routes; "" = accept every request
	EventHubBatch int           // overrides host.json's maxEventBatchSize when > 0
	ReadyTimeout  time.Duration // how long the handler may take to answer GET /; default 60 s
	StopGrace     time.Duration // how long the handler may take to exit after SIGTERM; default 30 s
	Stdout        io.Writer     // the handler's stdout goes here
	Stderr        io.Writer     // the handler's stderr goes here
	Logger        *slog.Logger  // the dev host's own lines
}

// Host plays the Azure Functions host for one app.
type Host struct {
	opts      Options
	app       *App
	log       *slog.Logger
	routes    []*route
	httpQueue *httpQueue
	schedules map[string]*Schedule
	queues    map[string]*queueTarget
	client    *http.Client
	now       func() time.Time

	handler  *handlerProcess
	addr     string
	ready    chan struct{}
	inflight sync.WaitGroup // invocations started outside a request (timers, admin, queues)
	ehSeq    eventHubSequence
}

// New validates the app against what the dev host can run: routes,
// schedules and queue connections are checked before anything starts.
func New(o Options) (*Host, error) {
	if o.App == nil {
		return nil, errors.New("no app")
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.StopGrace == 0 {
		o.StopGrace = 30 * time.Second
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Host{
		opts:      o,
		app:       o.App,
		log:       o.Logger,
		schedules: map[string]*Schedule{},
		queues:    map[string]*queueTarget{},
		now:       time.Now,
		ready:     make(chan struct{}),
		httpQueue: newHTTPQueue(o.App.Host.HTTPThrottle),
		client: &http.Client{
			// Raw bytes both ways: no transparent gzip, no redirect following.
			Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if !o.App.Host.hasCustomHandlerBlock {
		return nil, errors.New("host.json has no customHandler section; this dev host runs custom handler apps only")
	}
	var err error
	if h.routes, err = buildRoutes(o.App); err != nil {
		return nil, err
	}
	for _, f := range o.App.Functions {
		if f.Disabled {
			continue
		}
		switch f.Kind() {
		case triggerHTTP, triggerEventHub, triggerEventGrid:
		case triggerTimer:
			s, err := ParseSchedule(f.Trigger.Schedule)
			if err != nil {
				return nil, fmt.Errorf("function %s: %w", f.Name, err)
			}
			h.schedules[f.Name] = s
		case triggerQueue:
			q, err := newQueueTarget(o.App, f)
			if err != nil {
				return nil, fmt.Errorf("function %s: %w", f.Name, err)
			}
			h.queues[f.Name] = q
		default:
			return nil, fmt.Errorf("function %s: trigger type %q is not supported by the dev host", f.Name, f.Trigger.Type)
		}
	}
	return h, nil
}

// Ready is closed once the handler answers and the dev host listens.
func (h *Host) Ready() <-chan struct{} { return h.ready }

// Addr is the address the dev host listens on (valid after Ready).
func (h *Host) Addr() string { return h.addr }

// Run starts the handler, serves until ctx ends or the handler dies, then
// stops the handler with SIGTERM and waits for it.
func (h *Host) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", h.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", h.opts.Addr, err)
	}
	h.addr = ln.Addr().String()

	h.handler, err = startHandler(h.app, h.opts.HandlerPath, h.opts.Stdout, h.opts.Stderr, h.log)
	if err != nil {
		ln.Close()
		return err
	}
	started := time.Now()
	if err := h.handler.waitReady(ctx, h.opts.ReadyTimeout); err != nil {
		ln.Close()
		_ = h.handler.stop(h.opts.StopGrace)
		return err
	}
	h.log.Info("handler ready", "after", time.Since(started).Round(time.Millisecond).String())

	srv := &http.Server{Handler: h.mux(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var workers sync.WaitGroup
	for name, s := range h.schedules {
		fn := h.app.Function(name)
		workers.Go(func() { h.runTimer(workCtx, fn, s) })
	}
	for name, q := range h.queues {
		fn := h.app.Function(name)
		workers.Go(func() { h.pollQueue(workCtx, fn, q) })
	}
	h.announce()
	close(h.ready)

	var runErr error
	select {
	case <-ctx.Done():
		h.log.Info("stopping")
	case <-h.handler.exited:
		runErr = fmt.Errorf("handler exited unexpectedly: %s", exitReason(h.handler.err))
		h.log.Error("handler exited unexpectedly", "reason", exitReason(h.handler.err))
	case err := <-serveErr:
		runErr = fmt.Errorf("serve on %s: %w", h.addr, err)
	}

	// Stop taking work, let in-flight invocations finish, then stop the handler.
	stopWork()
	shutCtx, cancel := context.WithTimeout(context.Background(), h.opts.StopGrace)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	waitGroupUntil(shutCtx, &workers)
	waitGroupUntil(shutCtx, &h.inflight)
	if err := h.handler.stop(h.opts.StopGrace); err != nil && runErr == nil {
		runErr = fmt.Errorf("stop handler: %w", err)
	}
	return runErr
}

func waitGroupUntil(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// announce lists the functions and how to reach them, like `func start`.
func (h *Host) announce() {
	base := "http://" + h.addr
	h.log.Info("dev host listening", "url", base)
	if h.opts.FunctionKey == "" {
		h.log.Warn("DEVHOST_FUNCTION_KEY is not set: function- and admin-level HTTP routes accept requests without a key")
	}
	for _, f := range h.app.Functions {
		if f.Disabled {
			h.log.Info("function disabled", "function", f.Name)
			continue
		}
		if f.HasRetry {
			h.log.Warn("function.json retry policy is not applied by the dev host: a failure is reported after one attempt", "function", f.Name)
		}
		switch f.Kind() {
		case triggerHTTP:
			for _, r := range h.routes {
				if r.fn == f {
					methods := strings.Join(r.methods, ",")
					if methods == "" {
						methods = "*"
					}
					h.log.Info("function", "function", f.Name, "trigger", "http", "methods", methods, "url", base+"/"+r.template)
				}
			}
		case triggerTimer:
			h.log.Info("function", "function", f.Name, "trigger", "timer", "schedule", h.schedules[f.Name].String(), "invoke", "POST "+base+"/admin/functions/"+f.Name)
		case triggerQueue:
			h.log.Info("function", "function", f.Name, "trigger", "queue", "queue", h.queues[f.Name].name)
		case triggerEventHub:
			h.log.Info("function", "function", f.Name, "trigger", "eventHub", "inject", "POST "+base+"/admin/eventhub/"+f.Name)
		case triggerEventGrid:
			h.log.Info("function", "function", f.Name, "trigger", "eventGrid", "inject", "POST "+base+"/runtime/webhooks/eventgrid?functionName="+f.Name)
		}
	}
}

// invocationResult is the answer of a non-HTTP invocation.
type invocationResult struct {
	Outputs     map[string]json.RawMessage `json:"Outputs"`
	Logs        []string                   `json:"Logs"`
	ReturnValue json.RawMessage            `json:"ReturnValue"`
}

// invocationError is a failed invocation: the handler's status and answer.
type invocationError struct {
	Status int
	Body   []byte
	Reason string
}

func (e *invocationError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	return fmt.Sprintf("handler answered %d: %s", e.Status, truncate(e.Body, 512))
}

// invoke sends one invocation envelope, POST /<function>, the way the host
// does for every trigger that is not a forwarded HTTP request.
func (h *Host) invoke(ctx context.Context, fn *Function, data, metadata map[string]any, reason string) (*invocationResult, error) {
	id := newInvocationID()
	start := time.Now()
	h.log.Info("executing", "function", fn.Name, "id", id, "reason", reason)
	res, err := h.send(ctx, fn, id, data, metadata)
	status := "Succeeded"
	if err != nil {
		status = "Failed"
	}
	if res != nil {
		for _, line := range res.Logs {
			h.log.Info("function log", "function", fn.Name, "id", id, "log", line)
		}
	}
	attrs := []any{"function", fn.Name, "id", id, "status", status, "duration", time.Since(start).Round(time.Millisecond).String()}
	if err != nil {
		h.log.Error("executed", append(attrs, "error", err.Error())...)
	} else {
		h.log.Info("executed", attrs...)
	}
	return res, err
}

func (h *Host) send(ctx context.Context, fn *Function, id string, data, metadata map[string]any) (*invocationResult, error) {
	body, err := json.Marshal(map[string]any{"Data": data, "Metadata": metadata})
	if err != nil {
		return nil, fmt.Errorf("encode invocation of %s: %w", fn.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.app.Host.FunctionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.handler.base+"/"+fn.Name, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build invocation of %s: %w", fn.Name, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set(headerInvocation, id)
	req.Header.Set(headerVersion, hostVersion)
	req.Header.Set("User-Agent", userAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send invocation of %s to the handler: %w", fn.Name, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 100<<20))
	if err != nil {
		return nil, fmt.Errorf("read the handler's answer for %s: %w", fn.Name, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &invocationError{Status: resp.StatusCode, Body: answer}
	}
	if len(bytes.TrimSpace(answer)) == 0 {
		// The real host reads null here and never completes the invocation.
		return nil, &invocationError{Status: resp.StatusCode, Reason: fmt.Sprintf(
			"handler answered %d with an empty body; the real host expects {\"Outputs\",\"Logs\",\"ReturnValue\"} and would hang until functionTimeout", resp.StatusCode)}
	}
	var res invocationResult
	dec := json.NewDecoder(bytes.NewReader(answer))
	if err := dec.Decode(&res); err != nil {
		return nil, &invocationError{Status: resp.StatusCode, Body: answer, Reason: fmt.Sprintf(
			"handler answered %d with a body the host cannot read as {\"Outputs\",\"Logs\",\"ReturnValue\"}: %v: %s", resp.StatusCode, err, truncate(answer, 512))}
	}
	return &res, nil
}

// sysMetadata is the "sys" entry the host adds to every invocation's Metadata.
func (h *Host) sysMetadata(fn *Function) map[string]any {
	return map[string]any{
		"MethodName": fn.Name,
		"UtcNow":     h.now().UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"RandGuid":   newInvocationID(),
	}
}

// goInvocation runs an invocation started outside a request; Run waits for
// it before stopping the handler.
func (h *Host) goInvocation(f func(ctx context.Context)) {
	h.inflight.Go(func() { f(context.Background()) })
}

// metadataValue encodes a binding-data value as the host does: objects stay
// objects, anything else becomes its JSON text as a string (so a string
// arrives quoted, "\"abc\"", and a number as "1").
func metadataValue(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	if len(raw) > 0 && raw[0] == '{' {
		return json.RawMessage(raw)
	}
	return string(raw)
}

// newInvocationID returns a random (version 4) UUID.
func newInvocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func truncate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
