package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// printPlan prints the dry-run plan of GET /api/plan: the issues it would
// open (title, assignees, labels) and the body of the top one; then, with
// the planner and nothing written anywhere, the story of that top issue:
// a person closes it, runtime still sees the vulnerability after the
// grace, and finally Defender reports it Healthy.
func printPlan(ctx context.Context, c *client, out io.Writer, all []model.Finding) error {
	body, err := c.get(ctx, "/api/plan", url.Values{"limit": {"1000"}})
	if err != nil {
		return err
	}
	var p groupsync.Preview
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("decode plan: %w", err)
	}
	opens := p.Opens()
	fmt.Fprintf(out, "dry run: %v · %d issues to open · actions %v\n\n", p.DryRun, len(opens), p.Counts)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRIORITY\tREPOSITORY\tTITLE\tASSIGNEES\tLABELS")
	for _, o := range opens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Priority, o.Repository, o.Title, orNone(o.Assignees), strings.Join(o.Labels, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(opens) == 0 {
		return nil
	}
	top := opens[0]
	fmt.Fprintf(out, "\n--- body of the top issue (%s) ---\n%s--- end of body ---\n", top.Title, top.Body)

	var fs []model.Finding
	for _, f := range all {
		if f.GroupID == top.GroupID {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return story(out, top, fs)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

// story plays the top group's lifecycle through the planner, in memory.
func story(out io.Writer, top groupsync.PlannedIssue, fs []model.Finding) error {
	policy := remediation.Policy{ReopenGrace: 24 * time.Hour}
	now := time.Now().UTC().Truncate(time.Second)
	kind := model.GroupKindAlert
	if strings.HasPrefix(top.GroupID, "image:") {
		kind = model.GroupKindImage
	}
	g := model.Group{ID: top.GroupID, Repository: top.Repository, Kind: kind, Image: fs[0].Image,
		Status: model.GroupActive, StatusAt: now.Add(-time.Hour)}
	render := func() { g.Desired = remediation.RenderIssue(remediation.IssueInput{Group: g, Findings: fs}) }
	render()
	var is *remediation.Issue
	step := func(title string, at time.Time) {
		acts := remediation.Plan(g, fs, is, at, policy)
		fmt.Fprintf(out, "\n==> %s\n", title)
		if len(acts) == 0 {
			fmt.Fprintln(out, "    nothing to write")
		}
		for _, a := range acts {
			if a.Comment != nil {
				fmt.Fprintf(out, "    comment:\n      %s\n", strings.ReplaceAll(strings.TrimSpace(a.Comment.Body), "\n", "\n      "))
				continue
			}
			fmt.Fprintf(out, "    %s: %s\n", a.Kind, a.Why)
		}
		is = remediation.Apply(&g, is, acts, at)
		if is != nil && is.Number == 0 {
			is.Number = 1
			g.Synced.IssueNumber = 1
		}
	}
	step("the plan opens the issue", now)
	closed := now.Add(2 * time.Hour)
	fmt.Fprintf(out, "\n==> a person closes the issue as completed (%s)\n", closed.Format(time.RFC3339))
	is.State, is.Reason, is.ClosedAt = remediation.StateClosed, remediation.ReasonCompleted, closed
	g.Status, g.StatusAt = model.GroupFixClaimed, closed
	step("an hour later: Defender has not rescanned yet", closed.Add(time.Hour))
	step("after the 24h grace: still Unhealthy on the running workload", closed.Add(25*time.Hour))
	healthy := closed.Add(30 * time.Hour)
	for i := range fs {
		fs[i].State, fs[i].StateReason, fs[i].SourceUpdatedAt = model.StateResolved, "Healthy", healthy
	}
	render()
	step("Defender reports the image Healthy: runtime verified the fix", healthy)
	fmt.Fprintln(out, "\n(dry run: the story above was planned in memory; nothing was written to GitHub or the state)")
	return nil
}
