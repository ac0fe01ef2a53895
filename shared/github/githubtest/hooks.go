package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // GitHub still sends the SHA-1 X-Hub-Signature beside the SHA-256 one
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The App's webhook and its delivery log: Deliver sends an event to the
// configured URL as GitHub does and logs the answer; the App (JWT only, as
// on GitHub) lists the log with GET /app/hook/deliveries and redelivers an
// entry with POST /app/hook/deliveries/{delivery_id}/attempts, which sends
// the same payload again with the same X-GitHub-Delivery and a fresh
// signature.

// HookDelivery is one entry of the App's webhook delivery log, the fields
// GitHub's list answers with.
type HookDelivery struct {
	ID          int64
	GUID        string // the X-GitHub-Delivery header
	DeliveredAt time.Time
	Redelivery  bool
	Duration    float64 // seconds
	// Status is GitHub's text: "OK", "Invalid HTTP Response: 503",
	// "failed to connect to host", "timed out".
	Status         string
	StatusCode     int // 0 when no HTTP answer came
	Event, Action  string
	InstallationID int64
	RepositoryID   int64
}

// OK reports whether the webhook answered 2xx.
func (d HookDelivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// hookTimeout is how long GitHub waits for the webhook's answer.
const hookTimeout = 10 * time.Second

type hookState struct {
	url    string
	secret []byte
	log    []loggedDelivery // oldest first; ids ascending
	nextID int64
}

type loggedDelivery struct {
	HookDelivery
	payload []byte
}

var hookClient = &http.Client{Timeout: hookTimeout}

// SetWebhook sets the App's webhook URL and secret, where Deliver and
// redeliveries send.
func (s *Server) SetWebhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.url, s.hooks.secret = url, []byte(secret)
}

// Deliver sends one event to the App's webhook as GitHub does (a new
// X-GitHub-Delivery, the signature headers, GitHub's User-Agent), waits
// for the answer and logs the delivery with its outcome.
func (s *Server) Deliver(event string, payload []byte) HookDelivery {
	return s.send(newGUID(), event, payload, false)
}

// HookDeliveries is the delivery log, newest first.
func (s *Server) HookDeliveries() []HookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HookDelivery, 0, len(s.hooks.log))
	for _, d := range slices.Backward(s.hooks.log) {
		out = append(out, d.HookDelivery)
	}
	return out
}

func (s *Server) send(guid, event string, payload []byte, redelivery bool) HookDelivery {
	s.mu.Lock()
	target, secret := s.hooks.url, s.hooks.secret
	s.mu.Unlock()
	d := HookDelivery{GUID: guid, Event: event, Redelivery: redelivery, DeliveredAt: s.now().UTC().Truncate(time.Second)}
	d.Action, d.InstallationID, d.RepositoryID = payloadFacts(payload)

	start := time.Now()
	d.StatusCode, d.Status = post(target, secret, s.AppID, guid, event, payload)
	d.Duration = time.Since(start).Seconds()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.nextID++
	// Delivery ids are large numbers on GitHub; only their order matters.
	d.ID = 30_000_000_000 + s.hooks.nextID
	s.hooks.log = append(s.hooks.log, loggedDelivery{HookDelivery: d, payload: payload})
	return d
}

// post sends one delivery and says what GitHub would log of it.
func post(target string, secret []byte, appID int64, guid, event string, payload []byte) (int, string) {
	if target == "" {
		return 0, "failed to connect to host"
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return 0, "failed to connect to host"
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/githubtest")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", guid)
	h.Set("X-GitHub-Hook-ID", "1")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(appID, 10))
	if len(secret) > 0 {
		h.Set("X-Hub-Signature", "sha1="+mac(sha1.New, secret, payload))
		h.Set("X-Hub-Signature-256", "sha256="+mac(sha256.New, secret, payload))
	}
	resp, err := hookClient.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
			return 0, "timed out"
		}
		return 0, "failed to connect to host"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, "OK"
	}
	return resp.StatusCode, fmt.Sprintf("Invalid HTTP Response: %d", resp.StatusCode)
}

func mac(h func() hash.Hash, secret, body []byte) string {
	m := hmac.New(h, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// payloadFacts reads what the log shows of a payload: its action, the
// installation and the repository.
func payloadFacts(payload []byte) (action string, installation, repository int64) {
	var p struct {
		Action       string `json:"action"`
		Installation struct {
			ID int64 `json:"id"`
		} `json:"installation"`
		Repository struct {
			ID int64 `json:"id"`
		} `json:"repository"`
	}
	_ = json.Unmarshal(payload, &p)
	return p.Action, p.Installation.ID, p.Repository.ID
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// handleListHookDeliveries lists the log newest first, per_page (at most
// 100, default 30) at a time, with a cursor in the Link header's next URL
// as GitHub's do. The cursor names the last delivery of the page, so
// deliveries logged meanwhile do not shift the pages.
func (s *Server) handleListHookDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	perPage, ok := perPageOf(w, q)
	if !ok {
		return
	}
	before := int64(-1)
	if c := q.Get("cursor"); c != "" {
		id, ok := decodeHookCursor(c)
		if !ok {
			writeError(w, http.StatusBadRequest, "Invalid cursor")
			return
		}
		before = id
	}
	s.mu.Lock()
	var page []map[string]any
	more := false
	for _, d := range slices.Backward(s.hooks.log) {
		if before >= 0 && d.ID >= before {
			continue
		}
		if len(page) == perPage {
			more = true
			break
		}
		page = append(page, hookJSON(d.HookDelivery))
	}
	s.mu.Unlock()
	if more {
		v := url.Values{}
		v.Set("per_page", strconv.Itoa(perPage))
		v.Set("cursor", encodeHookCursor(page[len(page)-1]["id"].(int64)))
		w.Header().Set("Link", `<`+s.srv.URL+s.prefix+r.URL.Path+"?"+v.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, append([]map[string]any{}, page...))
}

// handleRedeliver sends a logged delivery again: same guid and payload, a
// new log entry marked redelivery. GitHub queues the attempt and answers
// 202 at once; the fake sends it before answering, so a test sees the
// effect when the call returns.
func (s *Server) handleRedeliver(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("delivery_id"), 10, 64)
	var found *loggedDelivery
	s.mu.Lock()
	if err == nil {
		if i := slices.IndexFunc(s.hooks.log, func(d loggedDelivery) bool { return d.ID == id }); i >= 0 {
			d := s.hooks.log[i]
			found = &d
		}
	}
	s.mu.Unlock()
	if found == nil {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/apps/webhooks#redeliver-a-delivery-for-an-app-webhook")
		return
	}
	s.send(found.GUID, found.Event, found.payload, true)
	writeJSON(w, http.StatusAccepted, map[string]any{})
}

func hookJSON(d HookDelivery) map[string]any {
	orNil := func(v int64) any {
		if v == 0 {
			return nil
		}
		return v
	}
	var action any
	if d.Action != "" {
		action = d.Action
	}
	return map[string]any{
		"id": d.ID, "guid": d.GUID, "delivered_at": d.DeliveredAt.Format(time.RFC3339),
		"redelivery": d.Redelivery, "duration": d.Duration, "status": d.Status, "status_code": d.StatusCode,
		"event": d.Event, "action": action, "installation_id": orNil(d.InstallationID),
		"repository_id": orNil(d.RepositoryID), "throttled_at": nil,
	}
}

func encodeHookCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("hook-deliveries:" + strconv.FormatInt(id, 10)))
}

func decodeHookCursor(c string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "hook-deliveries:")
	id, err := strconv.ParseInt(v, 10, 64)
	return id, ok && err == nil && id > 0
}
