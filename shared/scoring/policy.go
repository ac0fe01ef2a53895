// Package scoring turns a finding plus the runtime context of the workloads
// that run its code into one priority, with an explanation of every factor.
// It is pure: no I/O, no clock, and the same input always gives the same
// result, so a re-score that changes nothing writes nothing.
package scoring

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Policy holds every weight of the scoring formula:
//
//	score = min(cap, base × deployment + risk factors + exploitability + epss)
//
// DefaultPolicy is DESIGN.md's default; RUNTIMELINK_POLICY overrides parts of
// it through ParsePolicy.
type Policy struct {
	Base       BaseWeights
	Deployment DeploymentWeights
	Risk       RiskWeights
	Exploit    ExploitWeights
	// Cap is the highest score (DESIGN.md: 10).
	Cap   float64
	Bands Bands
}

// BaseWeights is the base score by severity, used when a finding has no CVSS.
type BaseWeights struct {
	Critical, High, Medium, Low float64
	// SecretScanning is the base of every secret scanning alert: a leaked
	// secret has no CVSS and no severity, and is usable as soon as it leaks.
	SecretScanning float64
	// Unknown is the base when there is neither a CVSS nor a known severity.
	// It defaults to medium: an alert we cannot rate should neither vanish at
	// the bottom nor outrank the ones we can.
	Unknown float64
}

// DeploymentWeights multiply the base by where the code runs.
type DeploymentWeights struct {
	NotRunning    float64 // no running workload at all
	NonProduction float64 // running, but only outside production
	Production    float64 // running in at least one production workload
}

// RiskWeights are added for the runtime risk factors of the worst production
// workload.
type RiskWeights struct {
	InternetExposed, SensitiveData, CriticalResource, LateralMovement float64
}

// ExploitWeights are added for exploitability.
type ExploitWeights struct {
	// Exploited is added when the source reports a known exploit, an exploit
	// kit or a public exploit.
	Exploited float64
	// EPSS is added when the EPSS probability is at least EPSSThreshold.
	EPSS          float64
	EPSSThreshold float64
}

// Bands are the lowest scores of each priority; below Medium is Low.
type Bands struct {
	Critical, High, Medium float64
}

// DefaultPolicy returns DESIGN.md's default policy.
func DefaultPolicy() Policy {
	return Policy{
		Base:       BaseWeights{Critical: 9.5, High: 7.5, Medium: 5.0, Low: 2.0, SecretScanning: 9.0, Unknown: 5.0},
		Deployment: DeploymentWeights{NotRunning: 0.5, NonProduction: 0.75, Production: 1.0},
		Risk:       RiskWeights{InternetExposed: 1.5, SensitiveData: 1.0, CriticalResource: 0.75, LateralMovement: 0.75},
		Exploit:    ExploitWeights{Exploited: 1.0, EPSS: 0.5, EPSSThreshold: 0.5},
		Cap:        10,
		Bands:      Bands{Critical: 9, High: 7, Medium: 4},
	}
}

// weight is one settable number of a policy: its JSON key path and its range.
type weight struct {
	key      string
	ptr      *float64
	min, max float64
}

// Ranges of the weights. Bases and bands live on the 0–10 CVSS scale;
// multipliers may raise a score at most twofold; one addend may at most
// move a score by half the scale.
const (
	maxBase       = 10
	maxMultiplier = 2
	maxAddend     = 5
)

// weights lists every key of the policy JSON, in the order Policy.JSON
// writes them.
func (p *Policy) weights() []weight {
	return []weight{
		{"base.critical", &p.Base.Critical, 0, maxBase},
		{"base.high", &p.Base.High, 0, maxBase},
		{"base.medium", &p.Base.Medium, 0, maxBase},
		{"base.low", &p.Base.Low, 0, maxBase},
		{"base.secretScanning", &p.Base.SecretScanning, 0, maxBase},
		{"base.unknown", &p.Base.Unknown, 0, maxBase},
		{"deployment.notRunning", &p.Deployment.NotRunning, 0, maxMultiplier},
		{"deployment.nonProduction", &p.Deployment.NonProduction, 0, maxMultiplier},
		{"deployment.production", &p.Deployment.Production, 0, maxMultiplier},
		{"riskFactors.internet-exposed", &p.Risk.InternetExposed, 0, maxAddend},
		{"riskFactors.sensitive-data", &p.Risk.SensitiveData, 0, maxAddend},
		{"riskFactors.critical-resource", &p.Risk.CriticalResource, 0, maxAddend},
		{"riskFactors.lateral-movement", &p.Risk.LateralMovement, 0, maxAddend},
		{"exploitability.exploited", &p.Exploit.Exploited, 0, maxAddend},
		{"exploitability.epss", &p.Exploit.EPSS, 0, maxAddend},
		{"exploitability.epssThreshold", &p.Exploit.EPSSThreshold, 0, 1},
		{"cap", &p.Cap, 0, maxBase},
		{"bands.critical", &p.Bands.Critical, 0, maxBase},
		{"bands.high", &p.Bands.High, 0, maxBase},
		{"bands.medium", &p.Bands.Medium, 0, maxBase},
	}
}

