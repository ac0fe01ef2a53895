package main

import (
	"maps"
	"strings"
	"testing"
)

func testRoutes(t *testing.T, prefix string, fns ...*Function) []*route {
	t.Helper()
	app := &App{Host: HostConfig{RoutePrefix: prefix}, Functions: fns}
	routes, err := buildRoutes(app)
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

func httpFn(name, route string, methods ...string) *Function {
	return &Function{Name: name, Trigger: Binding{Type: "httpTrigger", Direction: "in", Name: "req", Route: route, Methods: methods}}
}

func TestMatchRoute(t *testing.T) {
	routes := testRoutes(t, "api",
		httpFn("github_webhook", "github/webhook", "post"),
		httpFn("deployments", "orgs/{org}/artifacts/metadata/deployment-record", "post"),
		httpFn("deployments_cluster", "orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}", "post"),
		httpFn("api", "{*path}", "get"),
		httpFn("health", "health", "get"),
		httpFn("finding", "findings/{id:int}", "get"),
		httpFn("finding_by_name", "findings/{name}", "get"),
		httpFn("report", "report/{format?}", "get"),
		httpFn("noroute", ""), // default route = function name, every method
	)
	tests := []struct {
		method, path string
		want         string // function, "" = no match
		params       map[string]string
	}{
		{"POST", "/api/github/webhook", "github_webhook", map[string]string{}},
		{"POST", "/API/GitHub/Webhook/", "github_webhook", map[string]string{}}, // case-insensitive, trailing slash
		{"GET", "/api/github/webhook", "api", map[string]string{"path": "github/webhook"}},
		{"PUT", "/api/github/webhook", "", nil},
		{"POST", "/api/orgs/acme/artifacts/metadata/deployment-record", "deployments", map[string]string{"org": "acme"}},
		{"POST", "/api/orgs/acme/artifacts/metadata/deployment-record/cluster/aks-prod", "deployments_cluster", map[string]string{"org": "acme", "cluster": "aks-prod"}},
		{"POST", "/api/orgs/acme%20co/artifacts/metadata/deployment-record", "deployments", map[string]string{"org": "acme co"}},
		{"GET", "/api/health", "health", map[string]string{}}, // literal wins over the catch-all
		{"GET", "/api/findings/42", "finding", map[string]string{"id": "42"}},
		{"GET", "/api/findings/abc", "finding_by_name", map[string]string{"name": "abc"}}, // int constraint fails
		{"GET", "/api/report", "report", map[string]string{}},
		{"GET", "/api/report/html", "report", map[string]string{"format": "html"}},
		{"GET", "/api/report/html/x", "api", map[string]string{"path": "report/html/x"}},
		{"GET", "/api/a/b%2Fc/d", "api", map[string]string{"path": "a/b/c/d"}},
		{"GET", "/api", "api", map[string]string{"path": ""}},
		{"DELETE", "/api/noroute", "noroute", map[string]string{}},
		{"GET", "/other/health", "", nil},
		{"GET", "/", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r, params, ok := matchRoute(routes, tt.method, tt.path)
			got := ""
			if ok {
				got = r.fn.Name
			}
			if got != tt.want {
				t.Fatalf("matched %q, want %q", got, tt.want)
			}
			if ok && !maps.Equal(params, tt.params) {
				t.Fatalf("params = %v, want %v", params, tt.params)
			}
		})
	}
}

func TestMatchRouteEmptyPrefix(t *testing.T) {
	routes := testRoutes(t, "", httpFn("hook", "hooks/{name}"))
	if r, p, ok := matchRoute(routes, "POST", "/hooks/x"); !ok || r.fn.Name != "hook" || p["name"] != "x" {
		t.Fatalf("match = %v %v %v", r, p, ok)
	}
	if _, _, ok := matchRoute(routes, "POST", "/api/hooks/x"); ok {
		t.Fatal("matched under a prefix that is not configured")
	}
}

func TestBuiltInRouteRefused(t *testing.T) {
	for _, tmpl := range []string{"admin/health", "administration", "/Admin"} {
		app := &App{Functions: []*Function{httpFn("ops", tmpl)}}
		if _, err := buildRoutes(app); err == nil || !strings.Contains(err.Error(), "built in routes") {
			t.Errorf("route %q: error = %v", tmpl, err)
		}
	}
	if _, err := buildRoutes(&App{Host: HostConfig{RoutePrefix: "admin"}, Functions: []*Function{httpFn("ops", "health")}}); err != nil {
		t.Errorf("a routePrefix of admin refused: %v", err)
	}
}

