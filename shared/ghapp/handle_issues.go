package ghapp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// EventIssues is the issues event.
const EventIssues = "issues"

// Issues records what people do with a group's GitHub issue: closed as
// completed → fix-claimed; closed as not planned → risk-accepted; reopened
// → active. Writing back to GitHub or Defender is the sync step's job.
type Issues struct {
	Store IssueGroups
	// Sync gets a sync of every group whose status changed, so its issue
	// and its Defender assignment follow at once.
	Sync queue.Sync
	// App names the App's own bot ("<app-slug>[bot]", github.Identity),
	// whose events are the echo of runtimelink's own writes and are
	// ignored (loop guard); other bots' events (a dependabot or CI bot
	// closing an issue) are processed like a person's. While the bot's
	// login is not known (nil, or "" until GitHub has answered GET /app)
	// every Bot sender is ignored: without the slug the App's bot cannot be
	// told from another App's, and a transition made by some other
	// automation is better left to the nightly sweep than risk answering
	// our own close with a status change.
	App AppBot
	Now func() time.Time
}

// AppBot names the App's own bot (*github.Identity).
type AppBot interface {
	// BotLogin is "<app-slug>[bot]", or "" while it is not known.
	BotLogin() string
}

// loopGuard says why an event sent by sender (login, type) is ignored, or
// "" when it is processed.
func (h *Issues) loopGuard(login, senderType string) string {
	bot := ""
	if h.App != nil {
		bot = h.App.BotLogin()
	}
	switch {
	case bot != "" && strings.EqualFold(login, bot):
		return fmt.Sprintf("sent by the App's own bot (%s), the echo of runtimelink's own write: the loop guard leaves it alone", login)
	case bot == "" && strings.EqualFold(senderType, "Bot"):
		return fmt.Sprintf("sent by a bot (%s) while the App's own bot login is not known: the loop guard leaves every bot's events alone", login)
	}
	return ""
}

// Handles implements Handler.
func (h *Issues) Handles() []string { return []string{EventIssues} }

type issuesPayload struct {
	Action string `json:"action"`
	Issue  *struct {
		Number      int      `json:"number"`
		Body        *string  `json:"body"`
		State       string   `json:"state"`
		StateReason *string  `json:"state_reason"`
		UpdatedAt   flexTime `json:"updated_at"`
		ClosedAt    flexTime `json:"closed_at"`
	} `json:"issue"`
	Repository *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Sender *struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	} `json:"sender"`
	// Changes of a transferred issue: where it went.
	Changes *struct {
		NewIssue *struct {
			Number  int    `json:"number"`
			HTMLURL string `json:"html_url"`
		} `json:"new_issue"`
	} `json:"changes"`
}

// Handle implements Handler.
func (h *Issues) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var p issuesPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, eventType, err)
	}
	switch {
	case p.Action == "":
		return malformed(eventType, "action is missing")
	case p.Issue == nil || p.Issue.Number <= 0:
		return malformed(eventType, "issue.number is missing")
	case p.Repository == nil || mapping.NormalizeRepository(p.Repository.FullName, "") == "":
		return malformed(eventType, "repository.full_name is missing")
	}
	var target model.GroupStatus
	at := latestTime(p.Issue.UpdatedAt.t)
	switch p.Action {
	case "closed":
		reason := ""
		if p.Issue.StateReason != nil {
			reason = *p.Issue.StateReason
		}
		switch reason {
		case "completed", "": // GitHub's default close reason
			target = model.GroupFixClaimed
		case "not_planned":
			target = model.GroupRiskAccepted
		default:
			return ignored(eventType, "closed with reason %q, which maps to no group status", reason)
		}
		at = latestTime(at, p.Issue.ClosedAt.t)
	case "reopened":
		target = model.GroupActive
	case "deleted", "transferred":
		return h.moved(ctx, eventType, p)
	default:
		return ignored(eventType, "action %q changes no group status", p.Action)
	}
	if p.Sender != nil {
		if why := h.loopGuard(p.Sender.Login, p.Sender.Type); why != "" {
			return ignored(eventType, "%s", why)
		}
	}
	if at.IsZero() {
		at = now(h.Now)
	}
	repo := mapping.NormalizeRepository(p.Repository.FullName, "")
	log := invocation.Logger(ctx).With("repository", repo, "issue", p.Issue.Number, "action", p.Action)

	groups, err := h.groupsOfIssue(ctx, eventType, repo, p)
	if err != nil {
		return err
	}
	for _, doc := range groups {
		id, home := doc.ID, doc.Repository
		g, changed, err := h.Store.UpdateGroup(ctx, home, id, func(g *model.Group, exists bool) error {
			switch {
			case !exists:
				return model.ErrSkip
			case g.Status == target:
				return model.ErrSkip // already there: a no-op, as every transition
			case at.Before(g.StatusAt.Truncate(time.Second)):
				// An older event never undoes a newer status. GitHub's times
				// are whole seconds: a person's action in the same second as
				// runtimelink's own status change is not older than it.
				return model.ErrSkip
			}
			g.Status, g.StatusAt = target, at
			return nil
		})
		if err != nil {
			return fmt.Errorf("set status of group %s: %w", id, err)
		}
		log.Info("group status from issue", "groupId", id, "groupRepository", home, "status", g.Status, "changed", changed)
		if h.Sync != nil && g != nil && g.Status == target {
			// Also when the status was already there: a delivery whose
			// enqueue failed is redelivered, finds the status written, and
			// must still enqueue (sync is level-triggered: a duplicate is
			// harmless).
			if err := h.Sync.EnqueueSync(ctx, queue.SyncRequest{Kind: queue.KindGroup, Repository: home, GroupID: id}); err != nil {
				return fmt.Errorf("enqueue sync of group %s: %w", id, err)
			}
		}
	}
	return nil
}

