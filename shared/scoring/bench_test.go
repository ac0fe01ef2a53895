package scoring

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// benchData builds n findings and nctx runtime contexts (a power of two).
func benchData(n, nctx int) ([]model.Finding, []Context) {
	rng := rand.New(rand.NewPCG(7, 11))
	severities := []string{"critical", "high", "medium", "low", "", "moderate"}
	sources := []model.Source{model.SourceDefenderCVE, model.SourceDefenderCVE, model.SourceDependabot, model.SourceCodeScanning, model.SourceSecretScanning}
	findings := make([]model.Finding, n)
	for i := range findings {
		f := &findings[i]
		f.Source = sources[rng.IntN(len(sources))]
		f.Severity = severities[rng.IntN(len(severities))]
		if rng.IntN(10) < 7 {
			f.CVSS = cvss(float64(rng.IntN(101)) / 10)
		}
		f.Exploit = model.Exploitability{KnownExploited: rng.IntN(20) == 0, PublicExploit: rng.IntN(10) == 0}
		if rng.IntN(2) == 0 {
			f.Exploit.EPSS = rng.Float64()
		}
	}
	sourcesOfRisk := []string{"deployment-record", "defender-assessment:/subscriptions/6a1e2b3c/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-prod-eus/providers/Microsoft.Security/assessments/c609cf0f", "attack-path:2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f"}
	contexts := make([]Context, nctx)
	for i := range contexts {
		nw := rng.IntN(5) // 0: running nowhere
		ws := make([]WorkloadContext, nw)
		for j := range ws {
			cluster := "aks-prod-eus"
			if rng.IntN(3) == 0 {
				cluster = "aks-stg-weu"
			}
			name := "svc-" + strconv.Itoa(rng.IntN(500))
			ws[j] = WorkloadContext{
				ID: model.WorkloadID(cluster, "shop", name), Cluster: cluster, Namespace: "shop", Name: name,
				Production: cluster == "aks-prod-eus",
				Running:    rng.IntN(8) != 0,
			}
			for k := rng.IntN(5); k > 0; k-- {
				ws[j].Risks = append(ws[j].Risks, model.Risk{
					Factor: model.RiskFactors[rng.IntN(len(model.RiskFactors))],
					Source: sourcesOfRisk[rng.IntN(len(sourcesOfRisk))],
				})
			}
		}
		contexts[i] = Context{Workloads: ws}
	}
	return findings, contexts
}

// BenchmarkScore1M scores 1,000,000 in-memory findings per op, each with
// one of 65,536 varied runtime contexts (nowhere, outside production only,
// production with 0–4 risk factors, several workloads, gone ones), and
// reports findings/s and allocations per finding. Every finding rates its
// context anew (Score).
func BenchmarkScore1M(b *testing.B) {
	p := DefaultPolicy()
	benchScore1M(b, func(findings []model.Finding, contexts []Context) (sink float64) {
		for i := range findings {
			sink += Score(p, &findings[i], contexts[i&(benchContexts-1)]).Score
		}
		return sink
	})
}

// BenchmarkScore1MPrepared is BenchmarkScore1M the way the nightly run
// scores: each context is prepared once (per image / repository) and every
// finding sharing it is scored against it. Preparing is inside the timing.
func BenchmarkScore1MPrepared(b *testing.B) {
	p := DefaultPolicy()
	prepared := make([]Prepared, benchContexts)
	benchScore1M(b, func(findings []model.Finding, contexts []Context) (sink float64) {
		for i := range contexts {
			prepared[i] = Prepare(p, contexts[i])
		}
		for i := range findings {
			sink += prepared[i&(benchContexts-1)].Score(&findings[i]).Score
		}
		return sink
	})
}

// The benchmarks' sizes: findings scored per op, and the runtime contexts
// they share (a power of two).
const benchFindings, benchContexts = 1_000_000, 1 << 16

// benchScore1M times score, once per op, over the findings and contexts of
// benchData; score returns the sum of the scores, which must not be 0.
func benchScore1M(b *testing.B, score func(findings []model.Finding, contexts []Context) float64) {
	findings, contexts := benchData(benchFindings, benchContexts)
	var sink float64
	m := startMeter()
	b.ReportAllocs()
	ops := 0
	for b.Loop() {
		sink += score(findings, contexts)
		ops++
	}
	b.StopTimer()
	m.report(b, float64(ops)*benchFindings)
	if sink == 0 {
		b.Fatal("nothing scored")
	}
}

// meter measures what a benchmark's loop cost per finding. Besides wall
// time it reports the process CPU time (GC included): on a shared machine
// the wall time also counts the time spent waiting for a core.
type meter struct {
	mem runtime.MemStats
	cpu time.Duration
}

func startMeter() *meter {
	m := &meter{}
	runtime.GC()
	runtime.ReadMemStats(&m.mem)
	m.cpu = cpuTime()
	return m
}

func (m *meter) report(b *testing.B, scored float64) {
	cpu := cpuTime() - m.cpu
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(scored/b.Elapsed().Seconds(), "findings/s")
	b.ReportMetric(scored/cpu.Seconds(), "findings/cpu-s")
	b.ReportMetric(float64(after.Mallocs-m.mem.Mallocs)/scored, "allocs/finding")
	b.ReportMetric(float64(after.TotalAlloc-m.mem.TotalAlloc)/scored, "B/finding")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
