// Package invocation is the Azure Functions custom-handler runtime: the HTTP
// server the Functions host talks to, the decoding of every trigger payload
// the host sends (in each encoding it uses), and invocation-scoped logging.
//
// HTTP-only functions receive the original request at its original path
// (host.json customHandler.enableForwardingHttpRequest); register them with
// HandleHTTP. Every other trigger arrives as POST /<functionName> carrying
// {"Data":{...},"Metadata":{...}}; register it with HandleTrigger and answer
// with SetOutput / an error, which the server turns into
// {"Outputs":{...},"Logs":[...],"ReturnValue":...} and a status the host acts on.
package invocation

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// HeaderInvocationID is the header in which the host sends the invocation id.
const HeaderInvocationID = "X-Azure-Functions-InvocationId"

// PortEnv names the environment variable holding the port the host expects.
const PortEnv = "FUNCTIONS_CUSTOMHANDLER_PORT"

// maxRequestBytes bounds a trigger request body. An Event Hub batch of 100
// events of up to 1 MB each, quoted twice, stays below it.
const maxRequestBytes = 256 << 20

// TriggerFunc handles one non-HTTP trigger invocation. A returned error fails
// the invocation (HTTP 500) so the host retries it.
type TriggerFunc func(ctx context.Context, inv *Invocation) error

// Server is the custom handler: it routes the host's requests to handlers.
type Server struct {
	// DrainTimeout bounds how long shutdown waits for in-flight invocations.
	DrainTimeout time.Duration

	logger *slog.Logger
	mux    *http.ServeMux
	ready  <-chan struct{}
	// httpSlots holds one token per forwarded HTTP request being handled.
	httpSlots chan struct{}
	refusals  refusalLog
}

// refusalLog turns refusals into at most one log line per refusalLogEvery:
// under overload a line per refused request would cost the CPU the
// refusal saves and flood Application Insights.
type refusalLog struct {
	mu      sync.Mutex
	last    time.Time
	pending int
	// clock is time.Now unless a test stops it: whether refusals make
	// one burst must not depend on how fast the machine serves them.
	clock func() time.Time
}

const refusalLogEvery = 10 * time.Second

// note counts a refusal and reports how many to log now (0: not yet).
func (r *refusalLog) note() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.clock != nil {
		now = r.clock()
	}
	r.pending++
	if now.Sub(r.last) < refusalLogEvery {
		return 0
	}
	n := r.pending
	r.last, r.pending = now, 0
	return n
}

// DefaultMaxHTTPInFlight is how many forwarded HTTP requests the handler
// serves at once. It equals host.json extensions.http.maxConcurrentRequests:
// in Azure the host queues and refuses (429) before the handler's own bound
// is reached; without the host in front (tests, a misconfigured host) the
// handler still never takes on more work than it can finish promptly.
// Sixteen: a Consumption instance has about one core, and concurrency
// beyond what the CPU serves only queues inside the process. Measured with
// TestWebhookLoad at 300/s on a contended 2-core machine (load 25), 32
// admitted 122/s at p50 135 ms, p99 2.2 s; 16 admitted 183/s at p50 12 ms,
// p99 0.4 s.
const DefaultMaxHTTPInFlight = 16

// RetryAfterSeconds is the Retry-After of an overload answer: long enough
// for the in-flight work to drain, short enough for a client's retry.
const RetryAfterSeconds = 1

// holdTimeout bounds how long a request waits for start-up to finish.
const holdTimeout = 60 * time.Second

// Hold makes every request except the readiness probe wait until ready is
// closed. The host's GET / is answered as soon as the listener is up —
// well inside its 60 s — while start-up work that needs the network
// (reading secrets, creating the local emulator's containers) finishes
// behind it; work the host sends meanwhile waits instead of failing.
// Call before Serve.
func (s *Server) Hold(ready <-chan struct{}) { s.ready = ready }

func (s *Server) held(next http.Handler) http.Handler {
	if s.ready == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/" {
			next.ServeHTTP(w, r)
			return
		}
		t := time.NewTimer(holdTimeout)
		defer t.Stop()
		select {
		case <-s.ready:
			next.ServeHTTP(w, r)
		case <-r.Context().Done():
		case <-t.C:
			http.Error(w, "runtimelink is still starting", http.StatusServiceUnavailable)
		}
	})
}

// NewServer returns a server that logs through logger (slog.Default() if nil)
// and already answers the host's readiness probe, GET /.
func NewServer(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{DrainTimeout: 30 * time.Second, logger: logger, mux: http.NewServeMux(),
		httpSlots: make(chan struct{}, DefaultMaxHTTPInFlight)}
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	return s
}

// Handler returns the server's HTTP handler (for httptest).
func (s *Server) Handler() http.Handler { return s.mux }

