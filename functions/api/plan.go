package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// maxPlanGroups bounds one plan answer.
const maxPlanGroups = 1000

// plan serves the dry-run plan (GET /api/plan?limit=N): every write the
// sync step would make for the groups that have or want an issue, from
// the stored state (the api function makes no GitHub call).
func plan(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit := 200
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxPlanGroups {
				http.Error(w, "limit must be a number from 1 to 1000", http.StatusBadRequest)
				return
			}
			limit = n
		}
		p, err := Plan(r.Context(), d, limit)
		if err != nil {
			invocation.Logger(r.Context()).Error("plan failed", "error", err)
			http.Error(w, "the plan is unavailable right now", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(p)
	}
}

// Plan is the dry-run plan of up to limit groups.
func Plan(ctx context.Context, d *app.Deps, limit int) (*groupsync.Preview, error) {
	st := d.State()
	s := &groupsync.Syncer{Store: st, Logger: d.Logger, Now: d.Now}
	if d.Config != nil {
		s.Policy = remediation.Policy{MinPriority: d.Config.IssueMinPriority, ReopenGrace: d.Config.ReopenGrace}
		s.DryRun = d.Config.DryRun
		s.Cloud, s.ClusterFindingsTeam = d.Config.Cloud, d.Config.ClusterFindingsTeam
	}
	return s.Preview(ctx, st, limit)
}