// moved follows a group's issue that was transferred to another repository
// (the mapping now names the new issue; the group stays with the
// repository of origin, whose findings it holds) or drops the mapping of
// one that was deleted (the next sync finds no issue by its marker and
// opens one again if the group still wants it). Either way the group's
// sync is enqueued.
func (h *Issues) moved(ctx context.Context, eventType string, p issuesPayload) error {
	repo := mapping.NormalizeRepository(p.Repository.FullName, "")
	log := invocation.Logger(ctx).With("repository", repo, "issue", p.Issue.Number, "action", p.Action)
	var to struct {
		number int
		url    string
	}
	if p.Action == "transferred" {
		if p.Changes == nil || p.Changes.NewIssue == nil || p.Changes.NewIssue.Number <= 0 || p.Changes.NewIssue.HTMLURL == "" {
			return malformed(eventType, "changes.new_issue is missing from a transfer")
		}
		to.number, to.url = p.Changes.NewIssue.Number, p.Changes.NewIssue.HTMLURL
	}
	groups, err := h.groupsOfIssue(ctx, eventType, repo, p)
	if err != nil {
		return err
	}
	for _, doc := range groups {
		id, home := doc.ID, doc.Repository
		_, _, err := h.Store.UpdateGroup(ctx, home, id, func(g *model.Group, exists bool) error {
			if !exists || g.Synced.IssueNumber != p.Issue.Number {
				return model.ErrSkip
			}
			if to.number == 0 {
				g.Synced = model.SyncedIssue{}
				return nil
			}
			// The issue is the same one, elsewhere: the rest of the record holds.
			g.Synced.IssueNumber, g.Synced.IssueURL = to.number, to.url
			return nil
		})
		if err != nil {
			return fmt.Errorf("follow the %s issue of group %s: %w", p.Action, id, err)
		}
		log.Info("group issue "+p.Action, "groupId", id, "groupRepository", home, "newIssue", to.number, "newIssueUrl", to.url)
		if h.Sync != nil {
			if err := h.Sync.EnqueueSync(ctx, queue.SyncRequest{Kind: queue.KindGroup, Repository: home, GroupID: id}); err != nil {
				return fmt.Errorf("enqueue sync of group %s: %w", id, err)
			}
		}
	}
	return nil
}

// groupsOfIssue are the finding groups whose issue this is; none is an
// ignored event (an issue runtimelink did not open, or no longer tracks).
// An issue a person transferred from a group's repository is found by its
// new repository and number, but only when it carries runtimelink's
// marker: that lookup spans every repository's groups, and most issue
// events are about other issues.
func (h *Issues) groupsOfIssue(ctx context.Context, eventType, repo string, p issuesPayload) ([]model.Group, error) {
	number := p.Issue.Number
	groups, err := h.Store.GroupsOfIssue(ctx, repo, number)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 && p.Issue.Body != nil && strings.Contains(*p.Issue.Body, remediation.MarkerPrefix) {
		if groups, err = h.Store.GroupsOfMovedIssue(ctx, repo, number); err != nil {
			return nil, err
		}
	}
	if len(groups) == 0 {
		return nil, ignored(eventType, "issue %s#%d belongs to no finding group", repo, number)
	}
	return groups, nil
}