func TestParseRouteErrors(t *testing.T) {
	tests := []struct{ route, want string }{
		{"a/{*rest}/b", "catch-all"},
		{"a/{opt?}/b", "optional"},
		{"a/x{id}", "single {parameter}"},
		{"a/{id", "single {parameter}"},
		{"a//b", "empty segment"},
	}
	for _, tt := range tests {
		_, err := parseRoute("api", tt.route)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseRoute(%q) error = %v, want it to mention %q", tt.route, err, tt.want)
		}
	}
}

// TestAppRoutes routes with the repo's own host.json (routePrefix "") and
// function.json files, as the host would: every URL the app serves under
// /api reaches the function it did with routePrefix "api"; every
// artifact-metadata path of GitHub's API (POSTs and the GETs of job status
// and listings) reaches deployments, not the function-key api catch-all; a
// GitHub Enterprise Server style base URL (/api/v3) reaches deployments_v3
// and a base URL without /api reaches deployments_noprefix (the handler
// answers both with its JSON 404); anything else reaches no function.
func TestAppRoutes(t *testing.T) {
	app, err := LoadApp(LoadOptions{Dir: "../..", SettingsFile: "../../local.settings.sample.json",
		Environ: []string{"EVENTHUB_NAME=x", "EVENTHUB_CONSUMER_GROUP=y"}})
	if err != nil {
		t.Fatal(err)
	}
	if app.Host.RoutePrefix != "" {
		t.Fatalf("routePrefix = %q, want \"\"", app.Host.RoutePrefix)
	}
	// The repo's HTTP limits reach the dev host's request queue (TestHTTPThrottle).
	if got := app.Host.HTTPThrottle; got.MaxConcurrent < 1 || got.MaxOutstanding <= got.MaxConcurrent {
		t.Errorf("host.json HTTP limits read as %+v", got)
	}
	routes, err := buildRoutes(app)
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tt := range []struct{ method, path, want string }{
		{"POST", "/api/github/webhook", "github_webhook"},
		{"GET", "/api/health", "api"},
		{"GET", "/api/findings", "api"},
		{"GET", "/api/report", "api"},
		{"GET", "/api/plan", "api"},
		{"GET", "/api/repos/acme/app/runtime", "api"},
		{"GET", "/api/workloads/aks-1/ns/app", "api"},
		{"GET", "/api/github/webhook", "api"},
		{"POST", "/api/orgs/acme/artifacts/metadata/deployment-record", "deployments"},
		{"POST", "/api/orgs/acme/artifacts/metadata/deployment-record/cluster/aks-1", "deployments"},
		{"POST", "/api/orgs/acme/artifacts/metadata/deployment-record/cluster/aks-1/jobs", "deployments"},
		{"GET", "/api/orgs/acme/artifacts/metadata/deployment-record/cluster/aks-1/jobs/42", "deployments"},
		{"POST", "/api/orgs/acme/artifacts/metadata/storage-record", "deployments"},
		{"GET", "/api/orgs/acme/artifacts/" + digest + "/metadata/deployment-records", "deployments"},
		{"GET", "/api/orgs/acme/artifacts/" + digest + "/metadata/storage-records", "deployments"},
		{"POST", "/api/v3/orgs/acme/artifacts/metadata/deployment-record", "deployments_v3"},
		{"GET", "/api/v3/orgs/acme/artifacts/metadata/deployment-record/cluster/aks-1/jobs/42", "deployments_v3"},
		{"POST", "/orgs/acme/artifacts/metadata/deployment-record", "deployments_noprefix"},
		{"POST", "/orgs/acme/artifacts/metadata/deployment-record/cluster/aks-1/jobs", "deployments_noprefix"},
		{"GET", "/orgs/acme/artifacts/metadata/deployment-record/cluster/aks-1/jobs/42", "deployments_noprefix"},
		{"GET", "/orgs/acme/artifacts/" + digest + "/metadata/storage-records", "deployments_noprefix"},
		{"POST", "/api/health", ""},
		{"PUT", "/orgs/acme/artifacts/metadata/deployment-record", ""},
		{"GET", "/health", ""},
		{"POST", "/github/webhook", ""},
		{"GET", "/orgs/acme", ""},
		{"GET", "/", ""},
	} {
		r, _, ok := matchRoute(routes, tt.method, tt.path)
		got := ""
		if ok {
			got = r.fn.Name
		}
		if got != tt.want {
			t.Errorf("%s %s matched %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}
