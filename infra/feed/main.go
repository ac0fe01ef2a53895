// Command feed drives a running runtimelink (the dev host of `make demo`)
// with the bundled samples, the way production sources would: the sample
// deployment records to the deployments endpoint (single and per cluster),
// the ACR ImagePushed event to the host's Event Grid webhook, and every
// Defender export sample as one Event Hub batch. It then prints the
// code→runtime map the app answers.
//
//	BASE_URL=http://127.0.0.1:7071 DEPLOYMENTS_TOKEN=... go run ./infra/feed
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := realMain(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "feed:", err)
		os.Exit(1)
	}
}

type feeder struct {
	base, token, key string
	client           *http.Client
	out              io.Writer
}

func realMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("feed", flag.ContinueOnError)
	base := fs.String("base", os.Getenv("BASE_URL"), "the app's base URL (BASE_URL)")
	token := fs.String("token", os.Getenv("DEPLOYMENTS_TOKEN"), "bearer token of the deployments endpoint (DEPLOYMENTS_TOKEN)")
	key := fs.String("key", os.Getenv("DEVHOST_FUNCTION_KEY"), "function key, when the dev host requires one (DEVHOST_FUNCTION_KEY)")
	dir := fs.String("testdata", "", "the samples folder (default: testdata/defender of the module)")
	extra := fs.String("extra", "", "a folder of further Defender export records to feed (default: testdata/demo of the module)")
	org := fs.String("org", "octo-org", "the org the deployment records are posted for")
	cluster := fs.String("cluster", "aks-stg-weu", "the cluster the per-cluster sample is posted for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *token == "" {
		return errors.New("BASE_URL and DEPLOYMENTS_TOKEN are required (flags -base, -token)")
	}
	if *dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		*dir = filepath.Join(root, "testdata", "defender")
		if *extra == "" {
			*extra = filepath.Join(root, "testdata", "demo")
		}
	}
	f := &feeder{base: strings.TrimRight(*base, "/"), token: *token, key: *key, client: &http.Client{Timeout: 2 * time.Minute}, out: out}

	// What runs where comes first, so Defender's cluster risk finds the
	// workloads it applies to.
	var records map[string]json.RawMessage
	if err := readJSON(filepath.Join(*dir, "deployment-records.json"), &records); err != nil {
		return err
	}
	orgPath := "/api/orgs/" + url.PathEscape(*org) + "/artifacts/metadata/deployment-record"
	if err := f.post(ctx, orgPath, records["single"], "Authorization", "Bearer "+f.token); err != nil {
		return err
	}
	if err := f.post(ctx, orgPath+"/cluster/"+url.PathEscape(*cluster), records["cluster"], "Authorization", "Bearer "+f.token); err != nil {
		return err
	}
	fmt.Fprintln(out, "fed 2 deployment-record requests")

	pushed, err := os.ReadFile(filepath.Join(*dir, "eventgrid-imagepushed.json"))
	if err != nil {
		return err
	}
	if err := f.post(ctx, "/runtime/webhooks/eventgrid?functionName=registry_events",
		[]byte("["+string(pushed)+"]"), "aeg-event-type", "Notification"); err != nil {
		return err
	}
	fmt.Fprintln(out, "fed 1 ImagePushed event")

	names, err := filepath.Glob(filepath.Join(*dir, "*.json"))
	if err != nil {
		return err
	}
	if *extra != "" {
		more, err := filepath.Glob(filepath.Join(*extra, "*.json"))
		if err != nil {
			return err
		}
		names = append(names, more...)
	}
	var batch []json.RawMessage
	for _, n := range names {
		b := filepath.Base(n)
		if !strings.HasPrefix(b, "alert-") && !strings.HasPrefix(b, "assessment-") && !strings.HasPrefix(b, "subassessment-") {
			continue
		}
		raw, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		batch = append(batch, json.RawMessage(raw))
	}
	body, _ := json.Marshal(batch)
	if err := f.post(ctx, "/admin/eventhub/defender_export", body); err != nil {
		return err
	}
	fmt.Fprintf(out, "fed %d Defender export records as one Event Hub batch\n\n", len(batch))

	return f.printMap(ctx, *org, records)
}

