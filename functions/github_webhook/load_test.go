package githubwebhook_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	githubwebhook "github.com/runtimelink/runtimelink/functions/github_webhook"
	"github.com/runtimelink/runtimelink/shared/proctest"
)

// The load test is off by default so `make test` stays fast; `make bench`
// runs it at 100, 300 and 1,000 requests/s:
//
//	go test ./functions/github_webhook -run TestWebhookLoad -v -args -load [-load.rate=100,300,1000 -load.duration=30s]
var (
	loadOn       = flag.Bool("load", false, "run TestWebhookLoad")
	loadRates    = flag.String("load.rate", "100", "requests per second offered by TestWebhookLoad, one run per comma-separated rate")
	loadDuration = flag.Duration("load.duration", 30*time.Second, "how long TestWebhookLoad offers load at each rate")
	loadLimit    = flag.Int("load.limit", 0, "the handler's HTTP in-flight limit (0: invocation.DefaultMaxHTTPInFlight)")
	loadPings    = flag.Bool("load.pings", false, "offer only pings: the receiver's own cost (signature, dedupe read, delivery record) without triage")
)

// loadMix is a realistic mix: alert events for many findings of three
// sources, most creating a finding, some moving one (dismissed, fixed,
// reopened later in time), and pings. Delivery i is made on demand from
// one template per event and action, so a long run does not hold every
// body in memory (the load generator's memory would hide the handler's).
type loadMix struct {
	templates map[string][]byte // "event/action" → body with mixNumber and mixTime
}

// The template's alert number and updated_at, replaced per delivery.
const (
	mixNumber = 987654321
	mixTime   = "2099-12-31T23:59:59Z"
)

// loadKinds: which of every 10 deliveries is which event, and the actions
// an alert goes through (one per 400 deliveries).
var loadKinds = []struct {
	event, sample string
	share         int
	actions       []string
}{
	{"dependabot_alert", "dependabot_alert/created.json", 4, []string{"created", "dismissed", "reopened", "fixed"}},
	{"code_scanning_alert", "code_scanning_alert/created.json", 3, []string{"created", "closed_by_user", "reopened", "fixed"}},
	{"secret_scanning_alert", "secret_scanning_alert/reopened.json", 2, []string{"created", "resolved", "reopened"}},
	{"ping", "ping/payload.json", 1, []string{""}},
}

func newLoadMix(t testing.TB) *loadMix {
	m := &loadMix{templates: map[string][]byte{}}
	for _, k := range loadKinds {
		for _, action := range k.actions {
			if k.event == "ping" {
				m.templates["ping/"] = sample(t, k.sample)
				continue
			}
			body := variant(t, k.sample, func(v map[string]any) {
				v["action"] = action
				a := obj(v, "alert")
				a["number"], a["updated_at"] = mixNumber, mixTime
			})
			if bytes.Count(body, []byte(fmt.Sprint(mixNumber))) != 1 || bytes.Count(body, []byte(mixTime)) != 1 {
				t.Fatalf("%s: the template's number or time is not unique", k.sample)
			}
			m.templates[k.event+"/"+action] = body
		}
	}
	return m
}

// delivery is delivery i of the mix, signed.
func (m *loadMix) delivery(i int) delivery {
	slot := i % 10
	if *loadPings {
		slot = 9
	}
	k := loadKinds[len(loadKinds)-1]
	for _, kind := range loadKinds {
		if slot < kind.share {
			k = kind
			break
		}
		slot -= kind.share
	}
	action := k.actions[(i/400)%len(k.actions)]
	body := m.templates[k.event+"/"+action]
	if k.event != "ping" {
		at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		body = bytes.Replace(body, []byte(fmt.Sprint(mixNumber)), []byte(fmt.Sprint(i%400+1)), 1)
		body = bytes.Replace(body, []byte(mixTime), []byte(at), 1)
	}
	d := delivery{event: k.event, id: deliveryID(fmt.Sprint("load", i)), body: body}
	d.signature = githubwebhook.Sign([]byte(secret), d.body)
	return d
}

