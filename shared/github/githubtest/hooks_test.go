package githubtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// hookReceiver is a webhook endpoint that answers what status says and
// keeps what it got.
type hookReceiver struct {
	mu     sync.Mutex
	got    []http.Header
	bodies [][]byte
	status int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got, h.bodies = append(h.got, r.Header.Clone()), append(h.bodies, b)
	status := h.status
	h.mu.Unlock()
	w.WriteHeader(status)
}

// The delivery log as the App reads it: JWT only (an installation token
// and no credentials answer 401, as on GitHub), newest first, cursor pages
// through the Link header; a redelivery sends the same guid and payload
// with a valid signature and is logged as a redelivery.
func TestHookDeliveriesAndRedelivery(t *testing.T) {
	s := New(t)
	recv := &hookReceiver{status: http.StatusServiceUnavailable}
	hs := httptest.NewServer(recv)
	t.Cleanup(hs.Close)
	s.SetWebhook(hs.URL+"/api/github/webhook", "hook-secret")

	payload := []byte(`{"action":"opened","installation":{"id":77},"repository":{"id":5}}`)
	first := s.Deliver("issues", payload)
	if first.StatusCode != 503 || first.Status != "Invalid HTTP Response: 503" || first.Action != "opened" ||
		first.InstallationID != 77 || first.RepositoryID != 5 || first.Redelivery {
		t.Fatalf("logged delivery = %+v", first)
	}
	recv.mu.Lock()
	recv.status = http.StatusOK
	recv.mu.Unlock()
	for i := range 4 {
		s.Deliver("ping", []byte(`{"zen":"`+strconv.Itoa(i)+`"}`))
	}

	jwtAuth := "Bearer " + appJWT(t, s.PrivateKeyPEM, strconv.FormatInt(s.AppID, 10), 2*time.Minute)
	tok := mint(t, s, 9)
	for _, auth := range []string{"", "token " + tok, "Bearer " + tok} {
		if a := call(t, "GET", s.URL+"app/hook/deliveries", auth); a.status != http.StatusUnauthorized {
			t.Errorf("list with %q: %d %s, want 401", auth, a.status, a.body)
		}
		if a := call(t, "POST", s.URL+"app/hook/deliveries/"+strconv.FormatInt(first.ID, 10)+"/attempts", auth); a.status != http.StatusUnauthorized {
			t.Errorf("redeliver with %q: %d %s, want 401", auth, a.status, a.body)
		}
	}

	// Two per page: 2 + 2 + 1, newest first, each entry with GitHub's fields.
	next := regexp.MustCompile(`<([^>]+)>; rel="next"`)
	u := s.URL + "app/hook/deliveries?per_page=2"
	var ids []int64
	for pages := 0; u != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		a := call(t, "GET", u, jwtAuth)
		if a.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", u, a.status, a.body)
		}
		var page []map[string]any
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			for _, k := range []string{"id", "guid", "delivered_at", "redelivery", "status", "status_code", "event", "action", "installation_id"} {
				if _, ok := d[k]; !ok {
					t.Errorf("delivery lacks %s: %v", k, d)
				}
			}
			ids = append(ids, int64(d["id"].(float64)))
		}
		u = ""
		if m := next.FindStringSubmatch(a.header.Get("Link")); m != nil {
			u = m[1]
		}
	}
	if len(ids) != 5 || ids[4] != first.ID || ids[0] <= ids[1] {
		t.Errorf("listed ids %v, want 5, newest first, ending with %d", ids, first.ID)
	}
	if a := call(t, "GET", s.URL+"app/hook/deliveries?cursor=nonsense", jwtAuth); a.status != http.StatusBadRequest {
		t.Errorf("bad cursor: %d, want 400", a.status)
	}

	if a := call(t, "POST", s.URL+"app/hook/deliveries/"+strconv.FormatInt(first.ID, 10)+"/attempts", jwtAuth); a.status != http.StatusAccepted {
		t.Fatalf("redeliver = %d %s", a.status, a.body)
	}
	if a := call(t, "POST", s.URL+"app/hook/deliveries/1/attempts", jwtAuth); a.status != http.StatusNotFound {
		t.Errorf("redeliver an unknown delivery: %d, want 404", a.status)
	}
	log := s.HookDeliveries()
	re := log[0]
	if len(log) != 6 || re.GUID != first.GUID || !re.Redelivery || re.StatusCode != 200 || re.ID <= first.ID || re.Event != "issues" {
		t.Errorf("after the redelivery the log starts %+v (%d entries)", re, len(log))
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	h, body := recv.got[len(recv.got)-1], recv.bodies[len(recv.bodies)-1]
	m := hmac.New(sha256.New, []byte("hook-secret"))
	m.Write(payload)
	if h.Get("X-GitHub-Delivery") != first.GUID || h.Get("X-GitHub-Event") != "issues" || string(body) != string(payload) ||
		h.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("redelivery sent headers %v body %s", h, body)
	}
}

// A webhook that is down is logged with no status code.
func TestDeliverToAHookThatIsDown(t *testing.T) {
	s := New(t)
	hs := httptest.NewServer(http.NotFoundHandler())
	hs.Close()
	s.SetWebhook(hs.URL, "x")
	if d := s.Deliver("ping", []byte(`{}`)); d.StatusCode != 0 || d.Status != "failed to connect to host" {
		t.Errorf("delivery to a closed port = %+v", d)
	}
}