// LimitHTTP sets how many forwarded HTTP requests are served at once
// (DefaultMaxHTTPInFlight unless set); call before Serve.
func (s *Server) LimitHTTP(n int) { s.httpSlots = make(chan struct{}, max(n, 1)) }

// HandleHTTP registers a handler for forwarded HTTP requests; pattern is a
// net/http ServeMux pattern such as "POST /api/github/webhook". The request
// context carries a logger with the invocation id (see Logger).
//
// At most LimitHTTP requests are handled at once across every HTTP route;
// one more is answered 429 with Retry-After at once, the answer the
// Functions host itself gives past maxOutstandingRequests, rather than
// queued: queued work only makes every admitted request slower. A client
// can retry a 429; GitHub never retries a webhook delivery (it waits 10 s
// at most), so a refused one comes back through the redeliver function,
// which finds it unrecorded.
// Triggers are not bounded here: the host paces them (batch sizes in
// host.json), and refusing one would spend a queue message's dequeue count.
func (s *Server) HandleHTTP(pattern string, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := s.logger
		if id := r.Header.Get(HeaderInvocationID); id != "" {
			l = l.With("invocationId", id)
		}
		slots := s.httpSlots
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			if n := s.refusals.note(); n > 0 {
				l.Warn("HTTP requests refused: the handler is at its in-flight limit",
					"refusedSinceLastLine", n, "method", r.Method, "path", r.URL.Path, "limit", cap(slots))
			}
			Overloaded(w)
			return
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				l.Error("panic in HTTP handler", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r.WithContext(WithLogger(r.Context(), l)))
	}))
}

// Overloaded answers 429 Too Many Requests with Retry-After: the answer to
// a request refused because too much work is already in flight.
func Overloaded(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"error":"runtimelink is busy; retry later"}`+"\n")
}

// HandleTrigger registers fn for the non-HTTP function named function, which
// the host invokes as POST /<function>.
func (s *Server) HandleTrigger(function string, fn TriggerFunc) {
	s.mux.HandleFunc("POST /"+function, func(w http.ResponseWriter, r *http.Request) {
		s.serveTrigger(w, r, function, fn)
	})
}

func (s *Server) serveTrigger(w http.ResponseWriter, r *http.Request, function string, fn TriggerFunc) {
	id := r.Header.Get(HeaderInvocationID)
	if id == "" {
		id = newID()
	}
	lines := &logLines{}
	inv := &Invocation{
		ID:       id,
		Function: function,
		logger:   invocationLogger(s.logger, lines, id, function),
		logs:     lines,
		outputs:  map[string]any{},
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	var env envelope
	if err == nil {
		env, err = parseEnvelope(body)
	}
	if err != nil {
		inv.logger.Error("bad invocation request", "error", err)
		s.answer(w, http.StatusBadRequest, inv)
		return
	}
	inv.Data, inv.Metadata = env.Data, env.Metadata

	if err := call(WithLogger(r.Context(), inv.logger), fn, inv); err != nil {
		inv.logger.Error("invocation failed", "error", err)
		s.answer(w, http.StatusInternalServerError, inv)
		return
	}
	s.answer(w, http.StatusOK, inv)
}

// call runs fn, turning a panic into an error so the host still gets an answer.
func call(ctx context.Context, fn TriggerFunc, inv *Invocation) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return fn(ctx, inv)
}

func (s *Server) answer(w http.ResponseWriter, status int, inv *Invocation) {
	body, err := json.Marshal(inv.response())
	if err != nil {
		inv.logger.Error("encode invocation response", "error", err)
		status = http.StatusInternalServerError
		body, _ = json.Marshal(response{Outputs: map[string]any{}, Logs: inv.logs.lines()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		inv.logger.Warn("write invocation response", "error", err)
	}
}

// ListenAndServe listens on 127.0.0.1 at the port in FUNCTIONS_CUSTOMHANDLER_PORT
// (default 8080) and serves until ctx is done; see Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	port := os.Getenv(PortEnv)
	if port == "" {
		port = "8080"
	}
	// The host always dials 127.0.0.1 (WorkerConstants.HostName).
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return fmt.Errorf("listen on %s=%q: %w", PortEnv, port, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then stops accepting requests and
// waits up to DrainTimeout for in-flight invocations to finish. Invocations
// do not see ctx: a SIGTERM lets running work complete.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.held(s.mux),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.logger.Info("custom handler listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serve custom handler: %w", err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down, draining in-flight invocations", "drainTimeout", s.DrainTimeout.String())
	drain, cancel := context.WithTimeout(context.Background(), s.DrainTimeout)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		srv.Close()
		<-served
		return fmt.Errorf("drain in-flight invocations: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve custom handler: %w", err)
	}
	s.logger.Info("custom handler stopped")
	return nil
}

// newID returns a random UUID (v4) for invocations the host sent without one.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
