package api

import (
	"errors"
	"net/http"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/runtimeview"
)

// NoNamespace stands for the empty namespace in workload paths (workloads
// reported by deployment records whose deployment_name names none).
const NoNamespace = "-"

// repoRuntime answers GET /api/repos/{owner}/{repo}/runtime: where the
// code of a repository runs (runtimeview.RepoRuntime).
func repoRuntime(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		repo := mapping.NormalizeRepository(r.PathValue("owner")+"/"+r.PathValue("repo"), "")
		if repo == "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "not a repository name"})
			return
		}
		out, err := runtimeview.Repository(r.Context(), d.State(), repo)
		if err != nil {
			invocation.Logger(r.Context()).Error("code→runtime answer failed", "repository", repo, "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "internal error"})
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// workloadRuntime answers GET /api/workloads/{cluster}/{namespace}/{name}
// [?environment=&region=]: which code a workload runs and what is wrong
// with it (runtimeview.WorkloadRuntime).
func workloadRuntime(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cluster, ns, name := r.PathValue("cluster"), r.PathValue("namespace"), r.PathValue("name")
		if ns == NoNamespace {
			ns = ""
		}
		q := r.URL.Query()
		out, err := runtimeview.Workload(r.Context(), d.State(), cluster, ns, name, q.Get("environment"), q.Get("region"))
		switch {
		case errors.Is(err, model.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such workload"})
		case err != nil:
			invocation.Logger(r.Context()).Error("runtime→code answer failed", "cluster", cluster, "name", name, "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "internal error"})
		default:
			writeJSON(w, http.StatusOK, out)
		}
	}
}
