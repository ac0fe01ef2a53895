package triage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// LeaseID is the lease document of the nightly run.
const LeaseID = "reprioritize"

// AttackPathSource pulls Defender CSPM attack paths (resourcegraph.Client
// against Azure Resource Graph).
type AttackPathSource interface {
	AttackPaths(ctx context.Context) ([]defender.AttackPath, error)
}

// AttackPathApplier makes the attack-path risks of workloads match the
// paths (inventory.Inventory, which also tells WorkloadChanged and
// enqueues the workloads' deployment records for GitHub).
type AttackPathApplier interface {
	ApplyAttackPaths(ctx context.Context, paths []defender.AttackPath) ([]model.Workload, error)
}

// ClusterTagSource lists the clusters in scope with their ARM tags
// (resourcegraph.Client); ClusterTagApplier keeps them (inventory.Inventory).
// An AttackPathSource and AttackPathApplier that are these too have the
// nightly run read the tags the production rule may name clusters by.
type ClusterTagSource interface {
	Clusters(ctx context.Context) ([]defender.ClusterResource, error)
}

// ClusterTagApplier: see ClusterTagSource.
type ClusterTagApplier interface {
	ApplyClusterTags(ctx context.Context, clusters []defender.ClusterResource) (int, error)
}

// SnapshotExpirer drops the risk factors a complete Defender snapshot
// left out (inventory.Inventory).
type SnapshotExpirer interface {
	ExpireSnapshotRisks(ctx context.Context) (int, error)
}

// SweepOptions configure one nightly run.
type SweepOptions struct {
	// Holder names this run in the lease (the invocation id); random when empty.
	Holder string
	// MaxRuntime: the run stops cleanly before it and resumes next time.
	MaxRuntime time.Duration
	// AttackPaths is nil when Resource Graph is off; Applier writes what
	// it returns.
	AttackPaths AttackPathSource
	Applier     AttackPathApplier
	// Snapshots, when set, expires first what the latest snapshot of
	// continuous export no longer reports.
	Snapshots SnapshotExpirer
	// ResyncAfter re-enqueues groups with an issue whose last sync is
	// older than this, to catch edits made on GitHub. Default 7 days.
	ResyncAfter time.Duration
	// PageSize is the number of findings read per query page. Default 500.
	PageSize int
	Logger   *slog.Logger
	// Progress, when set, is called after every page.
	Progress func(SweepStats)
}

// SweepStats summarizes a run.
type SweepStats struct {
	Scanned          int           `json:"scanned"`
	Changed          int           `json:"changed"`          // findings written
	GroupsRefreshed  int           `json:"groupsRefreshed"`  // groups recomputed after a change
	Enqueued         int           `json:"enqueued"`         // groups enqueued because their desired state changed
	Drift            int           `json:"drift"`            // groups re-enqueued because their sync is behind
	WorkloadsUpdated int           `json:"workloadsUpdated"` // workloads whose attack-path risks changed
	SnapshotExpired  int           `json:"snapshotExpired"`  // assessments whose risks expired: the latest Defender snapshot left them out
	Errors           int           `json:"errors"`
	Resumed          bool          `json:"resumed"`  // started from a saved cursor
	Complete         bool          `json:"complete"` // reached the end of the findings
	LeaseHeld        bool          `json:"leaseHeld"`
	Duration         time.Duration `json:"durationNs"`
	// OpenByPriority counts the open findings this run scanned, by
	// priority after re-scoring; the portal workbook's priority mix reads
	// it from the summary line of the last complete run.
	OpenByPriority map[string]int `json:"openByPriority,omitempty"`
}

