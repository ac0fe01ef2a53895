// Package githubwebhook is the adapter of the `github_webhook` function:
// POST /api/github/webhook. It bounds the body, verifies GitHub's
// X-Hub-Signature-256 over the raw bytes, and hands the delivery to
// shared/ghapp, whose handlers know nothing of HTTP; then it maps the
// outcome to the status GitHub sees.
package githubwebhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/ghapp"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/keyvault"
)

// Route is where GitHub posts deliveries.
const Route = "POST /api/github/webhook"

// MaxPayloadBytes is GitHub's cap on a webhook payload (25 MB); GitHub
// does not send larger ones, so anything larger is not GitHub.
const MaxPayloadBytes = 25 << 20

// MaxBodyBytesInFlight bounds the bytes of webhook bodies being read and
// held at once, across deliveries. Bodies are read before their signature
// can be checked, so without a bound 20 unsigned 25 MB requests cost 1 GB;
// with it they cost at most this much and the rest wait (bodyWait) or are
// told to retry. It admits one body of GitHub's largest size beside the
// usual small ones (a few KB each).
const MaxBodyBytesInFlight = 32 << 20

// bodyWait bounds how long a delivery waits for room in the body budget
// before it is answered 429: well inside GitHub's 10 s.
const bodyWait = 2 * time.Second

// bodyReadTimeout bounds reading one body, so a sender trickling bytes
// holds its share of the budget, and one of the handler's few HTTP slots
// (invocation.DefaultMaxHTTPInFlight), only briefly. GitHub itself gives
// up on a delivery after 10 s, so a body still arriving then is not one
// that GitHub will count as delivered.
const bodyReadTimeout = 10 * time.Second

// The headers GitHub sends with every delivery.
const (
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
	HeaderSignature = "X-Hub-Signature-256"
)

// Register adds the webhook route. The handlers need the store, the sync
// queue and the webhook secret; when they cannot be built the route answers
// 500 to every delivery and says why in the log, so GitHub shows failures
// (and can redeliver) rather than the app silently dropping events.
func Register(srv *invocation.Server, d *app.Deps) {
	h, err := New(d)
	if err != nil {
		logger := d.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Error("github_webhook cannot start", "error", err)
		srv.HandleHTTP(Route, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusInternalServerError, answer{Error: "the webhook receiver is not configured"})
		}))
		return
	}
	srv.HandleHTTP(Route, h)
}

// Handler serves POST /api/github/webhook.
type Handler struct {
	secrets    keyvault.Provider
	secretName string
	receiver   *ghapp.Receiver
	// bodies holds the bytes of the bodies being read or processed,
	// weighted by their declared length (MaxPayloadBytes when undeclared).
	bodies *semaphore.Weighted
}

// New builds the handler from the app's dependencies.
func New(d *app.Deps) (*Handler, error) {
	switch {
	case d.Config == nil:
		return nil, errors.New("github_webhook: no configuration")
	case d.Secrets == nil:
		return nil, errors.New("github_webhook: no secrets provider")
	case d.Config.Secrets.GitHubWebhookSecret == "":
		return nil, errors.New("github_webhook: the webhook secret has no name")
	}
	t, err := d.Triage()
	if err != nil {
		return nil, fmt.Errorf("github_webhook: %w", err)
	}
	g, err := d.GitHubApp()
	if err != nil {
		return nil, fmt.Errorf("github_webhook: %w", err)
	}
	r, err := ghapp.NewReceiver(ghapp.Options{
		Store: d.State(), Sync: d.Sync, Triage: t, Now: d.Now,
		// The loop guard ignores the App's own bot; while its login is
		// not known yet, every bot (see ghapp.Issues.App).
		App: g.Identity,
	})
	if err != nil {
		return nil, fmt.Errorf("github_webhook: %w", err)
	}
	return NewHandler(d.Secrets, d.Config.Secrets.GitHubWebhookSecret, r), nil
}

// NewHandler serves deliveries verified with the secret called secretName
// and processed by r.
func NewHandler(secrets keyvault.Provider, secretName string, r *ghapp.Receiver) *Handler {
	return &Handler{secrets: secrets, secretName: secretName, receiver: r,
		bodies: semaphore.NewWeighted(MaxBodyBytesInFlight)}
}