// ParsePolicy reads a RUNTIMELINK_POLICY value: a JSON object whose keys
// override the default policy, e.g.
//
//	{"riskFactors": {"internet-exposed": 2}, "bands": {"high": 6.5}}
//
// Empty input gives the default policy. An unknown key, a value that is not
// a number or a weight out of its range is an error that names the key by
// its full path ("riskFactors.internet-exposed").
func ParsePolicy(data []byte) (Policy, error) {
	p := DefaultPolicy()
	if len(bytes.TrimSpace(data)) == 0 {
		return p, nil
	}
	byKey := make(map[string]weight)
	sections := make(map[string]bool)
	for _, w := range p.weights() {
		byKey[w.key] = w
		if i := strings.LastIndexByte(w.key, '.'); i > 0 {
			sections[w.key[:i]] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	seen := make(map[string]bool)
	set := func(key string, n json.Number) error {
		w, ok := byKey[key]
		if !ok {
			return fmt.Errorf("policy: unknown key %q", key)
		}
		if seen[key] {
			return fmt.Errorf("policy: key %q given twice", key)
		}
		seen[key] = true
		v, err := n.Float64()
		if err != nil {
			return fmt.Errorf("policy: key %q: %q is not a number", key, n.String())
		}
		if v < w.min || v > w.max {
			return fmt.Errorf("policy: key %q = %s is out of range [%s, %s]", key, n.String(), fmtNum(w.min), fmtNum(w.max))
		}
		*w.ptr = v
		return nil
	}
	if err := walkObject(dec, "", sections, byKey, set); err != nil {
		return DefaultPolicy(), err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return DefaultPolicy(), errors.New("policy: unexpected data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return DefaultPolicy(), err
	}
	return p, nil
}

// walkObject reads one JSON object from dec and hands every leaf to set by
// its dotted key path. Objects are only allowed where the policy has a
// section, numbers only where it has a weight, so a mistake is reported at
// the exact key.
func walkObject(dec *json.Decoder, prefix string, sections map[string]bool, leaves map[string]weight, set func(string, json.Number) error) error {
	what := "the policy"
	if prefix != "" {
		what = fmt.Sprintf("key %q", prefix)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("policy: read %s: %w", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("policy: %s must be a JSON object", what)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("policy: read %s: %w", what, err)
		}
		name, _ := tok.(string) // object keys are always strings
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		_, isLeaf := leaves[key]
		isSection := sections[key]
		if !isLeaf && !isSection {
			return fmt.Errorf("policy: unknown key %q", key)
		}
		if isSection {
			if err := walkObject(dec, key, sections, leaves, set); err != nil {
				return err
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return fmt.Errorf("policy: read key %q: %w", key, err)
		}
		n, ok := tok.(json.Number)
		if !ok {
			if _, isDelim := tok.(json.Delim); isDelim {
				// Skip the rest of the array or object so the error is
				// about this key, not a confused parse after it.
				if err := skipValue(dec); err != nil {
					return fmt.Errorf("policy: read key %q: %w", key, err)
				}
			}
			return fmt.Errorf("policy: key %q must be a number", key)
		}
		if err := set(key, n); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return fmt.Errorf("policy: read %s: %w", what, err)
	}
	return nil
}

// skipValue reads the rest of an array or object whose opening delimiter
// was just read.
func skipValue(dec *json.Decoder) error {
	depth := 1
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// Validate checks every weight's range and that the bands are in order
// (0 < medium < high < critical ≤ cap), naming the offending key.
func (p Policy) Validate() error {
	for _, w := range p.weights() {
		if v := *w.ptr; v < w.min || v > w.max || v != v {
			return fmt.Errorf("policy: key %q = %s is out of range [%s, %s]", w.key, fmtNum(v), fmtNum(w.min), fmtNum(w.max))
		}
	}
	switch {
	case p.Bands.Medium <= 0:
		return fmt.Errorf("policy: key %q = %s must be above 0", "bands.medium", fmtNum(p.Bands.Medium))
	case p.Bands.High <= p.Bands.Medium:
		return fmt.Errorf("policy: key %q = %s must be above %q (%s)", "bands.high", fmtNum(p.Bands.High), "bands.medium", fmtNum(p.Bands.Medium))
	case p.Bands.Critical <= p.Bands.High:
		return fmt.Errorf("policy: key %q = %s must be above %q (%s)", "bands.critical", fmtNum(p.Bands.Critical), "bands.high", fmtNum(p.Bands.High))
	case p.Cap < p.Bands.Critical:
		return fmt.Errorf("policy: key %q = %s must not be below %q (%s): nothing could be Critical", "cap", fmtNum(p.Cap), "bands.critical", fmtNum(p.Bands.Critical))
	}
	return nil
}

// JSON renders the whole effective policy in the shape ParsePolicy reads,
// for the health answer and for operators comparing settings.
func (p Policy) JSON() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	open := "" // the section whose object is being written
	for i, w := range p.weights() {
		sec, name := "", w.key
		if j := strings.LastIndexByte(w.key, '.'); j > 0 {
			sec, name = w.key[:j], w.key[j+1:]
		}
		if i > 0 {
			if sec != open && open != "" {
				b.WriteByte('}')
			}
			b.WriteByte(',')
		}
		if sec != open && sec != "" {
			b.WriteString(strconv.Quote(sec) + ":{")
		}
		open = sec
		b.WriteString(strconv.Quote(name) + ":" + fmtNum(*w.ptr))
	}
	if open != "" {
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
