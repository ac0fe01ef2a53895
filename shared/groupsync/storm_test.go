package groupsync_test

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/store"
)

// delayQueue is the sync queue as the Functions host uses it: messages
// become visible after their delay, workers take the oldest visible one.
type delayQueue struct {
	mu    sync.Mutex
	items msgHeap
	seq   int
	cond  *sync.Cond
	open  int // messages not yet done
}

type msg struct {
	at      time.Time
	seq     int
	groupID string
	repo    string
	tries   int
}

type msgHeap []*msg

func (h msgHeap) Len() int { return len(h) }
func (h msgHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h msgHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *msgHeap) Push(x any)   { *h = append(*h, x.(*msg)) }
func (h *msgHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	*h = old[:len(old)-1]
	return m
}

func (q *delayQueue) put(m *msg, delay time.Duration, fresh bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	m.seq, m.at = q.seq, time.Now().Add(delay)
	if fresh {
		q.open++
	}
	heap.Push(&q.items, m)
	q.cond.Broadcast()
}

// take waits for a visible message; nil when every message is done.
func (q *delayQueue) take(ctx context.Context) *msg {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.open == 0 || ctx.Err() != nil {
			return nil
		}
		if len(q.items) > 0 {
			if d := time.Until(q.items[0].at); d <= 0 {
				return heap.Pop(&q.items).(*msg)
			} else {
				t := time.AfterFunc(d, q.cond.Broadcast)
				q.cond.Wait()
				t.Stop()
				continue
			}
		}
		q.cond.Wait()
	}
}

func (q *delayQueue) done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.open--
	q.cond.Broadcast()
}

