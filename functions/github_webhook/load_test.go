package githubwebhook_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	githubwebhook "github.com/runtimelink/runtimelink/functions/github_webhook"
)

// The load test is off by default so `make test` stays fast:
//
//	go test ./functions/github_webhook -run TestWebhookLoad -v -args -load [-load.rate=100 -load.duration=25s]
var (
	loadOn       = flag.Bool("load", false, "run TestWebhookLoad")
	loadRate     = flag.Int("load.rate", 100, "requests per second offered by TestWebhookLoad")
	loadDuration = flag.Duration("load.duration", 25*time.Second, "how long TestWebhookLoad offers load")
	loadPings    = flag.Bool("load.pings", false, "offer only pings: the receiver's own cost (signature, dedupe read, delivery record) without triage")
)

// loadDeliveries is a realistic mix: alert events for many findings of
// three sources, most creating a finding, some moving one (dismissed,
// fixed, reopened later in time), and pings.
func loadDeliveries(t testing.TB, n int) []delivery {
	out := make([]delivery, 0, n)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		number := i%400 + 1
		at := base.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		var d delivery
		kind := i % 10
		if *loadPings {
			kind = 9
		}
		switch kind {
		case 0, 1, 2, 3:
			actions := []string{"created", "dismissed", "reopened", "fixed"}
			d = delivery{event: "dependabot_alert", body: variant(t, "dependabot_alert/created.json", func(m map[string]any) {
				m["action"] = actions[(i/400)%len(actions)]
				a := obj(m, "alert")
				a["number"], a["updated_at"] = number, at
			})}
		case 4, 5, 6:
			actions := []string{"created", "closed_by_user", "reopened", "fixed"}
			d = delivery{event: "code_scanning_alert", body: variant(t, "code_scanning_alert/created.json", func(m map[string]any) {
				m["action"] = actions[(i/400)%len(actions)]
				a := obj(m, "alert")
				a["number"], a["updated_at"] = number, at
			})}
		case 7, 8:
			actions := []string{"created", "resolved", "reopened"}
			d = delivery{event: "secret_scanning_alert", body: variant(t, "secret_scanning_alert/reopened.json", func(m map[string]any) {
				m["action"] = actions[(i/400)%len(actions)]
				a := obj(m, "alert")
				a["number"], a["updated_at"] = number, at
			})}
		default:
			d = delivery{event: "ping", body: sample(t, "ping/payload.json")}
		}
		d.id = deliveryID(fmt.Sprint("load", i))
		d.signature = githubwebhook.Sign([]byte(secret), d.body)
		out = append(out, d)
	}
	return out
}

type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// TestWebhookLoad offers a fixed rate of deliveries (open loop: a slow
// answer does not slow the offered load) to the real function over HTTP on
// the emulator, and reports latency percentiles and throughput.
func TestWebhookLoad(t *testing.T) {
	if !*loadOn {
		t.Skip("load test: run with -args -load")
	}
	// countingStore keeps a pool of connections to the emulator; a store
	// opened with the default transport keeps two idle connections and
	// pays a TLS handshake for almost every request under load.
	store, _ := countingStore(t)
	e := newEnv(t, store)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	total := int(loadDuration.Seconds() * float64(*loadRate))
	ds := loadDeliveries(t, total)
	// Warm up: connections, the emulator's containers.
	for _, d := range loadDeliveries(t, 20) {
		d.id = "warmup-" + d.id
		e.post(d)
	}
	t.Logf("load average before: %s", loadAverage())

	var (
		mu       sync.Mutex
		lat      latencies
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	interval := time.Second / time.Duration(*loadRate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := time.Now()
	for _, d := range ds {
		<-tick.C
		wg.Add(1)
		go func(d delivery) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(d.body))
			req.Header.Set(githubwebhook.HeaderEvent, d.event)
			req.Header.Set(githubwebhook.HeaderDelivery, d.id)
			req.Header.Set(githubwebhook.HeaderSignature, d.signature)
			t0 := time.Now()
			resp, err := client.Do(req)
			status := 0
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			d0 := time.Since(t0)
			mu.Lock()
			lat = append(lat, d0)
			statuses[status]++
			mu.Unlock()
		}(d)
	}
	offered := time.Since(start)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("load average after: %s", loadAverage())
	t.Logf("offered %d requests at %d/s over %s; all answered after %s (throughput %.1f req/s)",
		len(ds), *loadRate, offered.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(len(ds))/elapsed.Seconds())
	t.Logf("latency p50 %s p90 %s p99 %s max %s; statuses %v",
		lat.pct(50).Round(time.Microsecond*100), lat.pct(90).Round(time.Microsecond*100),
		lat.pct(99).Round(time.Microsecond*100), lat.pct(100).Round(time.Microsecond*100), statuses)
	// Failures by kind (ids stripped), most frequent first.
	ids := regexp.MustCompile(`[a-z_]+:[\w.-]+:[\w.-]+:\d+|[0-9a-f]{8}-[0-9a-f-]{27}|https?://\S+`)
	failures := map[string]int{}
	for _, l := range e.logs.Lines() {
		if l["level"] == "ERROR" {
			msg, _ := l["error"].(string)
			failures[ids.ReplaceAllString(msg, "<id>")]++
		}
	}
	kinds := slices.SortedFunc(maps.Keys(failures), func(a, b string) int { return failures[b] - failures[a] })
	for i, k := range kinds {
		if i == 5 {
			t.Logf("... %d more kinds of failure", len(kinds)-5)
			break
		}
		t.Logf("%d× %s", failures[k], k)
	}
	if statuses[http.StatusOK] != len(ds) {
		t.Errorf("statuses %v: every delivery must be processed", statuses)
	}
}

