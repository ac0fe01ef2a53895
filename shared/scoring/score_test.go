package scoring

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func cvss(v float64) *float64 { return &v }

func prod(cluster, ns, name string, risks ...model.Risk) WorkloadContext {
	return WorkloadContext{ID: model.WorkloadID(cluster, ns, name), Cluster: cluster, Namespace: ns, Name: name, Production: true, Running: true, Risks: risks}
}

func nonProd(cluster, ns, name string, risks ...model.Risk) WorkloadContext {
	w := prod(cluster, ns, name, risks...)
	w.Production = false
	return w
}

func gone(w WorkloadContext) WorkloadContext { w.Running = false; return w }

func risk(f model.RiskFactor, src string) model.Risk { return model.Risk{Factor: f, Source: src} }

const (
	assessment = "defender-assessment:/subscriptions/s/providers/Microsoft.Security/assessments/c609cf0f"
	attackPath = "attack-path:2c4e6f80"
)

func ctxOf(ws ...WorkloadContext) Context { return Context{Workloads: ws} }

func TestScore(t *testing.T) {
	checkout := prod("aks-prod-eus", "shop", "checkout-api",
		risk(model.RiskInternetExposed, assessment),
		risk(model.RiskSensitiveData, assessment))
	tests := []struct {
		name     string
		policy   *Policy // nil: default
		finding  model.Finding
		ctx      Context
		score    float64
		priority model.Priority
		capped   bool
		factors  []model.Factor // nil: not checked factor by factor
	}{
		{
			name:    "DESIGN example: High CVE in production, internet-exposed with sensitive data",
			finding: model.Finding{Source: model.SourceDefenderCVE, Severity: "high", CVSS: cvss(7.5)},
			ctx:     ctxOf(checkout),
			score:   10, priority: model.PriorityCritical,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: aks-prod-eus/shop/checkout-api"},
				{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5, Source: "workload aks-prod-eus/shop/checkout-api via " + assessment},
				{Name: "sensitive-data", Op: "+", Value: 1, Contribution: 1, Source: "workload aks-prod-eus/shop/checkout-api via " + assessment},
			},
		},
		{
			name:    "DESIGN example: Critical CVE in an image running nowhere",
			finding: model.Finding{Source: model.SourceDefenderCVE, Severity: "critical"},
			ctx:     Context{},
			score:   4.75, priority: model.PriorityMedium,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 9.5, Contribution: 9.5, Source: "severity:critical"},
				{Name: "deployment", Op: "x", Value: 0.5, Contribution: -4.75, Source: "not running anywhere"},
			},
		},
		{
			name:    "no CVSS: severity base",
			finding: model.Finding{Source: model.SourceDependabot, Severity: "high"},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   7.5, priority: model.PriorityHigh,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "severity:high"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: c/ns/w"},
			},
		},
		{
			name:    "CVSS 0 is GitHub's 'no score': severity base",
			finding: model.Finding{Source: model.SourceDependabot, Severity: "low", CVSS: cvss(0)},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   2, priority: model.PriorityLow,
		},
		{
			name:    "CVSS out of range is ignored",
			finding: model.Finding{Source: model.SourceDependabot, Severity: "medium", CVSS: cvss(11)},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   5, priority: model.PriorityMedium,
		},
		{
			name:    "CVSS wins over severity",
			finding: model.Finding{Source: model.SourceDependabot, Severity: "critical", CVSS: cvss(6.1)},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   6.1, priority: model.PriorityMedium,
		},
		{
			name:    "unknown severity, no CVSS: treated as medium and said so",
			finding: model.Finding{Source: model.SourceDependabot},
			ctx:     Context{},
			score:   2.5, priority: model.PriorityLow,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 5, Contribution: 5, Source: "severity unknown"},
				{Name: "deployment", Op: "x", Value: 0.5, Contribution: -2.5, Source: "not running anywhere"},
			},
		},
		{
			name:    "unrecognised severity is quoted",
			finding: model.Finding{Source: model.SourceDefenderAlert, Severity: "Important"},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   5, priority: model.PriorityMedium,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 5, Contribution: 5, Source: `severity unknown: "Important"`},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: c/ns/w"},
			},
		},
		{
			name:    "severity in another case",
			finding: model.Finding{Source: model.SourceDefenderAlert, Severity: " HIGH"},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   7.5, priority: model.PriorityHigh,
		},
		{
			name:    "moderate is medium",
			finding: model.Finding{Source: model.SourceDependabot, Severity: "moderate"},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   5, priority: model.PriorityMedium,
		},
		{
			name:    "code scanning uses security_severity_level",
			finding: model.Finding{Source: model.SourceCodeScanning, Severity: "high"},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   7.5, priority: model.PriorityHigh,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "security_severity_level:high"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: c/ns/w"},
			},
		},
		{
			name:    "secret scanning in production",
			finding: model.Finding{Source: model.SourceSecretScanning, Severity: "high"},
			ctx:     ctxOf(prod("c", "ns", "w")),
			score:   9, priority: model.PriorityCritical,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 9, Contribution: 9, Source: "secret scanning"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: c/ns/w"},
			},
		},
		{
			name:    "secret scanning running nowhere",
			finding: model.Finding{Source: model.SourceSecretScanning},
			ctx:     Context{},
			score:   4.5, priority: model.PriorityMedium,
		},
		{
			name:    "several production workloads: the worst one counts, not the union",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(7.5)},
			ctx: ctxOf(
				prod("aks", "a", "exposed", risk(model.RiskInternetExposed, "deployment-record")),                                // 1.5
				prod("aks", "b", "data", risk(model.RiskSensitiveData, assessment), risk(model.RiskLateralMovement, attackPath)), // 1.75
				prod("aks", "c", "plain"),
			),
			score: 9.25, priority: model.PriorityCritical,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: aks/b/data and 2 more"},
				{Name: "sensitive-data", Op: "+", Value: 1, Contribution: 1, Source: "workload aks/b/data via " + assessment},
				{Name: "lateral-movement", Op: "+", Value: 0.75, Contribution: 0.75, Source: "workload aks/b/data via " + attackPath},
			},
		},
		{
			name:    "equal worst workloads: the smallest id wins, whatever the order",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(5)},
			ctx: ctxOf(
				prod("aks", "b", "lateral", risk(model.RiskLateralMovement, attackPath)),
				prod("aks", "a", "critical", risk(model.RiskCriticalResource, assessment)),
			),
			score: 5.75, priority: model.PriorityMedium,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 5, Contribution: 5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: aks/a/critical and 1 more"},
				{Name: "critical-resource", Op: "+", Value: 0.75, Contribution: 0.75, Source: "workload aks/a/critical via " + assessment},
			},
		},
		{
			name:    "production and non-production mixed: only production risks count",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(7.5)},
			ctx: ctxOf(
				nonProd("aks-stg", "shop", "checkout-api", risk(model.RiskInternetExposed, "deployment-record")),
				prod("aks-prod", "shop", "checkout-api"),
			),
			score: 7.5, priority: model.PriorityHigh,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: aks-prod/shop/checkout-api"},
			},
		},
		{
			name:    "non-production only",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(7.5)},
			ctx: ctxOf(
				nonProd("aks-stg", "shop", "checkout-api", risk(model.RiskInternetExposed, "deployment-record")),
				nonProd("aks-dev", "shop", "checkout-api"),
			),
			score: 5.63, priority: model.PriorityMedium,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 0.75, Contribution: -1.875, Source: "running outside production only: aks-dev/shop/checkout-api and 1 more"},
			},
		},
		{
			name:    "a gone production workload no longer counts",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(7.5)},
			ctx: ctxOf(
				gone(prod("aks-prod", "shop", "checkout-api", risk(model.RiskInternetExposed, assessment))),
				nonProd("aks-stg", "shop", "checkout-api"),
			),
			score: 5.63, priority: model.PriorityMedium,
		},
		{
			name:    "only gone workloads: not running",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(7.5)},
			ctx:     ctxOf(gone(prod("aks-prod", "shop", "checkout-api", risk(model.RiskInternetExposed, assessment)))),
			score:   3.75, priority: model.PriorityLow,
		},
		{
			name:    "workload without namespace or names",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(4)},
			ctx: ctxOf(
				WorkloadContext{ID: "opaque-id", Production: true, Running: true, Risks: []model.Risk{risk(model.RiskInternetExposed, "")}},
			),
			score: 5.5, priority: model.PriorityMedium,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 4, Contribution: 4, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: opaque-id"},
				{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5, Source: "workload opaque-id"},
			},
		},
		{
			name:    "one factor from two records counts once, both named",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(5)},
			ctx: ctxOf(prod("aks", "", "api",
				risk(model.RiskInternetExposed, "deployment-record"),
				risk(model.RiskInternetExposed, assessment),
				risk(model.RiskInternetExposed, assessment),
				risk("made-up-factor", "deployment-record"),
			)),
			score: 6.5, priority: model.PriorityMedium,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 5, Contribution: 5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: aks/api"},
				{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5, Source: "workload aks/api via " + assessment + ", deployment-record"},
			},
		},
		{
			name:    "exploitability",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(5), Exploit: model.Exploitability{KnownExploited: true, PublicExploit: true}},
			ctx:     Context{},
			score:   3.5, priority: model.PriorityLow,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 5, Contribution: 5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 0.5, Contribution: -2.5, Source: "not running anywhere"},
				{Name: "exploitability", Op: "+", Value: 1, Contribution: 1, Source: "known exploited, public exploit"},
			},
		},
		{
			name:    "exploit kit alone",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(5), Exploit: model.Exploitability{ExploitKit: true}},
			ctx:     ctxOf(prod("c", "n", "w")),
			score:   6, priority: model.PriorityMedium,
		},
		{
			name:    "EPSS exactly at the threshold counts",
			finding: model.Finding{Source: model.SourceDependabot, CVSS: cvss(6.5), Exploit: model.Exploitability{EPSS: 0.5}},
			ctx:     ctxOf(prod("c", "n", "w")),
			score:   7, priority: model.PriorityHigh,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 6.5, Contribution: 6.5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: c/n/w"},
				{Name: "epss", Op: "+", Value: 0.5, Contribution: 0.5, Source: "epss 0.5 >= 0.5"},
			},
		},
		{
			name:    "EPSS just below the threshold does not",
			finding: model.Finding{Source: model.SourceDependabot, CVSS: cvss(6.5), Exploit: model.Exploitability{EPSS: 0.4999}},
			ctx:     ctxOf(prod("c", "n", "w")),
			score:   6.5, priority: model.PriorityMedium,
		},
		{
			name:    "EPSS 0 means unknown even with a zero threshold",
			policy:  func() *Policy { p := DefaultPolicy(); p.Exploit.EPSSThreshold = 0; return &p }(),
			finding: model.Finding{Source: model.SourceDependabot, CVSS: cvss(6.5)},
			ctx:     ctxOf(prod("c", "n", "w")),
			score:   6.5, priority: model.PriorityMedium,
		},
		{
			name: "cap",
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(9.8),
				Exploit: model.Exploitability{KnownExploited: true, EPSS: 0.97}},
			ctx:   ctxOf(checkout),
			score: 10, priority: model.PriorityCritical, capped: true,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 9.8, Contribution: 9.8, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: aks-prod-eus/shop/checkout-api"},
				{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5, Source: "workload aks-prod-eus/shop/checkout-api via " + assessment},
				{Name: "sensitive-data", Op: "+", Value: 1, Contribution: 1, Source: "workload aks-prod-eus/shop/checkout-api via " + assessment},
				{Name: "exploitability", Op: "+", Value: 1, Contribution: 1, Source: "known exploited"},
				{Name: "epss", Op: "+", Value: 0.5, Contribution: 0.5, Source: "epss 0.97 >= 0.5"},
			},
		},
		{
			name:    "band edges use the rounded score",
			finding: model.Finding{Source: model.SourceDependabot, CVSS: cvss(8.9999)},
			ctx:     ctxOf(prod("c", "n", "w")),
			score:   9, priority: model.PriorityCritical,
		},
		{
			name: "custom policy weights and bands",
			policy: func() *Policy {
				p := DefaultPolicy()
				p.Risk.InternetExposed = 3
				p.Deployment.NotRunning = 0.2
				p.Bands = Bands{Critical: 9.5, High: 8, Medium: 3}
				return &p
			}(),
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(5)},
			ctx:     ctxOf(prod("c", "n", "w", risk(model.RiskInternetExposed, "deployment-record"))),
			score:   8, priority: model.PriorityHigh,
		},
		{
			name: "a heavier factor is listed first",
			policy: func() *Policy {
				p := DefaultPolicy()
				p.Risk.LateralMovement = 2
				return &p
			}(),
			finding: model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(5)},
			ctx: ctxOf(prod("c", "n", "w",
				risk(model.RiskInternetExposed, "deployment-record"),
				risk(model.RiskLateralMovement, attackPath),
				risk(model.RiskCriticalResource, assessment))),
			score: 9.25, priority: model.PriorityCritical,
			factors: []model.Factor{
				{Name: "base", Op: "=", Value: 5, Contribution: 5, Source: "cvss"},
				{Name: "deployment", Op: "x", Value: 1, Contribution: 0, Source: "running in production: c/n/w"},
				{Name: "lateral-movement", Op: "+", Value: 2, Contribution: 2, Source: "workload c/n/w via " + attackPath},
				{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5, Source: "workload c/n/w via deployment-record"},
				{Name: "critical-resource", Op: "+", Value: 0.75, Contribution: 0.75, Source: "workload c/n/w via " + assessment},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			if tc.policy != nil {
				p = *tc.policy
			}
			got := Score(p, &tc.finding, tc.ctx)
			if got.Score != tc.score || got.Priority != tc.priority || got.Explanation.Capped != tc.capped {
				t.Errorf("Score = %v %s capped=%v, want %v %s capped=%v\nfactors: %+v",
					got.Score, got.Priority, got.Explanation.Capped, tc.score, tc.priority, tc.capped, got.Explanation.Factors)
			}
			if tc.factors != nil && !reflect.DeepEqual(got.Explanation.Factors, tc.factors) {
				t.Errorf("factors:\n got %+v\nwant %+v", got.Explanation.Factors, tc.factors)
			}
			// The contributions explain the score: they add up to it
			// unless the cap cut the sum.
			sum := 0.0
			for _, f := range got.Explanation.Factors {
				sum += f.Contribution
			}
			if !tc.capped && round2(sum) != got.Score {
				t.Errorf("contributions add up to %v, score is %v", sum, got.Score)
			}
			if tc.capped && sum <= got.Score {
				t.Errorf("capped, but contributions add up to only %v", sum)
			}
		})
	}
}

