// Command backfill loads an org's existing GHAS alerts (code scanning,
// Dependabot, secret scanning) as findings, on demand: the same backfill
// the sync function runs for a new installation. It reads the app's own
// settings (COSMOS_*, GITHUB_APP_ID, the App key from Key Vault or
// GITHUB_APP_PRIVATE_KEY, ...). It resumes where an earlier run stopped.
//
//	go run ./infra/backfill -org octo-org
//
// On a terminal it draws a progress line per source and logs warnings
// only (-v for every log line); otherwise it logs progress as JSON.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/ghapp"
	"github.com/runtimelink/runtimelink/shared/model"
)

func main() {
	org := flag.String("org", "", "GitHub org (or user) whose alerts to load; the App must be installed there")
	verbose := flag.Bool("v", false, "log every line, also on a terminal")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := realMain(ctx, *org, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "backfill:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, org string, verbose bool) error {
	if strings.TrimSpace(org) == "" {
		return errors.New("-org is required")
	}
	tty := isTerminal(os.Stderr)
	level := slog.LevelInfo
	if tty && !verbose {
		level = slog.LevelWarn // the progress line says the rest
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("job", "backfill")

	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	if !cfg.GitHub.Enabled() {
		return errors.New("GITHUB_APP_ID is not set: the backfill reads alerts as the GitHub App")
	}
	deps, err := app.Build(ctx, cfg, logger)
	if err != nil {
		return err
	}
	gh, err := deps.GitHubApp()
	if err != nil {
		return err
	}
	t, err := deps.Triage()
	if err != nil {
		return err
	}
	b := &ghapp.Backfiller{Store: deps.State(), Triage: t, Installations: gh.Installations, Logger: logger}
	var bar *progressBar
	if tty {
		bar = &progressBar{w: os.Stderr, start: time.Now()}
		b.Progress = bar.update
	}
	progress, err := b.Backfill(ctx, org)
	if bar != nil {
		bar.finish()
	}
	for _, p := range progress {
		line := fmt.Sprintf("%-16s %6d alerts in %4d pages, %6d written", p.Source, p.Alerts, p.Pages, p.Changed)
		if p.Malformed > 0 {
			line += fmt.Sprintf(", %d unreadable (logged)", p.Malformed)
		}
		if p.Skipped != "" {
			line += ", skipped: " + p.Skipped
		}
		if !p.Done {
			line += ", NOT DONE"
		}
		fmt.Println(line)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; run again to resume from the saved cursors: %w", err)
		}
		return fmt.Errorf("%w (run again to resume from the saved cursors)", err)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar redraws one line per source. GitHub's listings give no total
// (Dependabot and secret scanning page by cursor), so the bar is a moving
// count rather than a percentage.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	cur   model.Source
	frame int
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (b *progressBar) update(p ghapp.BackfillProgress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != "" && b.cur != p.Source {
		fmt.Fprintln(b.w)
	}
	b.cur = p.Source
	b.frame++
	mark := spinner[b.frame%len(spinner)]
	if p.Done {
		mark = "✓"
	}
	rate := float64(p.Alerts) / max(time.Since(b.start).Seconds(), 0.001)
	// An indeterminate bar: a block sweeps the track while pages load,
	// the track fills when the source is done.
	const track = 30
	bar := strings.Repeat("█", track)
	if !p.Done {
		at := b.frame % (track - 3)
		bar = strings.Repeat("░", at) + "███" + strings.Repeat("░", track-3-at)
	}
	fmt.Fprintf(b.w, "\r\033[K%s %-16s %s %7d alerts %5d pages %7d written %6.0f/s",
		mark, p.Source, bar, p.Alerts, p.Pages, p.Changed, rate)
	if p.Skipped != "" {
		fmt.Fprintf(b.w, " (skipped: %s)", p.Skipped)
	}
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != "" {
		fmt.Fprintln(b.w)
	}
}