// answer is every response body: what was done with the delivery, or why not.
type answer struct {
	Delivery string `json:"deliveryId,omitempty"`
	Event    string `json:"event,omitempty"`
	Result   string `json:"result,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event, delivery := r.Header.Get(HeaderEvent), r.Header.Get(HeaderDelivery)
	// Logged and echoed before the sender is verified: bounded.
	log := invocation.Logger(r.Context()).With("deliveryId", clip(delivery), "event", clip(event))
	ctx := invocation.WithLogger(r.Context(), log)
	base := answer{Delivery: clip(delivery), Event: clip(event)}
	fail := func(status int, msg string) {
		a := base
		a.Error = msg
		writeJSON(w, status, a)
	}

	if r.ContentLength > MaxPayloadBytes {
		log.Warn("webhook refused: body too large", "contentLength", r.ContentLength)
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes, GitHub's limit", MaxPayloadBytes))
		return
	}
	// Unsigned is refused before a byte of the body is read.
	if r.Header.Get(HeaderSignature) == "" {
		log.Warn("webhook refused: signature", "reason", errNoSignature.Error())
		fail(http.StatusUnauthorized, errNoSignature.Error())
		return
	}
	weight := r.ContentLength
	if weight < 0 {
		weight = MaxPayloadBytes // streamed: charged as the largest body GitHub sends
	}
	wait, cancel := context.WithTimeout(ctx, bodyWait)
	err := h.bodies.Acquire(wait, weight)
	cancel()
	if err != nil {
		log.Warn("webhook refused: too many body bytes in flight", "contentLength", r.ContentLength, "budget", MaxBodyBytesInFlight)
		invocation.Overloaded(w)
		return
	}
	defer h.bodies.Release(weight)

	body, err := readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Warn("webhook refused: body too large")
			fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes, GitHub's limit", MaxPayloadBytes))
			return
		}
		log.Warn("webhook refused: body could not be read", "error", err)
		fail(http.StatusBadRequest, "the body could not be read")
		return
	}

	switch err := h.verify(ctx, body, r.Header.Get(HeaderSignature)); {
	case errors.Is(err, errSignature):
		log.Warn("webhook refused: signature", "reason", err.Error())
		fail(http.StatusUnauthorized, err.Error())
		return
	case err != nil:
		log.Error("webhook not verified: the secret is unavailable", "error", err)
		fail(http.StatusInternalServerError, "the signature cannot be verified now; redeliver later")
		return
	}

	// No deadline of our own: GitHub gives up after 10 s, but work that
	// completes later is still stored (and recorded), which beats cutting
	// it short and leaving the event to the nightly sweep.
	outcome, err := h.receiver.Receive(ctx, event, delivery, body)
	switch {
	case err == nil:
		log.Info("webhook delivery", "result", string(outcome))
		a := base
		a.Result = string(outcome)
		writeJSON(w, http.StatusOK, a)
	case outcome == ghapp.Ignored:
		log.Info("webhook delivery ignored", "reason", err.Error())
		a := base
		a.Result, a.Reason = string(outcome), err.Error()
		writeJSON(w, http.StatusAccepted, a)
	case ghapp.IsMalformed(err):
		log.Warn("webhook refused: malformed", "error", err)
		fail(http.StatusBadRequest, err.Error())
	default:
		// Ours, not the sender's: nothing was recorded as delivered, so a
		// redelivery does the work again.
		log.Error("webhook delivery failed", "error", err)
		fail(http.StatusInternalServerError, "processing failed; redeliver later")
	}
}

// readBody reads the request body, at most MaxPayloadBytes, within
// bodyReadTimeout. A declared length is read into one buffer of that size
// (io.ReadAll would grow it by doubling, up to twice the bytes).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	// Not every ResponseWriter can (httptest's recorder cannot): then
	// the server's own timeouts apply.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	in := http.MaxBytesReader(w, r.Body, MaxPayloadBytes)
	if r.ContentLength < 0 {
		return io.ReadAll(in)
	}
	body := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(in, body); err != nil {
		return nil, err
	}
	return body, nil
}

// errSignature: the request is not signed with the webhook secret.
var errSignature = errors.New("signature")

var errNoSignature = fmt.Errorf("%w: the %s header is missing", errSignature, HeaderSignature)

// verify checks X-Hub-Signature-256 with the current secret. When it does
// not match, the secret may have been rotated since it was cached: it is
// read again once (keyvault rate-limits forced reads) and checked again.
func (h *Handler) verify(ctx context.Context, body []byte, header string) error {
	if header == "" {
		return errNoSignature
	}
	secret, err := h.secret(ctx)
	if err != nil {
		return err
	}
	err = VerifySignature([]byte(secret), body, header)
	if !errors.Is(err, errMismatch) {
		return err
	}
	refreshed, rerr := keyvault.Refresh(ctx, h.secrets, h.secretName)
	if rerr != nil {
		invocation.Logger(ctx).Warn("re-reading the webhook secret failed", "error", rerr)
	}
	if !refreshed || rerr != nil {
		return err
	}
	secret, serr := h.secret(ctx)
	if serr != nil {
		return serr
	}
	return VerifySignature([]byte(secret), body, header)
}

func (h *Handler) secret(ctx context.Context) (string, error) {
	s, err := h.secrets.Get(ctx, h.secretName)
	if err != nil {
		return "", fmt.Errorf("read webhook secret %q: %w", h.secretName, err)
	}
	if s == "" {
		// Never "no secret, no check".
		return "", fmt.Errorf("webhook secret %q is empty", h.secretName)
	}
	return s, nil
}

var errMismatch = fmt.Errorf("%w: does not match the body", errSignature)

// VerifySignature checks header, GitHub's X-Hub-Signature-256 value
// ("sha256=" + hex HMAC-SHA256 of the body), in constant time. Only
// SHA-256 is accepted (X-Hub-Signature, SHA-1, is not). An empty secret
// verifies nothing.
func VerifySignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return errors.New("webhook secret is empty")
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return fmt.Errorf("%w: %s is not sha256=<hex>", errSignature, HeaderSignature)
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w: %s is not sha256=<hex>", errSignature, HeaderSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sig) {
		return errMismatch
	}
	return nil
}

// Sign is the X-Hub-Signature-256 value GitHub sends for body: for replays
// and tests.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Default().Error("encode webhook answer", "error", err)
		b = []byte(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