// BenchmarkWebhookLatency sends deliveries one after another (closed loop)
// and reports the latency percentiles of the whole path: HTTP, signature,
// dedupe read, handler (triage on the emulator), delivery record.
func BenchmarkWebhookLatency(b *testing.B) {
	store, _ := countingStore(b)
	e := newEnv(b, store)
	ds := loadDeliveries(b, b.N+20)
	for _, d := range ds[:20] {
		d.id = "warmup-" + d.id
		e.post(d)
	}
	lat := make(latencies, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		got := e.post(ds[20+i])
		lat = append(lat, time.Since(t0))
		if got.status != http.StatusOK {
			b.Fatalf("status %d %v", got.status, got.body)
		}
	}
	b.ReportMetric(float64(lat.pct(50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.pct(99).Microseconds())/1000, "p99-ms")
}

// procStatusKB reads one "kB" field of /proc/self/status (VmRSS, VmHWM).
func procStatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err == nil {
				return kb
			}
		}
	}
	return -1
}

// BenchmarkUnsignedFlood: each op is 20 concurrent wrongly signed 25 MB
// bodies (declared lengths), the attack of issue 14. It reports the
// process's peak RSS (VmHWM, reset before the flood) and the answers. The
// client streams its bodies from a reader that allocates nothing, so the
// memory is the handler's.
//
//	go test ./functions/github_webhook -run '^$' -bench BenchmarkUnsignedFlood -benchtime 3x
func BenchmarkUnsignedFlood(b *testing.B) {
	e := newEnv(b, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	const senders = 20
	badSig := "sha256=" + strings.Repeat("0", 64)
	runtime.GC()
	before := procStatusKB("VmRSS")
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
	peakReset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	var mu sync.Mutex
	statuses := map[string]int{}
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, e.url, &countingReader{limit: githubwebhook.MaxPayloadBytes})
				req.ContentLength = githubwebhook.MaxPayloadBytes
				req.Header.Set(githubwebhook.HeaderEvent, "ping")
				req.Header.Set(githubwebhook.HeaderDelivery, deliveryID("flood"))
				req.Header.Set(githubwebhook.HeaderSignature, badSig)
				resp, err := client.Do(req)
				key := "error"
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					key = fmt.Sprint(resp.StatusCode)
				}
				mu.Lock()
				statuses[key]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	peak := procStatusKB("VmHWM")
	if !peakReset {
		b.Logf("VmHWM could not be reset: the peak includes set-up")
	}
	b.ReportMetric(float64(before)/1024, "RSS-before-MB")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
	b.Logf("load average %s; %d×%d bodies of %d MB: answers %v; RSS before %d MB, peak %d MB",
		loadAverage(), b.N, senders, githubwebhook.MaxPayloadBytes>>20, statuses, before/1024, peak/1024)
}