const (
	defaultMaxRuntime  = 8 * time.Minute
	defaultResyncAfter = 7 * 24 * time.Hour
	defaultPageSize    = 500
	// leaseGrace outlasts the run so a crashed run's lease still expires
	// soon, while a live one is never taken over.
	leaseGrace = 2 * time.Minute
	// checkpointEvery bounds the work a crash loses.
	checkpointEvery = 30 * time.Second
	// maxPrepared bounds the scored contexts kept during a run.
	maxPrepared = 4096
	// maxEnqueuedSet bounds the set that keeps drift from enqueuing a group
	// a second time in one run (a duplicate is harmless: sync is level-triggered).
	maxEnqueuedSet = 50000
	// maxPendingGroups bounds the groups waiting for a refresh.
	maxPendingGroups = 1000
	maxErrorsKept    = 5
)

var (
	errLeaseHeld = errors.New("reprioritize lease held by another run")
	errStop      = errors.New("time budget spent")
)

// Reprioritize is the nightly run: it pulls attack paths from Resource
// Graph onto workloads, streams every finding page by page and re-scores
// it with the current runtime context (the whole code-to-runtime map is
// read once; findings are never all in memory), writes only findings whose
// score, priority or explanation changed, refreshes their groups and
// enqueues those whose desired issue changed, and re-enqueues groups whose
// sync is behind. A lease keeps a second instance out; the run stops
// before MaxRuntime and saves a cursor that the next run resumes from.
// Per-finding failures are counted and returned together at the end.
func (t *Triage) Reprioritize(ctx context.Context, o SweepOptions) (SweepStats, error) {
	start := t.now()
	if o.MaxRuntime <= 0 {
		o.MaxRuntime = defaultMaxRuntime
	}
	if o.ResyncAfter <= 0 {
		o.ResyncAfter = defaultResyncAfter
	}
	if o.PageSize <= 0 {
		o.PageSize = defaultPageSize
	}
	if o.Holder == "" {
		o.Holder = randomID()
	}
	log := o.Logger
	if log == nil {
		log = t.logger()
	}
	r := &sweep{t: t, o: o, log: log, start: start, deadline: start.Add(o.MaxRuntime - stopMargin(o.MaxRuntime)), enqueued: map[string]bool{}, pending: map[[2]string]bool{}}
	lease, err := t.acquireLease(ctx, o.Holder, start.Add(o.MaxRuntime+leaseGrace))
	if errors.Is(err, errLeaseHeld) {
		r.stats.LeaseHeld = true
		log.Info("reprioritize: another run holds the lease; nothing to do", "holder", lease.Holder, "expires", lease.Expires)
		return r.stats, nil
	}
	if err != nil {
		return r.stats, err
	}
	r.cursor = lease.Cursor
	r.stats.Resumed = r.cursor != ""

	workCtx, cancel := context.WithDeadline(ctx, start.Add(o.MaxRuntime))
	runErr := r.run(workCtx)
	cancel()

	// Release even when the run failed or its context ended, so the next
	// run need not wait for the lease to expire.
	relCtx, relCancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer relCancel()
	if err := t.releaseLease(relCtx, o.Holder, r.cursor); err != nil {
		runErr = errors.Join(runErr, err)
	}
	r.stats.Duration = t.now().Sub(start)
	log.Info("reprioritize summary",
		"scanned", r.stats.Scanned, "changed", r.stats.Changed, "groupsRefreshed", r.stats.GroupsRefreshed,
		"enqueued", r.stats.Enqueued, "drift", r.stats.Drift, "workloadsUpdated", r.stats.WorkloadsUpdated,
		"errors", r.stats.Errors, "resumed", r.stats.Resumed, "complete", r.stats.Complete,
		"durationMs", r.stats.Duration.Milliseconds(), "openByPriority", r.stats.OpenByPriority)
	if runErr != nil {
		return r.stats, fmt.Errorf("reprioritize: %w", runErr)
	}
	return r.stats, nil
}

// pick is the stored finding when the re-score wrote one, else the one read.
func pick(stored, read *model.Finding) *model.Finding {
	if stored != nil {
		return stored
	}
	return read
}

