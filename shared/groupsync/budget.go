package groupsync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Pacing across instances, highest priority first.
//
// GitHub's secondary limits (about 80 content-creating requests a minute
// and 500 an hour) are per installation, while the Functions host runs as
// many sync instances as it likes. The transport of one process paces its
// own writes, which is not enough: the instances must share one view. So
// each installation has one small budget document in Cosmos DB
// (model.WriteBudget: the times of the writes reserved in the last hour),
// and a sync reserves the exact number of content-creating calls its plan
// needs before making any of them, with an ETag-guarded read-modify-write:
// two instances never both take the last slot of a window. A sync that
// cannot have its slots is not held in its invocation: its message goes
// back on the queue with the delay after which the window has room
// (Deferred), so a backlog costs queue time, never a 403.
//
// The queue is first-in first-out, and a large org's backlog is enqueued
// in whatever order ingest found things; yet the first issues opened must
// be the Critical ones. The order therefore comes from the state, not the
// queue: before it reserves, a sync asks the store whether a group of a
// higher priority in the same org is waiting for its sync (desired state
// ahead of the synced state, with an issue to open or keep: PendingAbove).
// If one is, this sync steps back (Deferred, by a delay that grows with
// that backlog, spread with jitter) and the slots go to the higher one,
// whose own message is on the queue too. Critical never waits for High;
// within one priority the queue order stands. The check is one small
// cross-partition count within the org, made only by syncs that are about
// to write and are below Critical.

// Limits are the per-installation secondary limits group sync keeps to.
// Minute and Hour are the window lengths (a test scales them down with
// the fake's).
//
// SearchesPerMinute is the budget of issue searches (the search before
// every open, by marker): GitHub's search API allows 30 a minute per
// installation, whatever the content limits.
type Limits struct {
	PerMinute, PerHour int
	Minute, Hour       time.Duration
	SearchesPerMinute  int
}

// DefaultLimits stay a little under GitHub's 80 a minute and 500 an hour,
// and its 30 searches a minute: a reservation is made just before its
// call, and the few milliseconds between the two must not push GitHub's
// own window over.
var DefaultLimits = Limits{PerMinute: 76, PerHour: 475, Minute: time.Minute, Hour: time.Hour, SearchesPerMinute: 27}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.PerMinute <= 0 {
		l.PerMinute = d.PerMinute
	}
	if l.PerHour <= 0 {
		l.PerHour = d.PerHour
	}
	if l.Minute <= 0 {
		l.Minute = d.Minute
	}
	if l.Hour <= 0 {
		l.Hour = d.Hour
	}
	if l.SearchesPerMinute <= 0 {
		l.SearchesPerMinute = d.SearchesPerMinute
	}
	return l
}

// Budget is the shared state pacing needs (shared/store).
type Budget interface {
	// UpdateWriteBudget is an ETag-guarded read-modify-write of an org's
	// budget document (a fresh one when there is none).
	UpdateWriteBudget(ctx context.Context, org string, fn func(b *model.WriteBudget) error) error
	// WriteBudget reads an org's budget document (nil when there is none).
	WriteBudget(ctx context.Context, org string) (*model.WriteBudget, error)
	// PendingAbove counts the groups of org whose sync is behind and whose
	// priority ranks above rank (model.Priority.Rank).
	PendingAbove(ctx context.Context, org string, rank int) (int, error)
}

// admit reserves n writes at now in a sliding-window log: it returns the
// new log, or the wait after which n writes fit (and the log unchanged).
func admit(log []time.Time, n int, now time.Time, l Limits) ([]time.Time, time.Duration) {
	// Forget what left the hour window.
	cut := 0
	for cut < len(log) && !log[cut].After(now.Add(-l.Hour)) {
		cut++
	}
	log = log[cut:]
	if n > l.PerMinute || n > l.PerHour {
		n = min(l.PerMinute, l.PerHour) // a plan larger than a window still goes, alone
	}
	var wait time.Duration
	if over := len(log) + n - l.PerHour; over > 0 {
		wait = max(wait, log[over-1].Add(l.Hour).Sub(now))
	}
	inMinute := 0
	for i := len(log) - 1; i >= 0 && log[i].After(now.Add(-l.Minute)); i-- {
		inMinute++
	}
	if over := inMinute + n - l.PerMinute; over > 0 {
		first := len(log) - inMinute
		wait = max(wait, log[first+over-1].Add(l.Minute).Sub(now))
	}
	if wait > 0 {
		return log, wait
	}
	for range n {
		log = append(log, now)
	}
	return log, 0
}

// turn says whether a sync at priority p may write now: no group of a
// higher priority waits in org, and the budget has room for one write (a
// look, not a reservation). It runs before the GitHub reads of an open.
func (s *Syncer) turn(ctx context.Context, org string, p model.Priority) error {
	if err := s.higherFirst(ctx, org, p); err != nil {
		return err
	}
	return s.take(ctx, org, 1, false)
}