// loadDeliveries is the first n deliveries of the mix.
func loadDeliveries(t testing.TB, n int) []delivery {
	m := newLoadMix(t)
	out := make([]delivery, n)
	for i := range out {
		out[i] = m.delivery(i)
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

// TestWebhookLoad offers each rate of deliveries (open loop: request i
// leaves at start + i/rate whatever the answers before it) to the real
// function over HTTP on the emulator, each rate on a fresh database, and
// reports answers by status, latency percentiles of the admitted (2xx) and
// of the refused (429) requests, CPU and peak RSS. The handler runs in the
// test process beside the load generator, behind no Functions host: its
// own in-flight bound is what refuses. CPU is the process's (handler and
// load generator). Nothing may answer 500 or fail to connect.
func TestWebhookLoad(t *testing.T) {
	if !*loadOn {
		t.Skip("load test: run with -args -load")
	}
	var rates []int
	for _, f := range strings.Split(*loadRates, ",") {
		var r int
		if _, err := fmt.Sscan(f, &r); err != nil || r <= 0 {
			t.Fatalf("-load.rate %q: want positive requests per second", *loadRates)
		}
		rates = append(rates, r)
	}
	t.Logf("machine: %d CPUs, GOMAXPROCS %d; load average at start %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), proctest.LoadAverage())
	for _, rate := range rates {
		t.Run(fmt.Sprintf("%d_per_s", rate), func(t *testing.T) { webhookLoad(t, rate) })
	}
}

// loadAnswer is one request's outcome: status (0 = connection error) and latency.
type loadAnswer struct {
	status int
	d      time.Duration
}

func webhookLoad(t *testing.T, rate int) {
	// countingStore uses the app's own Cosmos DB pool (cosmos.HTTPClient).
	store, _ := countingStore(t)
	e := newEnv(t, store)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	total := int(loadDuration.Seconds() * float64(rate))
	mix := newLoadMix(t)
	// Warm up: connections, the emulator's containers.
	for _, d := range loadDeliveries(t, 20) {
		d.id = "warmup-" + d.id
		e.post(d)
	}
	runtime.GC()
	rssBefore := proctest.StatusKB("VmRSS")
	peakReset := proctest.ResetPeakRSS()
	cpuBefore := proctest.CPU()
	loadBefore := proctest.LoadAverage()

	answers := make([]loadAnswer, total)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := mix.delivery(i)
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
			answers[i] = loadAnswer{status, time.Since(t0)}
		}()
	}
	offered := time.Since(start)
	wg.Wait()
	elapsed := time.Since(start)
	cpu := proctest.CPU() - cpuBefore
	peak := proctest.StatusKB("VmHWM")

	statuses := map[int]int{}
	var admitted, refused latencies
	for _, a := range answers {
		statuses[a.status]++
		switch {
		case a.status >= 200 && a.status < 300:
			admitted = append(admitted, a.d)
		case a.status == http.StatusTooManyRequests:
			refused = append(refused, a.d)
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	t.Logf("load average before %s, after %s", loadBefore, proctest.LoadAverage())
	t.Logf("offered %d requests at %d/s over %s (%.0f/s); all answered after %s",
		total, rate, offered.Round(time.Millisecond), float64(total)/offered.Seconds(), elapsed.Round(time.Millisecond))
	t.Logf("answers by status (0 = connection error): %v", statuses)
	t.Logf("admitted (2xx) %d: p50 %s p99 %s max %s; %.0f/s", len(admitted),
		ms(admitted.pct(50)), ms(admitted.pct(99)), ms(admitted.pct(100)), float64(len(admitted))/elapsed.Seconds())
	t.Logf("refused (429) %d: p50 %s p99 %s", len(refused), ms(refused.pct(50)), ms(refused.pct(99)))
	t.Logf("process CPU (handler and load generator) %.1f s over %.1f s = %.2f cores, %.2f ms per request",
		cpu.Seconds(), elapsed.Seconds(), cpu.Seconds()/elapsed.Seconds(), float64(cpu.Microseconds())/1000/float64(total))
	if !peakReset {
		t.Logf("VmHWM could not be reset: the peak includes set-up")
	}
	t.Logf("RSS before %d MB, peak %d MB", rssBefore/1024, peak/1024)
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
	for status, n := range statuses {
		if status == 0 || status >= 500 {
			t.Errorf("%d answers with status %d (0 = connection error): overload must be refused with 429, never fail", n, status)
		}
	}
	if len(admitted) == 0 {
		t.Error("no delivery was admitted")
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
	before := proctest.StatusKB("VmRSS")
	peakReset := proctest.ResetPeakRSS()
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
	peak := proctest.StatusKB("VmHWM")
	if !peakReset {
		b.Logf("VmHWM could not be reset: the peak includes set-up")
	}
	b.ReportMetric(float64(before)/1024, "RSS-before-MB")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
	b.Logf("load average %s; %d×%d bodies of %d MB: answers %v; RSS before %d MB, peak %d MB",
		proctest.LoadAverage(), b.N, senders, githubwebhook.MaxPayloadBytes>>20, statuses, before/1024, peak/1024)
}
