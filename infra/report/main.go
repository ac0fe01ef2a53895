// Command report prints runtimelink's prioritized findings as a table,
// read from a running app's GET /api/findings (every page), and can save
// the HTML report of GET /api/report. make demo ends with it:
//
//	go run ./infra/report -url "$BASE_URL" -html dist/report.html
package main

import (
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
	"text/tabwriter"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := realMain(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	base := fs.String("url", os.Getenv("BASE_URL"), "base URL of the app (BASE_URL)")
	key := fs.String("key", os.Getenv("FUNCTION_KEY"), "function key of the api function, when the host asks for one (FUNCTION_KEY)")
	state := fs.String("state", "open", "findings state to list (empty: every state)")
	htmlPath := fs.String("html", "", "also save the HTML report (GET /api/report) to this file")
	showPlan := fs.Bool("plan", false, "print the dry-run plan (GET /api/plan) instead: the issues runtimelink would open, the top one's body and its story")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		return errors.New("no -url (or BASE_URL) given")
	}
	c := &client{base: strings.TrimRight(*base, "/"), key: *key, http: &http.Client{Timeout: time.Minute}}
	policy, err := scoring.ParsePolicy([]byte(os.Getenv("RUNTIMELINK_POLICY")))
	if err != nil {
		return err
	}
	if *showPlan {
		all, err := c.findings(ctx, "")
		if err != nil {
			return err
		}
		return printPlan(ctx, c, out, all)
	}
	findings, err := c.findings(ctx, *state)
	if err != nil {
		return err
	}
	printTable(out, policy, findings)
	if *htmlPath != "" {
		if err := c.save(ctx, "/api/report", *htmlPath); err != nil {
			return err
		}
		abs, _ := filepath.Abs(*htmlPath)
		fmt.Fprintf(out, "\nreport: %s (also served at %s/api/report)\n", abs, c.base)
	}
	return nil
}

type client struct {
	base, key string
	http      *http.Client
}

func (c *client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	if c.key != "" {
		q.Set("code", c.key)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// findings reads every page of GET /api/findings.
func (c *client) findings(ctx context.Context, state string) ([]model.Finding, error) {
	var all []model.Finding
	cursor := ""
	for {
		q := url.Values{"limit": {"200"}}
		if state != "" {
			q.Set("state", state)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		body, err := c.get(ctx, "/api/findings", q)
		if err != nil {
			return nil, err
		}
		var page struct {
			Findings []model.Finding `json:"findings"`
			Next     string          `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("decode findings: %w", err)
		}
		all = append(all, page.Findings...)
		if page.Next == "" {
			return all, nil
		}
		cursor = page.Next
	}
}

func (c *client) save(ctx context.Context, path, file string) error {
	body, err := c.get(ctx, path, url.Values{})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

// printTable prints the findings highest first: priority, score, how the
// runtime moved it from its base, repository, title and the factors that
// moved it.
func printTable(out io.Writer, p scoring.Policy, fs []model.Finding) {
	slices.SortStableFunc(fs, model.CompareFindings)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRIORITY\tSCORE\tBASE\tRUNTIME\tREPOSITORY\tFINDING\tTOP FACTORS")
	for _, f := range fs {
		base := scoring.BaseOf(&f)
		move := "="
		switch bp, moved := p.Movement(&f); moved {
		case 1:
			move = "raised from " + string(bp)
		case -1:
			move = "lowered from " + string(bp)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Priority, num(f.Score), num(base), move, mapping.OwnerLabel(&f, strings.TrimPrefix(os.Getenv("RUNTIMELINK_CLUSTER_FINDINGS_TEAM"), "@")), title(&f), factors(&f))
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "%d findings\n", len(fs))
}

func title(f *model.Finding) string {
	t := f.Title
	if f.CVE != "" && !strings.Contains(t, f.CVE) {
		t = f.CVE + " " + t
	}
	if f.Image != "" {
		t += " [" + f.Image + "]"
	}
	t = strings.Join(strings.Fields(t), " ")
	if len(t) > 70 {
		t = t[:67] + "..."
	}
	return t
}

// factors names every factor but the base, biggest change first.
func factors(f *model.Finding) string {
	xs := slices.DeleteFunc(slices.Clone(f.Explanation.Factors), func(x model.Factor) bool {
		return x.Name == scoring.FactorBase || x.Contribution == 0
	})
	slices.SortStableFunc(xs, func(a, b model.Factor) int {
		switch {
		case abs(a.Contribution) > abs(b.Contribution):
			return -1
		case abs(a.Contribution) < abs(b.Contribution):
			return 1
		}
		return 0
	})
	parts := make([]string, 0, len(xs))
	for _, x := range xs {
		sign := "+"
		if x.Contribution < 0 {
			sign = "-"
		}
		name := x.Name
		if name == scoring.FactorDeployment {
			// "not running anywhere", "running outside production only: ..."
			name, _, _ = strings.Cut(x.Source, ":")
		}
		parts = append(parts, name+" "+sign+num(abs(x.Contribution)))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func num(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
