// Package sync is the adapter of the `sync` function (Storage queue
// "sync"): it decodes one sync request and reconciles that one thing with
// GitHub — a workload's deployment record, an image's storage record, an
// org's alert backfill, a finding group's issue. A GitHub or storage
// failure fails the invocation: the host retries the message and, after
// maxDequeueCount attempts, moves it to the poison queue.
package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/artifactsync"
	"github.com/runtimelink/runtimelink/shared/campaignsync"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/ghapp"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Function and binding names, as in function.json.
const (
	Function = "sync"
	Binding  = "msg"
)

// Register adds the function to the handler.
func Register(srv *invocation.Server, d *app.Deps) {
	h, err := New(d)
	app.RegisterTrigger(srv, d.Logger, Function, h.Handle, err)
}

// BackfillSlice is how long one invocation backfills before handing the
// rest to a fresh message (a variable so tests can make it tiny).
var BackfillSlice = 5 * time.Minute

// Handler handles one sync request.
type Handler struct {
	// Sync re-enqueues a backfill that ran out of time.
	Sync      queue.Sync
	Artifacts *artifactsync.Syncer
	// Backfill loads an org's alerts; nil when the GitHub App is off.
	Backfill *ghapp.Backfiller
	// Groups reconciles finding groups with their issues (in dry-run, or
	// with the GitHub App off, it plans and writes nothing).
	Groups *groupsync.Syncer
	// Jobs keeps the async cluster deployment-record jobs.
	Jobs inventory.ClusterJobs
	// Campaigns keeps every org's security campaign; nil when off.
	Campaigns *campaignsync.Syncer
}