// TestStormCriticalFirstWithinSecondaryLimits opens a storm of issues at once
// (a quarter Critical, the rest High, every High enqueued before every
// Critical) against the fake enforcing GitHub's secondary limits with time
// scaled down: every group opened exactly once, no 403/429 received, every
// Critical opened before any High. It reports the calls per issue and the
// wall time scaled back to GitHub's real limits.
//
// Time runs stormScale times faster than real: the fake's windows are a
// minute and an hour divided by it, and so are group sync's. The scaled
// minute is short enough that the milliseconds between a reservation and
// its call matter, so the test reserves 70 a minute (production: 76 of 80);
// the binding limit for 2,000 issues is the hourly one, kept at 475 of 500.
// The per-process transport pacer runs on real minutes; it is set out of
// the way so the shared budget is what paces.
func TestStormCriticalFirstWithinSecondaryLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("storm test: minutes against the emulator (not under -short)")
	}
	// 200 groups in make test; the full 2,000 of the issue with make storm
	// (RUNTIMELINK_STORM_GROUPS=2000, minutes on a loaded machine).
	n := 200
	if v, err := strconv.Atoi(os.Getenv("RUNTIMELINK_STORM_GROUPS")); err == nil && v > 0 {
		n = v
	}
	const stormScale = 200
	minute, hour := time.Minute/stormScale, time.Hour/stormScale

	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	srv := githubtest.New(t, githubtest.WithContentLimits(githubtest.ContentLimits{
		PerMinute: 80, PerHour: 500, Minute: minute, Hour: hour, Status: http.StatusForbidden, SearchPerMinute: 30}))
	srv.AddInstallation(installation, org)
	repos := make([]string, 20)
	for i := range repos {
		repos[i] = fmt.Sprintf("%s/service-%02d", org, i)
		srv.SetCollaborators(repos[i], "octocat")
		srv.SetFile(repos[i], "CODEOWNERS", []byte("* @octocat\n"))
	}
	logger := slog.New(slog.NewTextHandler(discard{}, nil))
	f, err := github.NewFactory(github.FactoryOptions{BaseURL: srv.URL, AppID: srv.AppID, PrivateKey: srv.PrivateKey,
		Logger: logger, Limits: github.Limits{WritesPerMinute: 1 << 20, WritesPerHour: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	db := localstack.Store(t)
	s := &groupsync.Syncer{
		Store: store.New(db),
		GitHub: &groupsync.AppGitHub{
			Client:     func(ctx context.Context, _ string) (*gh.Client, error) { return f.Installation(ctx, installation) },
			Cache:      github.NewIssueCache(0, nil),
			Codeowners: github.NewCodeownersFetcher(github.CodeownersOptions{}),
		},
		Limits: groupsync.Limits{PerMinute: 70, PerHour: 475, Minute: minute, Hour: hour, SearchesPerMinute: 24},
		Logger: logger,
	}

	// Seed: n groups, one finding each, spread over the repositories.
	q := &delayQueue{}
	q.cond = sync.NewCond(&q.mu)
	prio := map[string]model.Priority{}
	var highs, crits []*msg
	seedStart := time.Now()
	var seedWG sync.WaitGroup
	var seedErr atomic.Value
	sem := make(chan struct{}, 8)
	for i := range n {
		p := model.PriorityHigh
		if i%4 == 0 {
			p = model.PriorityCritical
		}
		r := repos[i%len(repos)]
		img := fmt.Sprintf("octoacr.azurecr.io/svc-%04d", i)
		fd := cve(fmt.Sprintf("CVE-2025-%05d", i), p, true)
		fd.Repository, fd.Image, fd.ID = r, img, model.ImageCVEFindingID(img, fd.CVE)
		fd.GroupID = model.ImageGroupID(r, img)
		g := &model.Group{ID: fd.GroupID, Repository: r, Kind: model.GroupKindImage, Image: img, FindingIDs: []string{fd.ID},
			Status: model.GroupActive, StatusAt: time.Now(), Owners: []string{"@octocat"}}
		g.Desired = remediation.RenderIssue(remediation.IssueInput{Group: *g, Findings: []model.Finding{*fd}})
		prio[g.ID] = p
		m := &msg{groupID: g.ID, repo: r}
		if p == model.PriorityCritical {
			crits = append(crits, m)
		} else {
			highs = append(highs, m)
		}
		seedWG.Add(1)
		sem <- struct{}{}
		go func() {
			defer seedWG.Done()
			defer func() { <-sem }()
			if _, err := db.Findings.Put(ctx, fd); err != nil {
				seedErr.Store(err)
			}
			if _, err := db.Groups.Put(ctx, g); err != nil {
				seedErr.Store(err)
			}
		}()
	}
	seedWG.Wait()
	if err, _ := seedErr.Load().(error); err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("seeded %d groups in %s", n, time.Since(seedStart).Round(time.Millisecond))
	// The worst order for priority: every High ahead of every Critical.
	rand.Shuffle(len(highs), func(i, j int) { highs[i], highs[j] = highs[j], highs[i] })
	for _, m := range append(highs, crits...) {
		q.put(m, 0, true)
	}

	start := time.Now()
	retriesBefore := groupsync.BudgetRetries()
	var deferred, failed, budgetFailed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m := q.take(ctx)
				if m == nil {
					return
				}
				m.tries++
				_, err := s.Sync(ctx, m.repo, m.groupID, m.tries > 1)
				var d *groupsync.Deferred
				switch {
				case errors.As(err, &d):
					deferred.Add(1)
					q.put(m, d.Delay, false)
				case err != nil:
					failed.Add(1)
					if strings.Contains(err.Error(), "budget") || strings.Contains(err.Error(), "reserve") {
						budgetFailed.Add(1)
					}
					if failed.Load() < 5 {
						t.Logf("sync %s: %v", m.groupID, err)
					}
					q.put(m, 50*time.Millisecond, false) // the host's retry
				default:
					q.done()
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("storm did not finish in time: %d messages open", q.open)
	}

	// Every group opened exactly once.
	var lastCritical, firstHigh time.Time
	total := 0
	for _, r := range repos {
		seen := map[string]int{}
		for _, is := range srv.IssueList(r) {
			total++
			id := groupOfBody(is.Body)
			seen[id]++
			switch prio[id] {
			case model.PriorityCritical:
				if is.CreatedAt.After(lastCritical) {
					lastCritical = is.CreatedAt
				}
			case model.PriorityHigh:
				if firstHigh.IsZero() || is.CreatedAt.Before(firstHigh) {
					firstHigh = is.CreatedAt
				}
			}
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("group %s has %d issues", id, c)
			}
		}
	}
	if total != n {
		t.Errorf("issues = %d, want %d", total, n)
	}
	if limited := srv.SecondaryLimited(); limited != 0 {
		t.Errorf("GitHub answered %d secondary or search limits (403/429), %d of them on searches", limited, srv.SearchLimited())
	}
	if n := budgetFailed.Load(); n != 0 {
		t.Errorf("%d syncs fell back to the host's retry on the contended write budget", n)
	}
	if !lastCritical.Before(firstHigh) {
		t.Errorf("a High issue (%s) was opened before the last Critical one (%s)", firstHigh.Format(time.StampMicro), lastCritical.Format(time.StampMicro))
	}
	reqs := srv.Requests()
	calls, writes := 0, 0
	for _, r := range reqs {
		if r.App {
			continue
		}
		calls++
		if r.Method != http.MethodGet {
			writes++
		}
	}
	searches := srv.Count(func(r githubtest.Request) bool { return strings.HasPrefix(r.Path, "/search/") })
	t.Logf("storm: %d issues, %d GitHub calls (%.2f per issue, %d writes, %d searches), %d answered 403/429, "+
		"%d deferrals, %d failed attempts (%d on the budget), %d budget ETag retries; "+
		"wall %s at 1/%d time = %s at GitHub's real limits",
		total, calls, float64(calls)/float64(max(total, 1)), writes, searches, srv.SecondaryLimited(),
		deferred.Load(), failed.Load(), budgetFailed.Load(), groupsync.BudgetRetries()-retriesBefore,
		wall.Round(time.Millisecond), stormScale, (wall * stormScale).Round(time.Minute))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// groupOfBody reads the group id from an issue body's marker.
func groupOfBody(body string) string {
	_, rest, ok := strings.Cut(body, remediation.MarkerPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, " -->")
	return id
}
