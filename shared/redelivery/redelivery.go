// Package redelivery brings lost webhooks back: GitHub never retries a
// delivery it could not make, so a run reads the App's recent delivery log,
// finds the deliveries whose guid runtimelink never recorded as processed
// (they failed, timed out, or were answered by something else) and asks
// GitHub to redeliver each one once. A redelivery keeps its guid, so the
// webhook's dedupe still holds. It knows nothing of HTTP or Cosmos DB: the
// log and the state are the small interfaces below.
package redelivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Delivery is one entry of the App's webhook delivery log.
type Delivery struct {
	ID          int64
	GUID        string // X-GitHub-Delivery: what the webhook dedupes on
	DeliveredAt time.Time
	Redelivery  bool
	StatusCode  int // 0 when GitHub got no HTTP answer
	Status      string
	Event       string
	Action      string
	// InstallationID is 0 for the App's own events (ping, installation
	// of a new account).
	InstallationID int64
}

// OK reports whether the webhook answered 2xx.
func (d Delivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// Log is the App's webhook delivery log (GitHub: GET /app/hook/deliveries
// and POST .../{id}/attempts, with the App's JWT).
type Log interface {
	// Deliveries returns one page of the log, newest first; cursor "" is
	// the first page, next "" means there is no further page.
	Deliveries(ctx context.Context, cursor string) (page []Delivery, next string, err error)
	// Redeliver asks GitHub to send delivery id again. An error wrapping
	// ErrThrottled means GitHub's limits want the run to stop for now.
	Redeliver(ctx context.Context, id int64) error
}

// ErrThrottled wraps a rate-limit refusal (or a pacing wait longer than a
// run should hold): the run stops and the next one continues.
var ErrThrottled = errors.New("throttled by GitHub's rate limits")

// State is what a run reads and writes in runtimelink's store
// (*store.Store).
type State interface {
	// Delivered: the webhook processed and recorded guid.
	Delivered(ctx context.Context, guid string) (bool, error)
	UpdateRedelivery(ctx context.Context, guid string, fn func(r *model.Redelivery, exists bool) error) (*model.Redelivery, bool, error)
	Watermark(ctx context.Context, id string) (time.Time, error)
	SetWatermark(ctx context.Context, id string, through time.Time) error
}

// WatermarkID names the run's watermark (leases container).
const WatermarkID = "redeliver"

// Defaults of Options.
const (
	// DefaultOverlap is read again before the watermark: GitHub logs a
	// delivery when it completed (up to its 10 s timeout after
	// delivered_at), so entries can appear slightly out of order.
	DefaultOverlap = 2 * time.Minute
	// DefaultMaxAttempts bounds the redeliveries of one guid: a webhook
	// that is down for longer than a few runs, or refuses a payload for
	// good, does not make every run ask again.
	DefaultMaxAttempts = 3
	// DefaultMaxRuntime stops a run well inside the 10-minute schedule
	// and host.json's functionTimeout; the next run continues.
	DefaultMaxRuntime = 4 * time.Minute
	// checkers bounds the concurrent Delivered point reads.
	checkers = 8
)

// Options configure a run.
type Options struct {
	// Lookback bounds how far back a run reads: the first run, and any
	// run after a watermark older than this. GitHub redelivers only the
	// last 3 days.
	Lookback    time.Duration
	Overlap     time.Duration // default DefaultOverlap
	MaxAttempts int           // default DefaultMaxAttempts
	MaxRuntime  time.Duration // default DefaultMaxRuntime
}

// Redeliverer runs the redelivery.
type Redeliverer struct {
	Log    Log
	State  State
	Logger *slog.Logger
	Now    func() time.Time
}

// Stats is what one run did.
type Stats struct {
	From      time.Time `json:"from"`
	Watermark time.Time `json:"watermark"`
	Pages     int       `json:"pages"`
	Listed    int       `json:"listed"`
	// Failed and Unrecorded are the guids found lost: no 2xx answer, or
	// a 2xx answer but no record of processing.
	Failed     int `json:"failed"`
	Unrecorded int `json:"unrecorded"`
	// Redelivered were asked for now; Already had been asked for this
	// very delivery before; GaveUp reached MaxAttempts.
	// Refused were answered 400 or 413: the webhook refused the payload
	// itself (malformed, too large), so the same bytes would be refused
	// again; they are logged, not redelivered.
	Refused     int  `json:"refused"`
	Redelivered int  `json:"redelivered"`
	Already     int  `json:"alreadyRedelivered"`
	GaveUp      int  `json:"gaveUp"`
	Errors      int  `json:"errors"`
	Complete    bool `json:"complete"`
}

// lost is a guid to redeliver: its newest delivery and why.
type lost struct {
	latest     Delivery
	unrecorded bool
}

// Run reads the log from the watermark (less the overlap, at most Lookback
// back), redelivers what was lost, oldest first, and moves the watermark
// to what it has dealt with. A run that stops early (time budget, GitHub's
// limits, a failed request) leaves the watermark at the first delivery it
// did not finish, so the next run reads it again.
func (r *Redeliverer) Run(ctx context.Context, o Options) (Stats, error) {
	o = o.withDefaults()
	log := r.logger()
	now := r.now()
	deadline := now.Add(o.MaxRuntime)
	var st Stats
	mark, err := r.State.Watermark(ctx, WatermarkID)
	if err != nil {
		return st, err
	}
	st.From = mark.Add(-o.Overlap)
	if floor := now.Add(-o.Lookback); mark.IsZero() || st.From.Before(floor) {
		st.From = floor
	}

	deliveries, err := r.read(ctx, st.From, &st)
	if err != nil {
		return st, err
	}
	found, err := r.find(ctx, deliveries, &st)
	if err != nil {
		return st, err
	}

	// The watermark moves to the newest delivery read, or to the first
	// lost one this run did not get through.
	through := mark
	for _, d := range deliveries {
		if d.DeliveredAt.After(through) {
			through = d.DeliveredAt
		}
	}
	var errs []error
	st.Complete = true
	for _, l := range found {
		if ctx.Err() != nil || !r.now().Before(deadline) {
			log.Info("redeliver: time budget reached; the next run continues", "guid", l.latest.GUID)
			st.Complete = false
			through = minTime(through, l.latest.DeliveredAt)
			break
		}
		err := r.redeliver(ctx, l, o, &st)
		if err == nil {
			continue
		}
		errs = append(errs, err)
		st.Errors++
		st.Complete = false
		log.Warn("webhook not redelivered", "guid", l.latest.GUID, "event", l.latest.Event, "deliveryId", l.latest.ID, "error", err)
		// Read again next time; MaxAttempts bounds how often.
		through = minTime(through, l.latest.DeliveredAt)
		if errors.Is(err, ErrThrottled) || ctx.Err() != nil {
			break
		}
	}
	if !through.IsZero() && !through.Equal(mark) {
		if err := r.State.SetWatermark(ctx, WatermarkID, through); err != nil {
			errs = append(errs, err)
		}
	}
	st.Watermark = through
	log.Info("redeliver summary", "from", st.From, "watermark", st.Watermark, "pages", st.Pages, "listed", st.Listed,
		"failed", st.Failed, "unrecorded", st.Unrecorded, "refused", st.Refused, "redelivered", st.Redelivered, "alreadyRedelivered", st.Already,
		"gaveUp", st.GaveUp, "errors", st.Errors, "complete", st.Complete)
	return st, errors.Join(errs...)
}

// read pages the log back to from.
func (r *Redeliverer) read(ctx context.Context, from time.Time, st *Stats) ([]Delivery, error) {
	var out []Delivery
	cursor := ""
	for {
		page, next, err := r.Log.Deliveries(ctx, cursor)
		if err != nil {
			return nil, fmt.Errorf("list webhook deliveries (page %d): %w", st.Pages+1, err)
		}
		st.Pages++
		older := false
		for _, d := range page {
			if d.DeliveredAt.Before(from) {
				older = true
				continue
			}
			out = append(out, d)
		}
		st.Listed = len(out)
		if older || next == "" || len(page) == 0 {
			return out, nil
		}
		cursor = next
	}
}

// find groups the deliveries by guid and returns the lost ones, oldest
// first. A guid is done when any of its deliveries was answered 202 (the
// webhook ignores the event and records nothing) or when the webhook
// recorded it; a guid whose newest answer is 400 or 413 is refused for
// good (a redelivery sends the same payload); otherwise its newest
// delivery is to be redelivered.
func (r *Redeliverer) find(ctx context.Context, deliveries []Delivery, st *Stats) ([]lost, error) {
	type guid struct {
		latest     Delivery
		ok, ignore bool
	}
	byGUID := map[string]*guid{}
	var order []string
	for _, d := range deliveries {
		if d.GUID == "" {
			continue
		}
		g := byGUID[d.GUID]
		if g == nil {
			g = &guid{latest: d}
			byGUID[d.GUID] = g
			order = append(order, d.GUID)
		}
		if d.ID > g.latest.ID {
			g.latest = d
		}
		g.ok = g.ok || d.OK()
		g.ignore = g.ignore || d.StatusCode == 202
	}
	var check []string
	for _, k := range order {
		if !byGUID[k].ignore {
			check = append(check, k)
		}
	}
	recorded, err := r.recorded(ctx, check)
	if err != nil {
		return nil, err
	}
	var out []lost
	for _, k := range check {
		if recorded[k] {
			continue
		}
		g := byGUID[k]
		if !g.ok && refusedForGood(g.latest.StatusCode) {
			st.Refused++
			r.logger().Warn("webhook delivery refused by the webhook; not redelivered",
				"guid", k, "event", g.latest.Event, "deliveryId", g.latest.ID, "statusCode", g.latest.StatusCode)
			continue
		}
		if g.ok {
			st.Unrecorded++
		} else {
			st.Failed++
		}
		out = append(out, lost{latest: g.latest, unrecorded: g.ok})
	}
	slices.SortFunc(out, func(a, b lost) int {
		return cmp.Or(a.latest.DeliveredAt.Compare(b.latest.DeliveredAt), cmp.Compare(a.latest.ID, b.latest.ID))
	})
	return out, nil
}

func (r *Redeliverer) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// refusedForGood: answers of the webhook to the payload itself, which a
// redelivery (the same bytes) would get again.
func refusedForGood(status int) bool {
	return status == 400 || status == 413 // Bad Request, Content Too Large
}

// recorded asks the state which guids were processed, a few at a time.
func (r *Redeliverer) recorded(ctx context.Context, guids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(guids))
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan string)
	for range min(checkers, len(guids)) {
		wg.Go(func() {
			for g := range work {
				seen, err := r.State.Delivered(ctx, g)
				mu.Lock()
				out[g] = seen
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, g := range guids {
		work <- g
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

var errAsked = errors.New("already asked")

// redeliver records the attempt first, so no other run asks for the same
// delivery, then asks GitHub; a refused request is recorded as such and
// counts towards MaxAttempts, a throttled one is taken back.
func (r *Redeliverer) redeliver(ctx context.Context, l lost, o Options, st *Stats) error {
	d := l.latest
	log := r.logger()
	var attempt int
	_, _, err := r.State.UpdateRedelivery(ctx, d.GUID, func(rec *model.Redelivery, _ bool) error {
		for _, a := range rec.Attempts {
			if a.DeliveryID == d.ID && a.Error == "" {
				return errAsked
			}
		}
		if len(rec.Attempts) >= o.MaxAttempts {
			return errGaveUp
		}
		rec.Event = d.Event
		rec.Attempts = append(rec.Attempts, model.RedeliveryAttempt{DeliveryID: d.ID, At: r.now()})
		attempt = len(rec.Attempts)
		return nil
	})
	switch {
	case errors.Is(err, errAsked):
		st.Already++
		return nil
	case errors.Is(err, errGaveUp):
		st.GaveUp++
		log.Warn("webhook not redelivered: attempts exhausted", "guid", d.GUID, "event", d.Event,
			"deliveryId", d.ID, "statusCode", d.StatusCode, "attempts", o.MaxAttempts)
		return nil
	case err != nil:
		return err
	}
	if err := r.Log.Redeliver(ctx, d.ID); err != nil {
		// A throttled request never reached GitHub (or GitHub refused to
		// look at it): it is no attempt. Any other refusal is one.
		// Only this run's attempt (the one without an error yet) is
		// taken back: an earlier refusal of the same delivery still
		// counts towards MaxAttempts.
		thisRun := func(a model.RedeliveryAttempt) bool { return a.DeliveryID == d.ID && a.Error == "" }
		_, _, uerr := r.State.UpdateRedelivery(context.WithoutCancel(ctx), d.GUID, func(rec *model.Redelivery, _ bool) error {
			if errors.Is(err, ErrThrottled) {
				rec.Attempts = slices.DeleteFunc(rec.Attempts, thisRun)
				return nil
			}
			for i := range rec.Attempts {
				if thisRun(rec.Attempts[i]) {
					rec.Attempts[i].Error = clip(err.Error())
				}
			}
			return nil
		})
		return errors.Join(fmt.Errorf("redeliver %s (delivery %d): %w", d.GUID, d.ID, err), uerr)
	}
	st.Redelivered++
	log.Info("webhook redelivered", "guid", d.GUID, "event", d.Event, "action", d.Action, "deliveryId", d.ID,
		"statusCode", d.StatusCode, "status", d.Status, "unrecorded", l.unrecorded, "attempt", attempt,
		"installationId", d.InstallationID)
	return nil
}

var errGaveUp = errors.New("attempts exhausted")

func (o Options) withDefaults() Options {
	if o.Lookback <= 0 {
		o.Lookback = 24 * time.Hour
	}
	if o.Overlap <= 0 {
		o.Overlap = DefaultOverlap
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxRuntime <= 0 {
		o.MaxRuntime = DefaultMaxRuntime
	}
	return o
}

func (r *Redeliverer) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
