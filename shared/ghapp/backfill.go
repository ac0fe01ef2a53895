package ghapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// BackfillSources are the alert sources a backfill loads, in order.
var BackfillSources = []model.Source{model.SourceCodeScanning, model.SourceDependabot, model.SourceSecretScanning}

// OrgInstallations finds the App's active installation in an org and its
// client (*github.Installations, the app's one resolver).
type OrgInstallations interface {
	Active(ctx context.Context, org string) (*model.Installation, error)
	ClientOf(ctx context.Context, inst *model.Installation) (*gh.Client, error)
}

var (
	// ErrNoInstallation: the org has no active installation of the App
	// (github.ErrNotInstalled).
	ErrNoInstallation = github.ErrNotInstalled
	// ErrIncomplete: the run stopped at its MaxRuntime with work left; the
	// cursors are saved and the next call resumes (a queue-driven caller
	// enqueues the backfill again).
	ErrIncomplete = errors.New("backfill stopped at its time budget; call again to resume")
)

// Backfiller loads an org's existing GHAS alerts as findings: what happened
// before the App was installed, or while its webhooks were lost. It is
// resumable: the installation document keeps, per source still to do, the
// cursor of the first page not yet loaded (model.Installation.Backfill: a
// source present is pending, "" meaning from the start; the map is empty
// when no backfill is pending), saved after every page. A run stopped by a
// failure, a rate limit or a deadline resumes there; a page may then be
// loaded twice, which changes nothing (findings merge monotonically).
type Backfiller struct {
	// Store keeps the cursors on the installation document.
	Store         InstallationState
	Triage        *triage.Triage
	Installations OrgInstallations
	Logger        *slog.Logger
	Now           func() time.Time
	// Workers bounds the findings written concurrently within a page
	// (default 8).
	Workers int
	// Progress, when set, is told after every page (a terminal's progress
	// bar); it must not block.
	Progress func(BackfillProgress)
	// MaxRuntime, when set, stops the run after the page during which it
	// ran out (ErrIncomplete), so a Functions invocation ends well before
	// its timeout instead of being killed mid-page.
	MaxRuntime time.Duration
}

// BackfillProgress is the state of one source's listing in this run.
type BackfillProgress struct {
	Org    string
	Source model.Source
	Pages  int // pages loaded
	Alerts int // alerts read
	// Changed counts findings written; the rest were already up to date.
	Changed int
	// Malformed counts alerts that could not be read as findings; they
	// are logged and skipped, the rest of the page is kept.
	Malformed int
	// Skipped is set when GitHub refused the listing for good (the
	// feature is not enabled, or the App lacks the permission): logged,
	// and the source is not retried by this backfill.
	Skipped string
	Done    bool
}

// Backfill loads every pending source of org: the ones a previous run did
// not finish, or all of them when none is pending. It returns the progress
// of each source it worked on.
func (b *Backfiller) Backfill(ctx context.Context, org string) ([]BackfillProgress, error) {
	inst, err := b.Installations.Active(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("backfill %s: %w", org, err)
	}
	log := b.logger().With("org", inst.Org, "installationId", inst.InstallationID)
	pending := inst.Backfill
	if len(pending) == 0 {
		pending = map[string]string{}
		for _, s := range BackfillSources {
			pending[string(s)] = ""
		}
		if err := b.saveCursors(ctx, inst, pending); err != nil {
			return nil, err
		}
		log.Info("backfill started")
	} else {
		log.Info("backfill resumed", "pending", len(pending))
	}
	client, err := b.Installations.ClientOf(ctx, inst)
	if err != nil {
		return nil, fmt.Errorf("backfill %s: GitHub client: %w", inst.Org, err)
	}
	var deadline time.Time
	if b.MaxRuntime > 0 {
		deadline = now(b.Now).Add(b.MaxRuntime)
	}
	var out []BackfillProgress
	for _, source := range BackfillSources {
		cursor, ok := pending[string(source)]
		if !ok {
			continue
		}
		// Every run loads at least one page, so a tiny budget still
		// makes progress.
		if len(out) > 0 && !deadline.IsZero() && !now(b.Now).Before(deadline) {
			log.Info("backfill paused at its time budget", "next", source)
			return out, fmt.Errorf("backfill %s: %w", inst.Org, ErrIncomplete)
		}
		p, err := b.source(ctx, client, inst, source, cursor, deadline, log.With("source", source))
		out = append(out, p)
		if err != nil {
			return out, err
		}
	}
	log.Info("backfill done", "sources", len(out))
	return out, nil
}