// stopMargin is the part of the budget kept free to finish the page at
// hand, refresh its groups and release the lease.
func stopMargin(budget time.Duration) time.Duration {
	return min(max(budget/10, 5*time.Second), time.Minute, budget/2)
}

type sweep struct {
	t        *Triage
	o        SweepOptions
	log      *slog.Logger
	start    time.Time
	deadline time.Time
	// storeStart is the start in the store's clock (Unix seconds).
	storeStart int64
	cursor     string
	stats      SweepStats
	errs       []error
	enqueued   map[string]bool
	// pending are the groups of findings written since the last flush.
	pending  map[[2]string]bool
	lastSave time.Time
}

func (r *sweep) run(ctx context.Context) error {
	// The lease's server timestamp marks the start in the store's clock,
	// which findings' _ts are compared with.
	l, err := r.t.Store.Lease(ctx, LeaseID)
	if err != nil {
		return fmt.Errorf("read lease %s: %w", LeaseID, err)
	}
	r.storeStart = l.TS
	if r.o.Snapshots != nil {
		n, err := r.o.Snapshots.ExpireSnapshotRisks(ctx)
		r.stats.SnapshotExpired = n
		if err != nil {
			r.fail(fmt.Errorf("expire risks a Defender snapshot left out: %w", err))
		}
	}
	if r.o.AttackPaths != nil {
		if err := r.attackPaths(ctx); err != nil {
			// Re-scoring with the risks already known is still worth doing.
			r.fail(err)
		}
	}
	ix, err := r.t.loadIndex(ctx)
	if err != nil {
		return err
	}
	sc := &sweepScorer{policy: r.t.policy(), ix: ix, prepared: map[string]preparedContext{}, start: r.storeStart}
	err = r.findings(ctx, sc)
	// Refresh the groups of what was written, also when the findings
	// stopped early: the cursor saved at release is past those findings.
	if ferr := r.flushGroups(ctx); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if err != nil {
		return err
	}
	if r.stats.Complete {
		if err := r.drift(ctx); err != nil && !errors.Is(err, errStop) {
			return err
		}
	}
	return r.result()
}

func (r *sweep) fail(err error) {
	r.stats.Errors++
	if len(r.errs) < maxErrorsKept {
		r.errs = append(r.errs, err)
	}
}

func (r *sweep) result() error {
	if r.stats.Errors == 0 {
		return nil
	}
	return fmt.Errorf("%d failures, first %d: %w", r.stats.Errors, len(r.errs), errors.Join(r.errs...))
}

func (r *sweep) timeUp() bool { return !r.t.now().Before(r.deadline) }

// findings streams the findings from the cursor on.
func (r *sweep) findings(ctx context.Context, sc *sweepScorer) error {
	retried := false
	r.lastSave = r.t.now()
	for {
		if r.timeUp() {
			r.log.Info("reprioritize: time budget reached; the next run resumes here", "scanned", r.stats.Scanned)
			return nil
		}
		docs, next, err := r.t.Store.FindingsPage(ctx, r.o.PageSize, r.cursor)
		if err != nil {
			if r.cursor != "" && r.stats.Scanned == 0 && !retried {
				// A saved cursor the store no longer accepts (expired,
				// from another layout): start over rather than stall.
				r.log.Warn("reprioritize: saved cursor rejected; starting from the beginning", "error", err)
				r.cursor, retried, r.stats.Resumed = "", true, false
				continue
			}
			return fmt.Errorf("read findings: %w", err)
		}
		for i := range docs {
			r.stats.Scanned++
			stored, err := r.t.rescore(ctx, &docs[i], sc.score)
			if now := pick(stored, &docs[i]); err == nil && now.State.Active() {
				if r.stats.OpenByPriority == nil {
					r.stats.OpenByPriority = map[string]int{}
				}
				r.stats.OpenByPriority[string(now.Priority)]++
			}
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				r.fail(err)
				continue
			}
			if stored != nil {
				r.stats.Changed++
				if stored.GroupID != "" {
					r.pending[[2]string{stored.Repository, stored.GroupID}] = true
				}
			}
		}
		if len(r.pending) >= maxPendingGroups {
			if err := r.flushGroups(ctx); err != nil {
				return err
			}
		}
		r.cursor = next
		if next == "" {
			r.stats.Complete = true
		}
		if r.o.Progress != nil {
			r.o.Progress(r.stats)
		}
		if next == "" {
			return nil
		}
		if r.t.now().Sub(r.lastSave) >= checkpointEvery {
			// Groups first: a saved cursor never skips a group refresh.
			if err := r.flushGroups(ctx); err != nil {
				return err
			}
			if err := r.t.checkpointLease(ctx, r.o.Holder, r.cursor); err != nil {
				return err
			}
			r.lastSave = r.t.now()
		}
	}
}