// higherFirst defers a sync below Critical while higher ones wait.
func (s *Syncer) higherFirst(ctx context.Context, org string, p model.Priority) error {
	if p.Rank() >= model.PriorityCritical.Rank() {
		return nil
	}
	l := s.Limits.withDefaults()
	above, err := s.Store.PendingAbove(ctx, org, p.Rank())
	if err != nil {
		return fmt.Errorf("pending syncs above %s in %s: %w", p, org, err)
	}
	if above == 0 {
		return nil
	}
	// Come back when they are likely done: a backlog drains at the
	// hourly rate once the first minutes' burst is spent. Spread with
	// jitter so the waiting do not all return at once.
	d := time.Duration(float64(l.Hour) * float64(above) / float64(l.PerHour))
	d = min(max(d, l.Minute/4), l.Hour)
	d += time.Duration(rand.Int64N(int64(d/2) + 1))
	return &Deferred{Delay: d, Reason: fmt.Sprintf("%d groups of higher priority than %s are waiting in %s", above, p, org)}
}

// reserve takes n content-creating calls from org's budget for a sync at
// priority p, or says how long to wait (Deferred).
func (s *Syncer) reserve(ctx context.Context, org string, n int, p model.Priority) error {
	if n == 0 {
		return nil
	}
	if err := s.higherFirst(ctx, org, p); err != nil {
		return err
	}
	return s.take(ctx, org, n, true)
}

// take reserves n writes (or, with keep false, only checks they fit: a
// read, so the many waiting syncs do not contend for the document).
func (s *Syncer) take(ctx context.Context, org string, n int, keep bool) error {
	l := s.Limits.withDefaults()
	var wait time.Duration
	if !keep {
		b, err := s.Store.WriteBudget(ctx, org)
		if err != nil {
			return fmt.Errorf("read the write budget of %s: %w", org, err)
		}
		if b != nil {
			_, wait = admit(b.Writes, n, s.now(), l)
		}
		return s.deferFor(wait, org, l)
	}
	err := s.updateBudget(ctx, org, func(b *model.WriteBudget) error {
		log, w := admit(b.Writes, n, s.now(), l)
		wait = w
		if w > 0 || !keep {
			return model.ErrSkip
		}
		b.Writes = log
		return nil
	})
	if err != nil {
		return fmt.Errorf("reserve %d writes for %s: %w", n, org, err)
	}
	return s.deferFor(wait, org, l)
}

// takeSearch reserves one issue search in org's budget, or defers the
// sync until the search window has room.
func (s *Syncer) takeSearch(ctx context.Context, org string) error {
	l := s.Limits.withDefaults()
	searches := Limits{PerMinute: l.SearchesPerMinute, PerHour: l.SearchesPerMinute, Minute: l.Minute, Hour: l.Minute}
	var wait time.Duration
	err := s.updateBudget(ctx, org, func(b *model.WriteBudget) error {
		log, w := admit(b.Searches, 1, s.now(), searches)
		if wait = w; w > 0 {
			return model.ErrSkip
		}
		b.Searches = log
		return nil
	})
	if err != nil {
		return fmt.Errorf("reserve a search for %s: %w", org, err)
	}
	if wait > 0 {
		wait += time.Duration(rand.Int64N(int64(l.Minute/20) + 1))
		return &Deferred{Delay: wait, Reason: fmt.Sprintf("GitHub search budget of %s spent", org)}
	}
	return nil
}

// Contention on an org's budget document. Every instance's syncs
// reserve in the one document, and an ETag-guarded write that loses is
// read and tried again; enough losses in a row fail the write, and the
// invocation with it. Within one process the reservations of an org
// therefore take turns (budgetLocks): the document is contended only by
// as many writers as there are instances, never by every concurrent sync
// of each. budgetRetries counts the writes that lost and were tried again.
var (
	budgetLocks   sync.Map // org → *sync.Mutex
	budgetRetries atomic.Int64
)

// BudgetRetries is how many budget writes of this process lost their
// ETag race to another writer and were tried again.
func BudgetRetries() int64 { return budgetRetries.Load() }

// updateBudget is the store's guarded write of org's budget, one at a
// time per org in this process, counting the retries.
func (s *Syncer) updateBudget(ctx context.Context, org string, fn func(b *model.WriteBudget) error) error {
	mu, _ := budgetLocks.LoadOrStore(org, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	tries := 0
	defer func() {
		if tries > 1 {
			budgetRetries.Add(int64(tries - 1))
		}
	}()
	return s.Store.UpdateWriteBudget(ctx, org, func(b *model.WriteBudget) error {
		tries++
		return fn(b)
	})
}

func (s *Syncer) deferFor(wait time.Duration, org string, l Limits) error {
	if wait > 0 {
		// Spread the returns a little: many syncs refused at once would
		// otherwise all come back in the same instant.
		wait += time.Duration(rand.Int64N(int64(l.Minute/20) + 1))
		return &Deferred{Delay: wait, Reason: fmt.Sprintf("GitHub write budget of %s spent", org)}
	}
	return nil
}
