package scoring

import (
	"math"
	"strconv"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Factor names in an explanation.
const (
	FactorBase           = "base"
	FactorDeployment     = "deployment"
	FactorExploitability = "exploitability"
	FactorEPSS           = "epss"
	// Runtime risk factors are named by their model.RiskFactor
	// ("internet-exposed", ...).
)

// Factor operations (model.Factor.Op).
const (
	OpSet = "="
	OpMul = "x"
	OpAdd = "+"
)

// Context is the runtime context of one finding: every workload known to run
// its image (image CVEs) or code built from its repository (GHAS alerts).
type Context struct {
	Workloads []WorkloadContext
}

// WorkloadContext is what scoring needs to know about one workload.
type WorkloadContext struct {
	ID                       string
	Cluster, Namespace, Name string
	Production               bool
	// Running is false for a workload that is gone; such a workload no
	// longer counts for anything.
	Running bool
	Risks   []model.Risk
}

// WorkloadContextOf takes the scoring view of a stored workload.
func WorkloadContextOf(w *model.Workload) WorkloadContext {
	return WorkloadContext{
		ID:         w.ID,
		Cluster:    w.Cluster,
		Namespace:  w.Namespace,
		Name:       w.Name,
		Production: w.Production,
		Running:    w.Status != model.WorkloadGone,
		Risks:      w.Risks,
	}
}

// ContextOf builds the context of a finding from the stored workloads that
// run it (for example mapping.Index's DigestWorkloads or RepoWorkloads).
func ContextOf(workloads []model.Workload) Context {
	ctx := Context{Workloads: make([]WorkloadContext, len(workloads))}
	for i := range workloads {
		ctx.Workloads[i] = WorkloadContextOf(&workloads[i])
	}
	return ctx
}

// Result is a score with its priority and explanation.
type Result struct {
	Score       float64 // 0..cap, rounded to 2 decimals
	Priority    model.Priority
	Explanation model.Explanation
}

// Changed reports whether the result differs from what the finding holds
// (score, priority or any factor of the explanation), so a re-score writes
// only findings that changed.
func (r Result) Changed(f *model.Finding) bool {
	return r.Score != f.Score || r.Priority != f.Priority || !sameExplanation(r.Explanation, f.Explanation)
}

// Apply stores the result on the finding and reports whether that changed it.
func (r Result) Apply(f *model.Finding) bool {
	if !r.Changed(f) {
		return false
	}
	f.Score, f.Priority, f.Explanation = r.Score, r.Priority, r.Explanation
	return true
}

func sameExplanation(a, b model.Explanation) bool {
	if a.Capped != b.Capped || len(a.Factors) != len(b.Factors) {
		return false
	}
	for i := range a.Factors {
		if a.Factors[i] != b.Factors[i] {
			return false
		}
	}
	return true
}

// Score rates one finding in its runtime context:
//
//   - base: the CVSS v3 base score when known (0 < cvss ≤ 10: GitHub reports
//     0 for "no CVSS"), else the severity's base; secret scanning always
//     uses its own base; an unknown severity uses Base.Unknown (medium).
//   - deployment: × NotRunning when no workload runs it, × NonProduction
//     when it runs only outside production, × Production otherwise.
//     Gone workloads are ignored.
//   - runtime risk factors: those of the worst running production workload
//     (the one whose factors add up the most; ties go to the smallest id),
//     not a union across workloads, so one exposed workload and another
//     with sensitive data do not make up a combined risk neither has.
//   - exploitability: + Exploited for a known exploit, exploit kit or
//     public exploit; + EPSS when 0 < EPSS and EPSS ≥ EPSSThreshold.
//   - the sum is capped at Cap; the priority band is taken from the
//     rounded score, so the score shown always matches its band.
//
// Each factor's Contribution is the change of the score it caused, before
// the cap; Explanation.Capped says when the cap cut the sum.
//
// Score(p, f, ctx) equals Prepare(p, ctx).Score(f); use Prepare when many
// findings share one context.
func Score(p Policy, f *model.Finding, ctx Context) Result {
	pc := Prepare(p, ctx)
	return pc.Score(f)
}

// Prepared is a policy applied to one runtime context: the deployment and
// risk factor terms, rated once for every finding that shares the context
// (all CVEs of one image, all alerts of one repository).
type Prepared struct {
	policy Policy
	mult   float64
	deploy string
	risks  [4]model.Factor // Contribution holds the addend
	nrisks int
}

// Prepare rates a runtime context under a policy.
func Prepare(p Policy, ctx Context) Prepared {
	pc := Prepared{policy: p, mult: p.Deployment.NotRunning, deploy: "not running anywhere"}
	sel := selectWorkloads(&p, ctx.Workloads)
	switch {
	case sel.prod >= 0:
		pc.mult = p.Deployment.Production
		pc.deploy = describe("running in production: ", &ctx.Workloads[sel.prod], sel.prodCount)
	case sel.nonProd >= 0:
		pc.mult = p.Deployment.NonProduction
		pc.deploy = describe("running outside production only: ", &ctx.Workloads[sel.nonProd], sel.nonProdCount)
	}
	if sel.prod >= 0 && sel.mask != 0 {
		w := &ctx.Workloads[sel.prod]
		label := workloadLabel(w)
		order, n := orderedFactors(&p, sel.mask)
		for i, rf := range order[:n] {
			v := p.Risk.weight(rf)
			pc.risks[i] = model.Factor{Name: string(rf), Op: OpAdd, Value: v, Contribution: round4(v), Source: riskSource(label, w.Risks, rf)}
		}
		pc.nrisks = n
	}
	return pc
}

// Score rates one finding in the prepared context (see the package
// function Score for the formula).
func (pc *Prepared) Score(f *model.Finding) Result {
	p := &pc.policy
	base, baseSource := baseOf(p, f)
	exploit := exploitSource(f.Exploit)
	epss := f.Exploit.EPSS > 0 && f.Exploit.EPSS >= p.Exploit.EPSSThreshold

	n := 2 + pc.nrisks
	if exploit != "" {
		n++
	}
	if epss {
		n++
	}
	factors := make([]model.Factor, 0, n)

	factors = append(factors, model.Factor{Name: FactorBase, Op: OpSet, Value: base, Contribution: round4(base), Source: baseSource})
	score := base
	deployed := score * pc.mult
	factors = append(factors, model.Factor{Name: FactorDeployment, Op: OpMul, Value: pc.mult, Contribution: round4(deployed - score), Source: pc.deploy})
	score = deployed
	for _, r := range pc.risks[:pc.nrisks] {
		factors = append(factors, r)
		score += r.Value
	}
	if exploit != "" {
		v := p.Exploit.Exploited
		factors = append(factors, model.Factor{Name: FactorExploitability, Op: OpAdd, Value: v, Contribution: round4(v), Source: exploit})
		score += v
	}
	if epss {
		v := p.Exploit.EPSS
		factors = append(factors, model.Factor{Name: FactorEPSS, Op: OpAdd, Value: v, Contribution: round4(v), Source: epssSource(f.Exploit.EPSS, p.Exploit.EPSSThreshold)})
		score += v
	}

	capped := false
	if score > p.Cap {
		score, capped = p.Cap, true
	}
	score = round2(score)
	return Result{
		Score:       score,
		Priority:    p.Bands.Priority(score),
		Explanation: model.Explanation{Factors: factors, Capped: capped},
	}
}

// Priority is the band a score falls in.
func (b Bands) Priority(score float64) model.Priority {
	switch {
	case score >= b.Critical:
		return model.PriorityCritical
	case score >= b.High:
		return model.PriorityHigh
	case score >= b.Medium:
		return model.PriorityMedium
	}
	return model.PriorityLow
}

// Base sources, built once so the hot path does not allocate them.
var severitySources = [...]struct{ plain, codeScanning string }{
	{"severity:critical", "security_severity_level:critical"},
	{"severity:high", "security_severity_level:high"},
	{"severity:medium", "security_severity_level:medium"},
	{"severity:low", "security_severity_level:low"},
}

func baseOf(p *Policy, f *model.Finding) (float64, string) {
	if f.Source == model.SourceSecretScanning {
		return p.Base.SecretScanning, "secret scanning"
	}
	if c := f.CVSS; c != nil && *c > 0 && *c <= 10 {
		return *c, "cvss"
	}
	i := severityIndex(f.Severity)
	if i < 0 {
		if strings.TrimSpace(f.Severity) == "" {
			return p.Base.Unknown, "severity unknown"
		}
		return p.Base.Unknown, "severity unknown: " + strconv.Quote(f.Severity)
	}
	v := [...]float64{p.Base.Critical, p.Base.High, p.Base.Medium, p.Base.Low}[i]
	if f.Source == model.SourceCodeScanning {
		return v, severitySources[i].codeScanning
	}
	return v, severitySources[i].plain
}

// severityIndex maps a severity to critical 0, high 1, medium 2, low 3 or -1.
// "moderate" is GitHub's advisory spelling of medium.
func severityIndex(s string) int {
	switch s {
	case "critical":
		return 0
	case "high":
		return 1
	case "medium", "moderate":
		return 2
	case "low":
		return 3
	}
	s = strings.TrimSpace(s)
	for i, name := range [...]string{"critical", "high", "medium", "low"} {
		if strings.EqualFold(s, name) {
			return i
		}
	}
	if strings.EqualFold(s, "moderate") {
		return 2
	}
	return -1
}

// Risk factor bits, in model.RiskFactors order.
const (
	bitCriticalResource = 1 << iota
	bitInternetExposed
	bitLateralMovement
	bitSensitiveData
)

func riskBit(f model.RiskFactor) int {
	switch f {
	case model.RiskCriticalResource:
		return bitCriticalResource
	case model.RiskInternetExposed:
		return bitInternetExposed
	case model.RiskLateralMovement:
		return bitLateralMovement
	case model.RiskSensitiveData:
		return bitSensitiveData
	}
	return 0 // a factor the policy does not weigh
}

func (r RiskWeights) weight(f model.RiskFactor) float64 {
	switch f {
	case model.RiskCriticalResource:
		return r.CriticalResource
	case model.RiskInternetExposed:
		return r.InternetExposed
	case model.RiskLateralMovement:
		return r.LateralMovement
	case model.RiskSensitiveData:
		return r.SensitiveData
	}
	return 0
}

// maskAddend sums the weights of the factors in mask.
func (r RiskWeights) maskAddend(mask int) float64 {
	sum := 0.0
	// Add in a fixed order so the float sum is the same for equal masks.
	if mask&bitCriticalResource != 0 {
		sum += r.CriticalResource
	}
	if mask&bitInternetExposed != 0 {
		sum += r.InternetExposed
	}
	if mask&bitLateralMovement != 0 {
		sum += r.LateralMovement
	}
	if mask&bitSensitiveData != 0 {
		sum += r.SensitiveData
	}
	return sum
}

// orderedFactors lists the factors of mask, heaviest first, then by name,
// so the explanation reads from the biggest reason down.
// An array, not a slice, keeps it off the heap.
func orderedFactors(p *Policy, mask int) (out [4]model.RiskFactor, n int) {
	for _, f := range model.RiskFactors { // sorted by name
		if mask&riskBit(f) == 0 {
			continue
		}
		i := n
		n++
		for ; i > 0 && p.Risk.weight(out[i-1]) < p.Risk.weight(f); i-- {
			out[i] = out[i-1]
		}
		out[i] = f
	}
	return out, n
}

func riskMask(risks []model.Risk) int {
	mask := 0
	for i := range risks {
		mask |= riskBit(risks[i].Factor)
	}
	return mask
}

type selection struct {
	prod, nonProd           int // index into the workloads, -1 when none
	prodCount, nonProdCount int
	mask                    int // risk factors of the chosen production workload
}

// selectWorkloads finds the worst running production workload (highest
// risk addend, ties to the smallest id) and, for the explanation when none
// runs in production, the running non-production workload with the
// smallest id.
func selectWorkloads(p *Policy, ws []WorkloadContext) selection {
	s := selection{prod: -1, nonProd: -1}
	best := -1.0
	for i := range ws {
		w := &ws[i]
		if !w.Running {
			continue
		}
		if !w.Production {
			s.nonProdCount++
			if s.nonProd < 0 || w.ID < ws[s.nonProd].ID {
				s.nonProd = i
			}
			continue
		}
		s.prodCount++
		mask := riskMask(w.Risks)
		add := p.Risk.maskAddend(mask)
		if add > best || (add == best && w.ID < ws[s.prod].ID) {
			s.prod, s.mask, best = i, mask, add
		}
	}
	return s
}

func workloadLabel(w *WorkloadContext) string {
	if w.Cluster == "" && w.Name == "" {
		return w.ID
	}
	if w.Namespace == "" {
		return w.Cluster + "/" + w.Name
	}
	return w.Cluster + "/" + w.Namespace + "/" + w.Name
}

// describe names the chosen workload and how many others are like it. The
// common single-workload case is one concatenation: one allocation.
func describe(prefix string, w *WorkloadContext, count int) string {
	if count <= 1 {
		if w.Cluster == "" && w.Name == "" {
			return prefix + w.ID
		}
		if w.Namespace == "" {
			return prefix + w.Cluster + "/" + w.Name
		}
		return prefix + w.Cluster + "/" + w.Namespace + "/" + w.Name
	}
	return prefix + workloadLabel(w) + " and " + strconv.Itoa(count-1) + " more"
}

// riskSource says which workload a factor comes from and which records
// report it: "workload aks-prod-eus/shop/checkout-api via
// defender-assessment:<id>", an attack path with its display name. Several sources are listed sorted, so the
// order the records arrived in does not change the explanation.
func riskSource(label string, risks []model.Risk, f model.RiskFactor) string {
	first, n := "", 0
	for i := range risks {
		if risks[i].Factor != f {
			continue
		}
		if c := risks[i].Cited(); n == 0 || c < first {
			first = c
		}
		n++
	}
	if n <= 1 {
		if first == "" {
			return "workload " + label
		}
		return "workload " + label + " via " + first
	}
	srcs := make([]string, 0, n)
	for i := range risks {
		if risks[i].Factor == f && risks[i].Source != "" {
			srcs = append(srcs, risks[i].Cited())
		}
	}
	sortStrings(srcs)
	var b strings.Builder
	b.WriteString("workload ")
	b.WriteString(label)
	for i, s := range srcs {
		if i > 0 && s == srcs[i-1] {
			continue
		}
		if i == 0 {
			b.WriteString(" via ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	return b.String()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// exploitSources is indexed by known-exploited | exploit-kit<<1 | public<<2.
var exploitSources = [8]string{
	"",
	"known exploited",
	"exploit kit",
	"known exploited, exploit kit",
	"public exploit",
	"known exploited, public exploit",
	"exploit kit, public exploit",
	"known exploited, exploit kit, public exploit",
}

func exploitSource(e model.Exploitability) string {
	i := 0
	if e.KnownExploited {
		i |= 1
	}
	if e.ExploitKit {
		i |= 2
	}
	if e.PublicExploit {
		i |= 4
	}
	return exploitSources[i]
}

func epssSource(epss, threshold float64) string {
	var buf [48]byte
	b := append(buf[:0], "epss "...)
	b = strconv.AppendFloat(b, epss, 'g', -1, 64)
	b = append(b, " >= "...)
	b = strconv.AppendFloat(b, threshold, 'g', -1, 64)
	return string(b)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// round4 keeps contributions free of float noise (5.625000000001) while
// exact enough that they add up to the score.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