// flushGroups refreshes the groups of the findings written since the last
// flush, each once however many of its findings changed.
func (r *sweep) flushGroups(ctx context.Context) error {
	keys := make([][2]string, 0, len(r.pending))
	for k := range r.pending {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, k := range keys {
		delete(r.pending, k)
		enq, err := r.t.RefreshGroup(ctx, k[0], k[1])
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			r.fail(err)
			continue
		}
		r.stats.GroupsRefreshed++
		if enq {
			r.stats.Enqueued++
			r.markEnqueued(k[0], k[1])
		}
	}
	return nil
}

func (r *sweep) markEnqueued(repo, id string) {
	if len(r.enqueued) < maxEnqueuedSet {
		r.enqueued[repo+"\x00"+id] = true
	}
}

// drift re-enqueues groups whose sync is behind their desired state, or
// whose issue was not synced for ResyncAfter.
func (r *sweep) drift(ctx context.Context) error {
	stale := r.t.now().Add(-r.o.ResyncAfter)
	// The store reads only what NeedsSync needs.
	return r.t.Store.GroupsBehind(ctx, stale, func(g *model.Group) error {
		if r.timeUp() {
			return errStop
		}
		if !NeedsSync(g, stale) || r.enqueued[g.Repository+"\x00"+g.ID] {
			return nil
		}
		if r.t.Sync != nil {
			if err := r.t.Sync.EnqueueGroupSync(ctx, g.Repository, g.ID); err != nil {
				return fmt.Errorf("re-enqueue group %s: %w", g.ID, err)
			}
		}
		r.stats.Drift++
		r.markEnqueued(g.Repository, g.ID)
		return nil
	})
}

// NeedsSync reports whether a group's GitHub state is behind: its desired
// state was never applied (and there is something to apply: an issue to
// open, or one that exists), or its issue was last synced before stale.
func NeedsSync(g *model.Group, stale time.Time) bool {
	hasIssue := g.Synced.IssueNumber != 0
	if g.Desired.Hash != g.Synced.Hash && (g.Desired.Open || hasIssue) {
		return true
	}
	return hasIssue && g.Synced.At.Before(stale)
}

// attackPaths pulls the attack paths and has the applier put their risk
// factors on the workloads they run through (and take stale ones off); the
// applier reports each changed workload to WorkloadChanged, so what it
// touches is re-scored before the sweep reads the runtime map.
func (r *sweep) attackPaths(ctx context.Context) error {
	if r.o.Applier == nil {
		return errors.New("resource graph: attack paths pulled but no applier to write them")
	}
	paths, err := r.o.AttackPaths.AttackPaths(ctx)
	if err != nil {
		return fmt.Errorf("resource graph: %w", err)
	}
	changed, err := r.o.Applier.ApplyAttackPaths(ctx, paths)
	r.stats.WorkloadsUpdated = len(changed)
	if err != nil {
		return fmt.Errorf("apply attack paths: %w", err)
	}
	r.log.Info("resource graph: attack paths applied", "paths", len(paths), "workloadsUpdated", len(changed))
	src, ok1 := r.o.AttackPaths.(ClusterTagSource)
	app, ok2 := r.o.Applier.(ClusterTagApplier)
	if !ok1 || !ok2 {
		return nil
	}
	clusters, err := src.Clusters(ctx)
	if err != nil {
		return fmt.Errorf("resource graph: %w", err)
	}
	n, err := app.ApplyClusterTags(ctx, clusters)
	if err != nil {
		return fmt.Errorf("apply cluster tags: %w", err)
	}
	r.log.Info("resource graph: cluster tags applied", "clusters", len(clusters), "clustersChanged", n)
	return nil
}

