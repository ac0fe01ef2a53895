// Package api is the adapter of the `api` function: read-only HTTP answers
// for operators and security teams (health, findings, code↔runtime, report).
package api

import (
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/invocation"
)

// Register adds the api routes to the handler.
func Register(srv *invocation.Server, d *app.Deps) {
	srv.HandleHTTP("GET /api/health", health(d))
	srv.HandleHTTP("GET /api/findings", findings(d))
	srv.HandleHTTP("GET /api/report", report(d))
	srv.HandleHTTP("GET /api/plan", plan(d))
	srv.HandleHTTP("GET /api/repos/{owner}/{repo}/runtime", repoRuntime(d))
	srv.HandleHTTP("GET /api/workloads/{cluster}/{namespace}/{name...}", workloadRuntime(d))
}