// printMap prints, per repository named by the deployment records, where
// its code runs and what is wrong there.
func (f *feeder) printMap(ctx context.Context, org string, records map[string]json.RawMessage) error {
	var repos []string
	var single struct {
		GitHubRepository string `json:"github_repository"`
	}
	var cluster struct {
		Deployments []struct {
			GitHubRepository string `json:"github_repository"`
		} `json:"deployments"`
	}
	_ = json.Unmarshal(records["single"], &single)
	_ = json.Unmarshal(records["cluster"], &cluster)
	names := []string{single.GitHubRepository}
	for _, d := range cluster.Deployments {
		names = append(names, d.GitHubRepository)
	}
	for _, n := range names {
		if r := mapping.NormalizeRepository(n, org); r != "" && !slices.Contains(repos, r) {
			repos = append(repos, r)
		}
	}
	fmt.Fprintln(f.out, "code → runtime")
	for _, repo := range repos {
		var rt struct {
			Repository   string   `json:"repository"`
			Running      int      `json:"running"`
			Production   bool     `json:"production"`
			Environments []string `json:"environments"`
			Risks        []string `json:"risks"`
			Workloads    []struct {
				Cluster, Namespace, Name, DeploymentName, Image, Digest, Environment, Status, Commit string
				Risks                                                                                []struct{ Factor, Source string }
			} `json:"workloads"`
		}
		if err := f.get(ctx, "/api/repos/"+repo+"/runtime", &rt); err != nil {
			return err
		}
		fmt.Fprintf(f.out, "\n%s  running in %d workload(s), environments %v, production %v, runtime risks %v\n",
			rt.Repository, rt.Running, rt.Environments, rt.Production, rt.Risks)
		for _, w := range rt.Workloads {
			ns := w.Namespace
			if ns == "" {
				ns = "-"
			}
			var risks []string
			for _, r := range w.Risks {
				risks = append(risks, r.Factor+" ("+shortSource(r.Source)+")")
			}
			fmt.Fprintf(f.out, "  %-10s %s/%s  %s@%s  [%s]\n", w.Environment, w.Cluster, w.DeploymentName, w.Image, short(w.Digest), w.Status)
			if len(risks) > 0 {
				fmt.Fprintf(f.out, "             risks: %s\n", strings.Join(risks, ", "))
			}
			var detail struct {
				Source *struct{ Repository, Commit, Evidence string } `json:"source"`
				CVEs   []struct {
					CVE, Severity, State, Priority string
					Score                          float64
				} `json:"cves"`
				Alerts []struct{ Title, Severity string } `json:"alerts"`
			}
			if err := f.get(ctx, "/api/workloads/"+url.PathEscape(w.Cluster)+"/"+url.PathEscape(ns)+"/"+w.Name, &detail); err != nil {
				return err
			}
			if detail.Source != nil {
				fmt.Fprintf(f.out, "             built from %s (evidence: %s)\n", detail.Source.Repository, detail.Source.Evidence)
			}
			for _, c := range detail.CVEs {
				fmt.Fprintf(f.out, "             %-15s %-8s %-6s score %.2f %s\n", c.CVE, c.Severity, c.State, c.Score, c.Priority)
			}
			for _, a := range detail.Alerts {
				fmt.Fprintf(f.out, "             alert: %s (%s)\n", a.Title, a.Severity)
			}
		}
	}
	return nil
}

func shortSource(s string) string {
	if i := strings.IndexByte(s, ':'); i > 0 {
		return s[:i]
	}
	return s
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19] + "…"
	}
	return digest
}

func (f *feeder) post(ctx context.Context, path string, body []byte, header ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return f.do(req, nil)
}

func (f *feeder) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+path, nil)
	if err != nil {
		return err
	}
	return f.do(req, v)
}

func (f *feeder) do(req *http.Request, v any) error {
	if f.key != "" {
		req.Header.Set("x-functions-key", f.key)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s %s: answer is not JSON: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; pass -testdata")
		}
		dir = parent
	}
}