// sweepScorer rates findings against the code-to-runtime map read at the
// start of the run, preparing each distinct context once.
type sweepScorer struct {
	policy   scoring.Policy
	ix       *mapping.Index
	prepared map[string]preparedContext
	// start (Unix seconds) is when the run began: a finding written since
	// was scored by an ingest that saw a newer runtime than this map, so
	// the run leaves it alone.
	start int64
}

type preparedContext struct {
	pc       scoring.Prepared
	deployed bool
}

func (s *sweepScorer) score(_ context.Context, f *model.Finding) (scoring.Result, bool, error) {
	if f.TS > s.start {
		return scoring.Result{Score: f.Score, Priority: f.Priority, Explanation: f.Explanation}, f.Deployed, nil
	}
	sc := scopeOf(f)
	key := sc.key()
	p, ok := s.prepared[key]
	if !ok {
		ws := sc.workloads(s.ix)
		p = preparedContext{pc: scoring.Prepare(s.policy, scoring.ContextOf(ws)), deployed: deployed(ws)}
		if len(s.prepared) >= maxPrepared {
			clear(s.prepared)
		}
		s.prepared[key] = p
	}
	return p.pc.Score(f), p.deployed, nil
}

// acquireLease takes the run lease unless another holder has it and it has
// not expired. It returns the lease (with the cursor to resume from), or
// the current one with errLeaseHeld.
func (t *Triage) acquireLease(ctx context.Context, holder string, until time.Time) (*model.Lease, error) {
	var held model.Lease
	l, _, err := t.Store.UpdateLease(ctx, LeaseID, func(l *model.Lease, exists bool) error {
		if exists && l.Holder != "" && l.Holder != holder && t.now().Before(l.Expires) {
			held = *l
			return errLeaseHeld
		}
		l.ID, l.Holder, l.Expires = LeaseID, holder, until.UTC()
		return nil
	})
	if errors.Is(err, errLeaseHeld) {
		return &held, errLeaseHeld
	}
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", LeaseID, err)
	}
	return l, nil
}

// checkpointLease saves the cursor while the run goes on.
func (t *Triage) checkpointLease(ctx context.Context, holder, cursor string) error {
	return t.updateOwnLease(ctx, holder, func(l *model.Lease) { l.Cursor = cursor })
}

// releaseLease saves the cursor ("" when the run completed) and lets the
// lease go.
func (t *Triage) releaseLease(ctx context.Context, holder, cursor string) error {
	now := t.now()
	return t.updateOwnLease(ctx, holder, func(l *model.Lease) {
		l.Cursor, l.Holder, l.Expires = cursor, "", now
	})
}

func (t *Triage) updateOwnLease(ctx context.Context, holder string, fn func(l *model.Lease)) error {
	_, _, err := t.Store.UpdateLease(ctx, LeaseID, func(l *model.Lease, exists bool) error {
		if !exists || l.Holder != holder {
			return model.ErrSkip // taken over after expiry: the cursor is theirs now
		}
		fn(l)
		return nil
	})
	if err != nil {
		return fmt.Errorf("update lease %s: %w", LeaseID, err)
	}
	return nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