// The same finding and workloads in any order give the identical result.
func TestScoreDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	factors := model.RiskFactors
	for run := 0; run < 200; run++ {
		var ws []WorkloadContext
		for i := 0; i < 1+rng.IntN(6); i++ {
			w := prod("aks", "ns", string(rune('a'+rng.IntN(8)))+"-api")
			w.ID += string(rune('0' + i)) // unique ids
			w.Production = rng.IntN(2) == 0
			w.Running = rng.IntN(4) != 0
			for j := 0; j < rng.IntN(4); j++ {
				src := []string{"deployment-record", assessment, attackPath}[rng.IntN(3)]
				w.Risks = append(w.Risks, risk(factors[rng.IntN(len(factors))], src))
			}
			ws = append(ws, w)
		}
		f := model.Finding{Source: model.SourceDefenderCVE, CVSS: cvss(float64(rng.IntN(100)) / 10), Exploit: model.Exploitability{EPSS: rng.Float64()}}
		want := Score(DefaultPolicy(), &f, Context{Workloads: ws})
		pc := Prepare(DefaultPolicy(), Context{Workloads: ws})
		if got := pc.Score(&f); !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d: Prepare(...).Score differs from Score\n got %+v\nwant %+v", run, got, want)
		}
		for k := 0; k < 5; k++ {
			shuffled := append([]WorkloadContext(nil), ws...)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			for i := range shuffled {
				r := append([]model.Risk(nil), shuffled[i].Risks...)
				rng.Shuffle(len(r), func(a, b int) { r[a], r[b] = r[b], r[a] })
				shuffled[i].Risks = r
			}
			if got := Score(DefaultPolicy(), &f, Context{Workloads: shuffled}); !reflect.DeepEqual(got, want) {
				t.Fatalf("run %d: order changed the result\n got %+v\nwant %+v", run, got, want)
			}
		}
	}
}

