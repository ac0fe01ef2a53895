// Package campaignsync keeps one security campaign per org of the code
// scanning alerts whose code runs in production with a runtime risk factor
// (RUNTIMELINK_CAMPAIGNS): the nightly run streams the open findings once,
// picks the campaign-worthy ones (remediation.CampaignWorthy) and brings
// each org's campaign to that set, rolling its end date forward.
package campaignsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// Findings streams the open findings (*store.Store).
type Findings interface {
	OpenFindings(ctx context.Context, fn func(f *model.Finding) error) error
}

// Campaigns keeps an org's campaign (*github.Campaigns).
type Campaigns interface {
	Sync(ctx context.Context, org string, spec github.CampaignSpec) (github.CampaignOutcome, int, error)
}

// Syncer runs the campaigns of every org.
type Syncer struct {
	Findings Findings
	// GitHub gives the campaign calls of an org's installation.
	GitHub func(ctx context.Context, org string) (Campaigns, error)
	// Orgs are the orgs the App is installed on: an org whose alerts all
	// stopped qualifying still gets its campaign closed.
	Orgs   func(ctx context.Context) ([]string, error)
	Policy remediation.CampaignPolicy
	DryRun bool
	Logger *slog.Logger
	Now    func() time.Time
}

// Stats is what one run did, per outcome.
type Stats struct {
	Orgs     int            `json:"orgs"`
	Alerts   int            `json:"alerts"`
	Outcomes map[string]int `json:"outcomes"`
	Failed   int            `json:"failed"`
}

// Run syncs every org's campaign. One org's failure does not stop the
// others; the errors come back joined.
func (s *Syncer) Run(ctx context.Context) (Stats, error) {
	st := Stats{Outcomes: map[string]int{}}
	if !s.Policy.Enabled {
		return st, nil
	}
	alerts := map[string]map[string][]int{}
	if err := s.Findings.OpenFindings(ctx, func(f *model.Finding) error {
		remediation.CampaignAlerts(alerts, f)
		return nil
	}); err != nil {
		return st, fmt.Errorf("campaigns: %w", err)
	}
	orgs := make([]string, 0, len(alerts))
	for org := range alerts {
		orgs = append(orgs, org)
	}
	if s.Orgs != nil {
		installed, err := s.Orgs(ctx)
		if err != nil {
			return st, fmt.Errorf("campaigns: %w", err)
		}
		for _, o := range installed {
			if !slices.Contains(orgs, o) {
				orgs = append(orgs, o)
			}
		}
	}
	slices.Sort(orgs)
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	var errs []error
	for _, org := range orgs {
		st.Orgs++
		n := 0
		for _, ns := range alerts[org] {
			n += len(ns)
		}
		st.Alerts += n
		spec := github.CampaignSpec{Name: remediation.CampaignName, Description: remediation.CampaignDescription,
			EndsAt: now().Add(s.Policy.Length).UTC().Truncate(time.Second), Manager: s.Policy.Manager, Alerts: alerts[org]}
		if s.DryRun {
			log.Info("campaign planned (dry run)", "org", org, "alerts", n, "endsAt", spec.EndsAt)
			st.Outcomes["planned"]++
			continue
		}
		c, err := s.GitHub(ctx, org)
		if err == nil {
			var out github.CampaignOutcome
			var number int
			out, number, err = c.Sync(ctx, org, spec)
			if err == nil {
				st.Outcomes[string(out)]++
				log.Info("campaign synced", "org", org, "campaign", number, "outcome", string(out), "alerts", n, "endsAt", spec.EndsAt)
				continue
			}
		}
		st.Failed++
		log.Error("campaign sync failed", "org", org, "error", err)
		errs = append(errs, fmt.Errorf("campaign of %s: %w", org, err))
	}
	return st, errors.Join(errs...)
}
