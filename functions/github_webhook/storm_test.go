package githubwebhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
)

// writeCounter sits under the Cosmos DB client and counts the document
// writes that succeeded, per container and document id.
type writeCounter struct {
	base *http.Client
	mu   sync.Mutex
	n    map[string]int // "container/id" → successful writes
	// calls counts every document request by "container op" (op: read,
	// query, write), successful or not.
	calls map[string]int
}

func (c *writeCounter) Do(req *http.Request) (*http.Response, error) {
	key := ""
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// dbs/{db}/colls/{container}/docs[/{id}]
	isQuery := strings.EqualFold(req.Header.Get("x-ms-documentdb-isquery"), "true") ||
		strings.HasPrefix(req.Header.Get("Content-Type"), "application/query+json")
	if len(parts) >= 5 && parts[0] == "dbs" && parts[2] == "colls" && parts[4] == "docs" && !isQuery {
		switch {
		case req.Method == http.MethodPut && len(parts) == 6:
			id, _ := url.PathUnescape(parts[5])
			key = parts[3] + "/" + id
		case req.Method == http.MethodPost && len(parts) == 5 && req.Body != nil:
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			var doc struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &doc)
			key = parts[3] + "/" + doc.ID
		}
	}
	if len(parts) >= 5 && parts[0] == "dbs" && parts[2] == "colls" && parts[4] == "docs" {
		op := "write"
		switch {
		case isQuery:
			op = "query"
		case req.Method == http.MethodGet:
			op = "read"
		}
		c.mu.Lock()
		if c.calls == nil {
			c.calls = map[string]int{}
		}
		c.calls[parts[3]+" "+op]++
		c.mu.Unlock()
	}
	resp, err := c.base.Do(req)
	if err == nil && key != "" && resp.StatusCode/100 == 2 {
		c.mu.Lock()
		c.n[key]++
		c.mu.Unlock()
	}
	return resp, err
}

// takeCalls returns the document requests counted since the last call, by
// "container op", and starts counting afresh.
func (c *writeCounter) takeCalls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *writeCounter) writes(container string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		if name, id, _ := strings.Cut(k, "/"); name == container {
			out[id] = v
		}
	}
	return out
}

var _ policy.Transporter = (*writeCounter)(nil)

// countingStore is a fresh emulator database whose writes are counted.
func countingStore(t testing.TB) (*cosmos.Store, *writeCounter) {
	t.Helper()
	// The app's own pool (cosmos.HTTPClient), so load tests see its bounds.
	wc := &writeCounter{n: map[string]int{}, base: cosmos.HTTPClient(true)}
	return localstack.StoreThrough(t, wc), wc
}

// alertDeliveries makes n distinct Dependabot alert deliveries (alert
// numbers 1..n of one repository).
func alertDeliveries(t testing.TB, prefix string, n int) []delivery {
	out := make([]delivery, n)
	for i := range n {
		body := variant(t, "dependabot_alert/created.json", func(m map[string]any) {
			a := obj(m, "alert")
			a["number"] = i + 1
			a["html_url"] = fmt.Sprintf("https://github.com/wolfy1339/pika-pack/security/dependabot/%d", i+1)
		})
		out[i] = delivery{event: "dependabot_alert", id: deliveryID(fmt.Sprint(prefix, i)), body: body}
	}
	return out
}

// The same 50 deliveries sent 20 times each, concurrently, leave exactly 50
// effects: 50 findings, each written once, and 50 delivery records.
func TestRedeliveryStorm(t *testing.T) {
	store, wc := countingStore(t)
	e := newEnv(t, store)
	// As many at once as the host lets through (maxConcurrentRequests,
	// which the handler's own in-flight bound equals).
	const distinct, copies, concurrency = 50, 20, invocation.DefaultMaxHTTPInFlight
	ds := alertDeliveries(t, "storm", distinct)
	var all []delivery
	for range copies {
		all = append(all, ds...)
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

	work := make(chan delivery)
	var mu sync.Mutex
	results := map[string]int{}
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				got := e.post(d)
				mu.Lock()
				statuses[got.status]++
				results[got.body["result"]]++
				mu.Unlock()
			}
		}()
	}
	for _, d := range all {
		work <- d
	}
	close(work)
	wg.Wait()
	t.Logf("answers: %v, results: %v", statuses, results)
	if statuses[http.StatusOK] != distinct*copies {
		t.Errorf("statuses = %v, want %d × 200", statuses, distinct*copies)
	}
	if results["processed"] < distinct {
		t.Errorf("processed %d deliveries, want at least %d", results["processed"], distinct)
	}

	fs := findings(t, store)
	if len(fs) != distinct {
		t.Errorf("findings = %d, want %d", len(fs), distinct)
	}
	for _, f := range fs {
		if f.State != model.StateOpen || f.Repository != "wolfy1339/pika-pack" {
			t.Errorf("finding %s: %s in %s", f.ID, f.State, f.Repository)
		}
	}
	writes := wc.writes("findings")
	if len(writes) != distinct {
		t.Errorf("findings written: %d distinct ids, want %d", len(writes), distinct)
	}
	for id, n := range writes {
		if n != 1 {
			t.Errorf("finding %s written %d times, want once", id, n)
		}
	}
	if n := count(t, store)["deliveries"]; n != distinct {
		t.Errorf("delivery records = %d, want %d", n, distinct)
	}
	if w := wc.writes("deliveries"); len(w) != distinct {
		t.Errorf("delivery records written for %d ids, want %d", len(w), distinct)
	}
}