func TestChanged(t *testing.T) {
	f := model.Finding{ID: "x", Source: model.SourceDefenderCVE, CVSS: cvss(7.5)}
	ctx := ctxOf(prod("aks", "shop", "api", risk(model.RiskInternetExposed, assessment)))
	r := Score(DefaultPolicy(), &f, ctx)
	if !r.Changed(&f) {
		t.Fatal("a never-scored finding must count as changed")
	}
	if !r.Apply(&f) {
		t.Fatal("Apply on a never-scored finding reported no change")
	}
	if r.Changed(&f) || r.Apply(&f) {
		t.Fatal("the same result applied twice reports a change")
	}

	// The stored finding went through JSON (Cosmos): still unchanged.
	raw, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var stored model.Finding
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	if again := Score(DefaultPolicy(), &stored, ctx); again.Changed(&stored) {
		t.Fatalf("re-score after a JSON round trip reports a change: %+v vs %+v", again.Explanation, stored.Explanation)
	}

	mutations := map[string]func(*model.Finding){
		"score":    func(f *model.Finding) { f.Score = 8 },
		"priority": func(f *model.Finding) { f.Priority = model.PriorityLow },
		"capped":   func(f *model.Finding) { f.Explanation.Capped = true },
		"source": func(f *model.Finding) {
			f.Explanation.Factors = append([]model.Factor(nil), f.Explanation.Factors...)
			f.Explanation.Factors[2].Source = "workload other"
		},
		"one factor fewer": func(f *model.Finding) {
			f.Explanation.Factors = f.Explanation.Factors[:len(f.Explanation.Factors)-1]
		},
	}
	for name, mutate := range mutations {
		g := stored
		mutate(&g)
		if !r.Changed(&g) {
			t.Errorf("%s changed, Changed() = false", name)
		}
	}

	// The context changes: the workload loses its exposure.
	calmer := Score(DefaultPolicy(), &stored, ctxOf(prod("aks", "shop", "api")))
	if !calmer.Changed(&stored) {
		t.Error("losing a risk factor is not reported as a change")
	}
}

func TestWorkloadContextOf(t *testing.T) {
	w := model.Workload{ID: "aks:shop:api", Cluster: "aks", Namespace: "shop", Name: "api", Production: true,
		Status: model.WorkloadRunning, Risks: []model.Risk{risk(model.RiskInternetExposed, "deployment-record")}}
	got := WorkloadContextOf(&w)
	want := WorkloadContext{ID: "aks:shop:api", Cluster: "aks", Namespace: "shop", Name: "api", Production: true, Running: true, Risks: w.Risks}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	w.Status = model.WorkloadGone
	if WorkloadContextOf(&w).Running {
		t.Error("a gone workload is running")
	}
	w.Status = "" // documents written before status existed still run
	if !WorkloadContextOf(&w).Running {
		t.Error("a workload without status is not running")
	}
	other := model.Workload{ID: "aks:shop:web", Cluster: "aks", Namespace: "shop", Name: "web", Status: model.WorkloadGone}
	ctx := ContextOf([]model.Workload{w, other})
	if len(ctx.Workloads) != 2 || ctx.Workloads[0].ID != w.ID || ctx.Workloads[1].Running {
		t.Errorf("ContextOf = %+v", ctx)
	}
}
