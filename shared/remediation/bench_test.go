package remediation

import (
	"fmt"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// An image group of 150 CVEs (the table shows 100): the largest body
// runtimelink renders, once per group refresh and sync.
func BenchmarkRenderIssue(b *testing.B) {
	var fs []model.Finding
	for i := range 150 {
		fs = append(fs, cve(fmt.Sprintf("CVE-2024-%05d", i), model.PriorityHigh, true))
	}
	w := newWorld(fs...)
	in := IssueInput{Group: w.g, Findings: fs}
	b.ReportAllocs()
	for b.Loop() {
		RenderIssue(in)
	}
}

// Planning an in-step group against its record: what every sync of a
// group with nothing to do costs, before any call.
func BenchmarkPlanInStep(b *testing.B) {
	var fs []model.Finding
	for i := range 150 {
		fs = append(fs, cve(fmt.Sprintf("CVE-2024-%05d", i), model.PriorityHigh, true))
	}
	w := newWorld(fs...)
	w.is = Apply(&w.g, nil, Plan(w.g, fs, nil, t0, policy), t0)
	w.is.Number, w.g.Synced.IssueNumber = 7, 7
	rec := Recorded(w.g)
	b.ReportAllocs()
	for b.Loop() {
		if len(Plan(w.g, fs, rec, t0.Add(time.Hour), policy)) > 0 {
			b.Fatal("not in step")
		}
	}
}