// New builds the handler from the app's dependencies. With the GitHub App
// not configured (GITHUB_APP_ID unset), records are planned and logged,
// never sent.
func New(d *app.Deps) (*Handler, error) {
	tri, err := d.Triage()
	if err != nil {
		return nil, err
	}
	inv := d.Inventory(tri)
	st := d.State()
	s := &artifactsync.Syncer{Store: st, Inventory: inv, Logger: d.Logger, Now: d.Now, DryRun: d.Config.DryRun}
	h := &Handler{Artifacts: s, Sync: d.Sync, Jobs: st}
	h.Groups = &groupsync.Syncer{
		Store:               st,
		Policy:              remediation.Policy{MinPriority: d.Config.IssueMinPriority, ReopenGrace: d.Config.ReopenGrace},
		Cloud:               d.Config.Cloud,
		ClusterFindingsTeam: d.Config.ClusterFindingsTeam,
		DryRun:              d.Config.DryRun,
		Logger:              d.Logger,
		Now:                 d.Now,
	}
	if d.Governance != nil {
		h.Groups.Governance = d.Governance
		h.Groups.GovernancePolicy = GovernancePolicy(d.Config)
	}
	g, err := d.GitHubApp()
	if err != nil {
		return nil, err
	}
	if !g.Enabled() {
		return h, nil
	}
	s.GitHub = &artifactsync.AppGitHub{
		Clients:    g.Installations,
		Provenance: github.NewAttestations(github.AttestationOptions{Logger: d.Logger}),
	}
	h.Backfill = &ghapp.Backfiller{Store: st, Triage: tri, Installations: g.Installations, Logger: d.Logger, Now: d.Now}
	if d.Config.Campaigns {
		h.Campaigns = &campaignsync.Syncer{
			Findings: st,
			GitHub: func(ctx context.Context, org string) (campaignsync.Campaigns, error) {
				c, err := g.Installations.Client(ctx, org)
				if err != nil {
					return nil, err
				}
				return github.NewCampaigns(c), nil
			},
			Orgs:   func(ctx context.Context) ([]string, error) { return installedOrgs(ctx, g.Clients) },
			Policy: remediation.CampaignPolicy{Enabled: true, Length: d.Config.CampaignLength, Manager: d.Config.CampaignManager},
			DryRun: d.Config.DryRun,
			Logger: d.Logger,
			Now:    d.Now,
		}
	}
	if d.Config.CopilotAssign {
		secret := d.Config.Secrets.CopilotToken
		c, err := github.NewCopilot(d.Config.GitHub.APIURL, func(ctx context.Context) (string, error) {
			return d.Secrets.Get(ctx, secret)
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("copilot: %w", err)
		}
		h.Groups.Copilot = c
		h.Groups.Policy.CopilotAssign = true
	}
	h.Groups.GitHub = &groupsync.AppGitHub{
		Client:     g.Installations.Client,
		Cache:      github.NewIssueCache(0, nil),
		Codeowners: github.NewCodeownersFetcher(github.CodeownersOptions{}),
	}
	return h, nil
}

// Handle decodes the message and does the work it names.
func (h *Handler) Handle(ctx context.Context, inv *invocation.Invocation) error {
	log := inv.Logger()
	msg, err := inv.QueueMessage(Binding)
	if err != nil {
		return fmt.Errorf("read queue message: %w", err)
	}
	req, err := queue.Decode(msg.Body)
	if err != nil {
		// Retrying cannot fix it; after maxDequeueCount the host moves it to
		// the poison queue, where an operator can read it.
		log.Error("undecodable sync request", "messageId", msg.ID, "dequeueCount", msg.DequeueCount, "error", err)
		return err
	}
	log = log.With("kind", req.Kind, "messageId", msg.ID, "dequeueCount", msg.DequeueCount)
	if !msg.InsertionTime.IsZero() {
		// The portal's sync-lag alert and workbook read this line.
		log.Info("sync lag", "lagSeconds", int64(time.Since(msg.InsertionTime).Seconds()))
	}
	ctx = triage.WithCache(ctx)
	s := *h.Artifacts
	s.Logger = log
	switch req.Kind {
	case queue.KindDeployment:
		out, err := s.Deployment(ctx, req.Cluster, req.WorkloadID)
		if err != nil {
			return err
		}
		log.Info("deployment sync done", "workloadId", req.WorkloadID, "outcome", string(out))
	case queue.KindStorage:
		out, err := s.Storage(ctx, req.Digest)
		if err != nil {
			return err
		}
		log.Info("storage sync done", "digest", req.Digest, "outcome", string(out))
	case queue.KindClusterJob:
		return h.clusterJob(ctx, log, req, msg.DequeueCount)
	case queue.KindGroup:
		return h.syncGroup(ctx, log, req, msg.DequeueCount > 1)
	case queue.KindCampaigns:
		if h.Campaigns == nil {
			log.Warn("campaigns requested but RUNTIMELINK_CAMPAIGNS is off or the GitHub App is not configured")
			return nil
		}
		c := *h.Campaigns
		c.Logger = log
		st, err := c.Run(ctx)
		log.Info("campaigns synced", "orgs", st.Orgs, "alerts", st.Alerts, "outcomes", st.Outcomes, "failed", st.Failed)
		return err
	case queue.KindBackfill:
		if h.Backfill == nil {
			log.Warn("backfill requested but the GitHub App is not configured", "org", req.Org)
			return nil
		}
		b := *h.Backfill
		b.Logger = log
		// Stay well inside the host's functionTimeout (10 min); a large
		// org resumes from its saved cursors in the next message.
		b.MaxRuntime = BackfillSlice
		_, err := b.Backfill(ctx, req.Org)
		if errors.Is(err, ghapp.ErrIncomplete) {
			log.Info("backfill continues in a new message", "org", req.Org)
			return h.Sync.EnqueueSync(ctx, req)
		}
		if err != nil {
			return fmt.Errorf("backfill %s: %w", req.Org, err)
		}
	default:
		log.Error("sync request of an unknown kind", "request", fmt.Sprintf("%+v", req))
		return fmt.Errorf("sync request of unknown kind %q", req.Kind)
	}
	return nil
}

// syncGroup reconciles a finding group's GitHub issue. When GitHub or the
// write budget asks to wait, the request goes back on the queue with that
// visibility delay and the invocation succeeds: a rate limit is not a
// failure and must not walk the message towards the poison queue. A
// GitHub 5xx or a store failure fails the invocation (host retry).
func (h *Handler) syncGroup(ctx context.Context, log *slog.Logger, req queue.SyncRequest, retry bool) error {
	g := *h.Groups
	g.Logger = log
	log = log.With("repository", req.Repository, "groupId", req.GroupID)
	res, err := g.Sync(ctx, req.Repository, req.GroupID, retry)
	var d *groupsync.Deferred
	if errors.As(err, &d) {
		dq, ok := h.Sync.(queue.Delayed)
		if !ok {
			return err
		}
		if err := dq.EnqueueSyncAfter(ctx, req, d.Delay); err != nil {
			return fmt.Errorf("put group %s back for %s: %w", req.GroupID, d.Delay, err)
		}
		log.Info("group sync deferred", "delaySeconds", int64(d.Delay.Seconds()), "reason", d.Reason)
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync group %s: %w", req.GroupID, err)
	}
	kinds := make([]string, 0, len(res.Actions))
	for _, a := range res.Actions {
		kinds = append(kinds, string(a.Kind))
	}
	msg := "group sync done"
	if !res.Applied && len(res.Actions) > 0 {
		msg = "group sync planned (dry run)"
	}
	log.Info(msg, "priority", string(res.Priority), "actions", kinds, "calls", res.Calls)
	if at := res.RecheckAt; !at.IsZero() {
		// The plan changes with time alone (a claimed fix's grace ends):
		// look again then, rather than only at the nightly sweep.
		if dq, ok := h.Sync.(queue.Delayed); ok {
			if err := dq.EnqueueSyncAfter(ctx, req, min(time.Until(at), queue.MaxDelay)); err != nil {
				log.Warn("could not schedule the recheck; the nightly sweep will", "error", err)
			}
		}
	}
	return nil
}

// MaxDequeueCount is host.json's extensions.queues.maxDequeueCount (a test
// in shared/invocation holds host.json to 5): the attempt after which the
// host moves a message to the poison queue.
const MaxDequeueCount = 5

// clusterJob runs one async cluster deployment-record job. A failure
// fails the invocation, so the host retries the message (every write is
// idempotent); the last attempt marks the job failed, which its status
// endpoint then answers.
func (h *Handler) clusterJob(ctx context.Context, log *slog.Logger, req queue.SyncRequest, dequeueCount int) error {
	if h.Jobs == nil {
		return errors.New("cluster job: no job store")
	}
	inv := *h.Artifacts.Inventory
	inv.Logger = log
	job, _, err := inv.RunClusterJob(ctx, h.Jobs, req.JobID, dequeueCount >= MaxDequeueCount)
	switch {
	case job == nil && errors.Is(err, model.ErrNotFound):
		// Expired (the jobs container's TTL) or never stored: nothing to run.
		log.Warn("cluster job not found", "jobId", req.JobID, "org", req.Org, "cluster", req.Cluster)
		return nil
	case err != nil:
		log.Error("cluster job failed", "jobId", req.JobID, "org", req.Org, "cluster", req.Cluster, "error", err)
		if job != nil && job.Status == deployrecord.JobFailed {
			return nil // recorded as failed; retrying cannot help
		}
		return err
	}
	log.Info("cluster job done", "jobId", job.JobID, "org", job.Org, "cluster", job.Cluster, "status", job.Status, "totalCount", job.TotalCount)
	return nil
}

// GovernancePolicy is the planner's view of the governance settings.
func GovernancePolicy(c *config.Config) remediation.GovernancePolicy {
	due := map[model.Priority]time.Duration{}
	for p, days := range c.GovernanceDueDays {
		due[p] = time.Duration(days) * 24 * time.Hour
	}
	return remediation.GovernancePolicy{
		Enabled: c.Governance, DueIn: due, Owners: c.GovernanceOwners,
		DefaultOwner: c.GovernanceDefaultOwner, GracePeriod: c.GovernanceGracePeriod,
	}
}

// installedOrgs lists the orgs the App is installed on (its JWT view), so
// an org whose alerts all stopped qualifying still has its campaign closed.
func installedOrgs(ctx context.Context, f *github.Factory) ([]string, error) {
	c, err := f.App(ctx)
	if err != nil {
		return nil, err
	}
	var orgs []string
	opt := &gh.ListOptions{PerPage: 100}
	for {
		list, resp, err := c.Apps.ListInstallations(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("list installations: %w", err)
		}
		for _, in := range list {
			if in.GetTargetType() == "Organization" && in.GetAccount().GetLogin() != "" {
				orgs = append(orgs, strings.ToLower(in.GetAccount().GetLogin()))
			}
		}
		if resp.NextPage == 0 {
			return orgs, nil
		}
		opt.Page = resp.NextPage
	}
}
