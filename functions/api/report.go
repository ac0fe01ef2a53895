package api

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/riskreport"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower":  func(p model.Priority) string { return strings.ToLower(string(p)) },
	"score":  riskreport.Num,
	"short":  riskreport.ShortDigest,
	"source": remediation.SourceName,
}).Parse(reportHTML))

func report(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, err := BuildReport(r.Context(), d)
		if err != nil {
			invocation.Logger(r.Context()).Error("report failed", "error", err)
			http.Error(w, "the report is unavailable right now", http.StatusInternalServerError)
			return
		}
		var buf bytes.Buffer
		if err := reportTemplate.Execute(&buf, rep); err != nil {
			invocation.Logger(r.Context()).Error("render report", "error", err)
			http.Error(w, "the report is unavailable right now", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	}
}

// Report is what the report page shows: the report of the state and the
// dry-run plan of the sync step.
type Report struct {
	riskreport.Report
	// Plan is what the sync step would write (the dry-run plan); Planned
	// the issues it would open, highest first.
	Plan    *groupsync.Preview
	Planned []groupsync.PlannedIssue
}

// BuildReport is the report of the app's state, scored with the
// configured policy (RUNTIMELINK_POLICY) and issue threshold, with the
// dry-run plan.
func BuildReport(ctx context.Context, d *app.Deps) (*Report, error) {
	o := riskreport.Options{Generated: time.Now(), Version: config.Version}
	if d.Now != nil {
		o.Generated = d.Now()
	}
	if d.Config != nil {
		p, err := scoring.ParsePolicy(d.Config.Policy)
		if err != nil {
			return nil, fmt.Errorf("RUNTIMELINK_POLICY: %w", err)
		}
		o.Policy, o.Threshold, o.Cloud = p, d.Config.IssueMinPriority, d.Config.Cloud
		o.ClusterFindingsTeam, o.ClusterFallback = d.Config.ClusterFindingsTeam, d.Config.ClusterFindingsFallback()
	}
	rr, err := riskreport.Build(ctx, d.State(), o)
	if err != nil {
		return nil, err
	}
	rep := &Report{Report: *rr}
	if rep.Plan, err = Plan(ctx, d, 200); err != nil {
		return nil, err
	}
	rep.Planned = rep.Plan.Opens()
	return rep, nil
}
