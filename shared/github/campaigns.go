package github

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"

	"time"

	gh "github.com/google/go-github/v62/github"
)

// CampaignAlerts are the code scanning alerts of one repository in a
// security campaign (go-github v62 has no campaign methods).
type CampaignAlerts struct {
	RepositoryID int64 `json:"repository_id"`
	AlertNumbers []int `json:"alert_numbers"`
}

// CampaignSpec is the campaign runtimelink keeps in an org.
type CampaignSpec struct {
	Name        string
	Description string
	EndsAt      time.Time
	Manager     string // "" for none
	// Alerts are the alert numbers by repository ("owner/name").
	Alerts map[string][]int
}

// CampaignOutcome says what Sync did.
type CampaignOutcome string

const (
	CampaignCreated   CampaignOutcome = "created"
	CampaignUpdated   CampaignOutcome = "updated"
	CampaignClosed    CampaignOutcome = "closed"
	CampaignUntouched CampaignOutcome = "untouched"
)

// Campaigns keeps security campaigns (POST/PATCH /orgs/{org}/campaigns).
type Campaigns struct{ c *gh.Client }

// NewCampaigns uses an installation client of the org.
func NewCampaigns(c *gh.Client) *Campaigns { return &Campaigns{c: c} }

type campaign struct {
	Number int       `json:"number"`
	Name   string    `json:"name"`
	State  string    `json:"state"`
	EndsAt time.Time `json:"ends_at"`
}

type campaignBody struct {
	Name               string           `json:"name,omitempty"`
	Description        string           `json:"description,omitempty"`
	EndsAt             string           `json:"ends_at,omitempty"`
	Managers           []string         `json:"managers,omitempty"`
	State              string           `json:"state,omitempty"`
	CodeScanningAlerts []CampaignAlerts `json:"code_scanning_alerts,omitempty"`
}

// Sync makes the org's open campaign named spec.Name hold exactly
// spec.Alerts, ending at spec.EndsAt: created when there is none, updated
// (alerts replaced, ends_at rolled forward) when there is, closed when no
// alert qualifies any more; nothing at all when none is open and none is
// wanted. It returns the campaign number (0 when there is none).
func (x *Campaigns) Sync(ctx context.Context, org string, spec CampaignSpec) (CampaignOutcome, int, error) {
	cur, err := x.findOpen(ctx, org, spec.Name)
	if err != nil {
		return "", 0, err
	}
	alerts, err := x.resolve(ctx, spec.Alerts)
	if err != nil {
		return "", 0, err
	}
	switch {
	case len(alerts) == 0 && cur == nil:
		return CampaignUntouched, 0, nil
	case len(alerts) == 0:
		err := x.send(ctx, http.MethodPatch, fmt.Sprintf("orgs/%s/campaigns/%d", org, cur.Number), campaignBody{State: "closed"}, nil)
		return CampaignClosed, cur.Number, err
	}
	body := campaignBody{Name: spec.Name, Description: spec.Description, EndsAt: spec.EndsAt.UTC().Format(time.RFC3339), CodeScanningAlerts: alerts}
	if spec.Manager != "" {
		body.Managers = []string{spec.Manager}
	}
	if cur == nil {
		var out campaign
		err := x.send(ctx, http.MethodPost, fmt.Sprintf("orgs/%s/campaigns", org), body, &out)
		return CampaignCreated, out.Number, err
	}
	err = x.send(ctx, http.MethodPatch, fmt.Sprintf("orgs/%s/campaigns/%d", org, cur.Number), body, nil)
	return CampaignUpdated, cur.Number, err
}

func (x *Campaigns) send(ctx context.Context, method, path string, body, out any) error {
	req, err := x.c.NewRequest(method, path, body)
	if err != nil {
		return err
	}
	_, err = x.c.Do(ctx, req, out)
	return classify(method+" "+path, err, false)
}

// findOpen pages through the org's open campaigns for the one named name.
func (x *Campaigns) findOpen(ctx context.Context, org, name string) (*campaign, error) {
	for page := 1; page <= 100; page++ {
		req, err := x.c.NewRequest(http.MethodGet, fmt.Sprintf("orgs/%s/campaigns?state=open&per_page=100&page=%d", org, page), nil)
		if err != nil {
			return nil, err
		}
		var list []campaign
		resp, err := x.c.Do(ctx, req, &list)
		if err != nil {
			return nil, classify("list campaigns of "+org, err, false)
		}
		for _, c := range list {
			if c.Name == name && c.State == "open" {
				return &c, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("list campaigns of %s: more than 100 pages", org)
}

// resolve turns repository names into the ids the API takes, sorted.
func (x *Campaigns) resolve(ctx context.Context, alerts map[string][]int) ([]CampaignAlerts, error) {
	var out []CampaignAlerts
	for repo, nums := range alerts {
		if len(nums) == 0 {
			continue
		}
		owner, name, err := splitRepo(repo)
		if err != nil {
			return nil, err
		}
		r, _, err := x.c.Repositories.Get(ctx, owner, name)
		if err != nil {
			return nil, classify("repository id of "+repo, err, false)
		}
		ns := slices.Clone(nums)
		slices.Sort(ns)
		out = append(out, CampaignAlerts{RepositoryID: r.GetID(), AlertNumbers: slices.Compact(ns)})
	}
	slices.SortFunc(out, func(a, b CampaignAlerts) int { return cmp.Compare(a.RepositoryID, b.RepositoryID) })
	return out, nil
}
