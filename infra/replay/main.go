// Command replay posts the sample GitHub webhooks (testdata/github/<event>/
// *.json) to a running runtimelink, signed as GitHub signs them, then prints
// the findings the app holds, read straight from Cosmos DB. Delivery ids
// are derived from the file paths, so a second replay shows the
// redeliveries being recognised.
//
//	GITHUB_WEBHOOK_SECRET=... COSMOS_ENDPOINT=... COSMOS_KEY=... COSMOS_EMULATOR=true \
//	  go run ./infra/replay -url "$BASE_URL/api/github/webhook"
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

func main() {
	base := strings.TrimSuffix(os.Getenv("BASE_URL"), "/")
	url := flag.String("url", base+"/api/github/webhook", "the webhook endpoint (default $BASE_URL/api/github/webhook)")
	dir := flag.String("dir", "testdata/github", "folder of <event>/<name>.json payloads")
	showFindings := flag.Bool("findings", true, "print the findings held in Cosmos DB afterwards (COSMOS_ENDPOINT, COSMOS_KEY, COSMOS_DATABASE, COSMOS_EMULATOR)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := realMain(ctx, os.Stdout, *url, *dir, *showFindings); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, out io.Writer, url, dir string, showFindings bool) error {
	secret := os.Getenv("GITHUB_WEBHOOK_SECRET")
	switch {
	case secret == "":
		return errors.New("GITHUB_WEBHOOK_SECRET is not set: the deliveries must be signed like GitHub's")
	case !strings.HasPrefix(url, "http"):
		return fmt.Errorf("-url %q is not an http(s) URL (is BASE_URL set?)", url)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no payloads under %s", dir)
	}
	sort.Strings(files)
	client := &http.Client{Timeout: 30 * time.Second}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAYLOAD\tDELIVERY\tSTATUS\tRESULT")
	failed := 0
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		rel = filepath.ToSlash(rel)
		body, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		d := Delivery{Event: strings.Split(rel, "/")[0], ID: DeliveryID(rel), Body: body}
		status, result, err := post(ctx, client, url, []byte(secret), d)
		if err != nil {
			return fmt.Errorf("post %s: %w", rel, err)
		}
		if status >= 400 {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", rel, d.ID, status, result)
	}
	tw.Flush()
	if failed > 0 {
		defer fmt.Fprintf(os.Stderr, "replay: %d deliveries refused\n", failed)
	}
	if showFindings {
		if err := printFindings(ctx, out); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deliveries failed", failed, len(files))
	}
	return nil
}

// Delivery is one webhook delivery.
type Delivery struct {
	Event, ID string
	Body      []byte
}

// DeliveryID is a UUID-shaped id derived from name: the same file gets the
// same X-GitHub-Delivery on every replay.
func DeliveryID(name string) string {
	sum := sha256.Sum256([]byte("runtimelink-replay:" + name))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Signature is X-Hub-Signature-256 as GitHub computes it over the raw body.
func Signature(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func post(ctx context.Context, client *http.Client, url string, secret []byte, d Delivery) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/runtimelink-replay")
	req.Header.Set("X-GitHub-Event", d.Event)
	req.Header.Set("X-GitHub-Delivery", d.ID)
	req.Header.Set("X-GitHub-Hook-ID", "0")
	req.Header.Set("X-Hub-Signature-256", Signature(secret, d.Body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var a struct{ Result, Reason, Error string }
	if json.Unmarshal(raw, &a) != nil {
		return resp.StatusCode, strings.TrimSpace(string(raw)), nil
	}
	result := a.Result
	if a.Reason != "" {
		result += ": " + a.Reason
	}
	if a.Error != "" {
		result = "error: " + a.Error
	}
	return resp.StatusCode, result, nil
}

func printFindings(ctx context.Context, out io.Writer) error {
	endpoint := os.Getenv("COSMOS_ENDPOINT")
	if endpoint == "" {
		return errors.New("COSMOS_ENDPOINT is not set: cannot read the findings")
	}
	emulator, _ := strconv.ParseBool(os.Getenv("COSMOS_EMULATOR"))
	database := os.Getenv("COSMOS_DATABASE")
	if database == "" {
		database = "runtimelink"
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := cosmos.Open(openCtx, cosmos.Options{Endpoint: endpoint, Key: os.Getenv("COSMOS_KEY"), Database: database, Emulator: emulator})
	if err != nil {
		return fmt.Errorf("open Cosmos DB: %w", err)
	}
	var fs []model.Finding
	err = store.New(db).AllFindings(ctx, func(f *model.Finding) error {
		fs = append(fs, *f)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read findings: %w", err)
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Repository != fs[j].Repository {
			return fs[i].Repository < fs[j].Repository
		}
		return fs[i].ID < fs[j].ID
	})
	fmt.Fprintf(out, "\nfindings held (%d):\n", len(fs))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREPOSITORY\tSOURCE\tSTATE\tSEVERITY\tPRIORITY")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Repository, f.Source, f.State, dash(f.Severity), dash(string(f.Priority)))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
