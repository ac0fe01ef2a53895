package api

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The counts the seeded sample data must show (see seed).
var wantCounts = map[string]string{
	"critical": "2", "high": "1", "medium": "2", "low": "1",
	"open": "6", "deployed": "4", "production": "3", "exposed": "3", "raised": "3", "lowered": "3",
}

func checkCounts(t *testing.T, html string) {
	t.Helper()
	for id, want := range wantCounts {
		re := regexp.MustCompile(`id="count-` + id + `">(\d+)<`)
		m := re.FindStringSubmatch(html)
		if m == nil || m[1] != want {
			t.Errorf("count-%s = %v, want %s", id, m, want)
		}
	}
}

func TestReportPage(t *testing.T) {
	s := seed(t)
	resp, body := get(t, s.URL+"/api/report")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	html := string(body)
	checkCounts(t, html)
	for _, want := range []string{
		// The top finding, its explanation and where the score moved.
		`id="finding-1"`, "CVE-2023-44487", "▲ raised from High (7.5)", "running in production: aks-prod-eus/shop/checkout-api",
		"workload aks-prod-eus/shop/checkout-api via defender-assessment:c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5",
		"The factors add up to 11; the score is capped at 10.", "fixed in <b>0.17.0</b>",
		"▼ lowered from Critical (9.5)", "not running anywhere",
		// The code→runtime map: repository → image → digest → workload.
		`id="repo-octo-org/checkout-api"`, "octoacr.azurecr.io/checkout-api", "sha256:5e1f2a3b4c5d", "commit <span class=\"mono\">9f2c1e7</span>",
		"aks-prod-eus/shop/checkout-api", "internet-exposed", "aks-stg-weu/batch/report-worker", "staging",
		`id="repo-octo-org/billing"`, "Not running anywhere.", "Workloads of unknown source", "docker.io/library/busybox",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// No external assets and no script: it works offline and without JavaScript.
	for _, bad := range []string{"<script", "http://", "https://", "<link"} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	// The fixed finding is not counted nor listed.
	if strings.Contains(html, "alert #12") {
		t.Error("a fixed finding is in the report")
	}
}

// chromium finds Debian's chromium; scripts/ensure-chromium.sh installs it
// (make test runs it). In CI a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: scripts/ensure-chromium.sh installs Debian's chromium (make test runs it)")
	}
	t.Skip("chromium is not installed; run scripts/ensure-chromium.sh (RUNTIMELINK_INSTALL_CHROMIUM=1, as root)")
	return ""
}

func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// The report as a browser renders it: a screenshot (kept in
// RUNTIMELINK_SCREENSHOT_DIR when set, to look at) and the DOM.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	s := seed(t)
	dir := os.Getenv("RUNTIMELINK_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := filepath.Abs(filepath.Join(dir, "report.png"))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(shot)
	url := s.URL + "/api/report"
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1280×2000", b)
	}
	// A blank page would be one colour: the report has a dark header and
	// coloured priority cards.
	colours := map[uint32]bool{}
	for y := 0; y < 400; y += 7 {
		for x := 0; x < 1280; x += 11 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>12<<8|g>>12<<4|b>>12] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("screenshot looks blank (%d colours)", len(colours))
	}
	t.Logf("screenshot: %s", shot)

	dom := string(runChromium(t, bin, "--dump-dom", url))
	if !strings.Contains(dom, "<h1>runtimelink") {
		t.Fatalf("DOM is not the report:\n%.500s", dom)
	}
	checkCounts(t, dom)
}