func (b *Backfiller) source(ctx context.Context, client *gh.Client, inst *model.Installation, source model.Source,
	cursor string, deadline time.Time, log *slog.Logger) (BackfillProgress, error) {
	p := BackfillProgress{Org: inst.Org, Source: source}
	if cursor != "" {
		log.Info("resuming from the saved cursor")
	}
	_, err := github.Backfill(ctx, client, inst.Org, source, cursor, func(page github.AlertPage) error {
		changed, bad, err := b.page(ctx, page, log)
		p.Changed += changed
		p.Malformed += bad
		if err != nil {
			return err
		}
		if err := b.saveCursor(ctx, inst, source, page.Next); err != nil {
			return err
		}
		p.Pages++
		p.Alerts += len(page.Alerts)
		log.Info("backfill page loaded", "page", p.Pages, "alerts", p.Alerts, "changed", p.Changed, "malformed", p.Malformed)
		b.report(p)
		if page.Next != "" && !deadline.IsZero() && !now(b.Now).Before(deadline) {
			return ErrIncomplete
		}
		return nil
	})
	if errors.Is(err, ErrIncomplete) {
		log.Info("backfill paused at its time budget", "pages", p.Pages, "alerts", p.Alerts)
		return p, fmt.Errorf("backfill %s alerts of %s: %w", source, inst.Org, ErrIncomplete)
	}
	if err != nil {
		if reason := refused(err); reason != "" {
			p.Skipped, p.Done = reason, true
			log.Warn("GitHub refused the alert listing; source skipped", "reason", reason, "error", err)
			b.report(p)
			return p, b.saveCursor(ctx, inst, source, "")
		}
		return p, fmt.Errorf("backfill %s alerts of %s (the next run resumes from the saved cursor): %w", source, inst.Org, err)
	}
	p.Done = true
	log.Info("source backfilled", "pages", p.Pages, "alerts", p.Alerts, "changed", p.Changed, "malformed", p.Malformed)
	b.report(p)
	return p, nil
}

// page writes one page's alerts as findings, a few at a time. The page
// shares one workload cache: its alerts mostly come from a few
// repositories, whose runtime context is then read once.
func (b *Backfiller) page(ctx context.Context, page github.AlertPage, log *slog.Logger) (changed, malformed int, err error) {
	ctx = triage.WithCache(ctx)
	received := now(b.Now)
	workers := b.Workers
	if workers <= 0 {
		workers = 8
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, workers)
	)
	for _, raw := range page.Alerts {
		f, derr := decodeListedAlert(page.Source, raw, received)
		if derr != nil {
			malformed++
			log.Warn("listed alert skipped: cannot read it", "repository", raw.Repository, "alertNumber", raw.Number, "error", derr)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, ch, uerr := UpsertFinding(ctx, b.Triage, f)
			mu.Lock()
			defer mu.Unlock()
			if uerr != nil && firstErr == nil {
				firstErr = uerr
			}
			if ch {
				changed++
			}
		}()
	}
	wg.Wait()
	return changed, malformed, firstErr
}

// listedActions: the action under which a listed (REST) alert is decoded —
// one that takes the state from the alert object itself.
var listedActions = map[model.Source]struct{ event, action string }{
	model.SourceCodeScanning:   {alerts.EventCodeScanningAlert, "appeared_in_branch"},
	model.SourceDependabot:     {alerts.EventDependabotAlert, "assignees_changed"},
	model.SourceSecretScanning: {alerts.EventSecretScanningAlert, "assigned"},
}

// decodeListedAlert reads an alert of an org-wide listing. The REST alert is
// the webhook's `alert` object plus its repository, so it is decoded by the
// same decoder, wrapped as an event whose action keeps the alert's state.
func decodeListedAlert(source model.Source, raw github.RawAlert, received time.Time) (model.Finding, error) {
	how, ok := listedActions[source]
	if !ok {
		return model.Finding{}, fmt.Errorf("no decoder for source %q", source)
	}
	type repo struct {
		FullName string `json:"full_name"`
	}
	payload, err := json.Marshal(struct {
		Action     string          `json:"action"`
		Repository repo            `json:"repository"`
		Alert      json.RawMessage `json:"alert"`
	}{how.action, repo{raw.Repository}, raw.JSON})
	if err != nil {
		return model.Finding{}, fmt.Errorf("%w: %s alert: %w", ErrMalformed, source, err)
	}
	a, err := alerts.Decode(how.event, payload, received)
	if err != nil {
		return model.Finding{}, err
	}
	return a.Finding, nil
}

// refused names why GitHub will not list a source for this org whatever
// we do (404: not enabled or no access; 403 that is not a rate limit:
// missing permission), or "" for errors worth retrying.
func refused(err error) string {
	if github.IsRateLimit(err) {
		return ""
	}
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return ""
	}
	switch er.Response.StatusCode {
	case http.StatusNotFound:
		return "not found (the feature is off for the org, or the App cannot see it)"
	case http.StatusForbidden:
		return "forbidden (the App lacks the permission)"
	}
	return ""
}

func (b *Backfiller) saveCursors(ctx context.Context, inst *model.Installation, cursors map[string]string) error {
	return b.updateBackfill(ctx, inst, func(m map[string]string) {
		for k, v := range cursors {
			m[k] = v
		}
	})
}

// saveCursor records where source resumes; next "" means it is done.
func (b *Backfiller) saveCursor(ctx context.Context, inst *model.Installation, source model.Source, next string) error {
	return b.updateBackfill(ctx, inst, func(m map[string]string) {
		if next == "" {
			delete(m, string(source))
		} else {
			m[string(source)] = next
		}
	})
}

func (b *Backfiller) updateBackfill(ctx context.Context, inst *model.Installation, edit func(map[string]string)) error {
	_, _, err := b.Store.UpdateInstallation(ctx, inst.Org, func(d *model.Installation, exists bool) error {
		if !exists || d.InstallationID != inst.InstallationID {
			return fmt.Errorf("installation of %s changed during the backfill", inst.Org)
		}
		if d.Backfill == nil {
			d.Backfill = map[string]string{}
		}
		edit(d.Backfill)
		return nil
	})
	if err != nil {
		return fmt.Errorf("save backfill cursor of %s: %w", inst.Org, err)
	}
	return nil
}

func (b *Backfiller) report(p BackfillProgress) {
	if b.Progress != nil {
		b.Progress(p)
	}
}

func (b *Backfiller) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}
