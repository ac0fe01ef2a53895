package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

func scored(f model.Finding, ctx scoring.Context) model.Finding {
	r := scoring.Score(scoring.DefaultPolicy(), &f, ctx)
	r.Apply(&f)
	return f
}

// api serves findings in two pages, as GET /api/findings does.
func api(t *testing.T, pages [][]model.Finding) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/findings":
			if r.URL.Query().Get("state") != "open" || r.URL.Query().Get("code") != "k" {
				t.Errorf("query %s", r.URL.RawQuery)
			}
			i := 0
			if r.URL.Query().Get("cursor") == "page2" {
				i = 1
			}
			next := ""
			if i == 0 {
				next = "page2"
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"findings": pages[i], "next": next})
		case "/api/report":
			_, _ = w.Write([]byte("<!doctype html><h1>runtimelink</h1>"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPrintsThePrioritizedTable(t *testing.T) {
	prod := scoring.Context{Workloads: []scoring.WorkloadContext{{ID: "aks:shop:api", Cluster: "aks", Namespace: "shop", Name: "api", Production: true, Running: true,
		Risks: []model.Risk{{Factor: model.RiskInternetExposed, Source: "deployment-record"}}}}}
	cvss := 7.5
	raised := scored(model.Finding{ID: "a", Repository: "octo-org/checkout-api", Source: model.SourceDefenderCVE, CVE: "CVE-2023-44487", CVSS: &cvss,
		Image: "octoacr.azurecr.io/checkout-api", Exploit: model.Exploitability{PublicExploit: true}}, prod)
	lowered := scored(model.Finding{ID: "b", Repository: "octo-org/billing", Source: model.SourceDefenderCVE, CVE: "CVE-2024-1", Severity: "critical"}, scoring.Context{})
	srv := api(t, [][]model.Finding{{lowered}, {raised}})
	html := filepath.Join(t.TempDir(), "out", "report.html")
	var out bytes.Buffer
	if err := realMain(context.Background(), []string{"-url", srv.URL, "-key", "k", "-html", html}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "PRIORITY") || !strings.HasPrefix(lines[1], "Critical  10 ") || !strings.HasPrefix(lines[2], "Medium    4.75") {
		t.Fatalf("table not highest first:\n%s", out.String())
	}
	for _, want := range []string{"raised from High", "internet-exposed +1.5, exploitability +1", "lowered from Critical", "not running anywhere -4.75", "2 findings"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "<h1>runtimelink") {
		t.Errorf("saved report: %q, %v", b, err)
	}
}

func TestReportsAnAPIError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"internal error"}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	err := realMain(context.Background(), []string{"-url", srv.URL}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("err = %v", err)
	}
	if err := realMain(context.Background(), []string{"-url", ""}, &bytes.Buffer{}); err == nil {
		t.Error("no URL accepted")
	}
}
