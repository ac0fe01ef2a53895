package campaignsync_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/campaignsync"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

type findings []model.Finding

func (fs findings) OpenFindings(_ context.Context, fn func(f *model.Finding) error) error {
	for i := range fs {
		if fs[i].State.Active() {
			if err := fn(&fs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func codeScanning(repo string, n int, deployed bool, risks ...model.RiskFactor) model.Finding {
	return model.Finding{ID: model.GHASFindingID(model.SourceCodeScanning, repo, n), Repository: repo, Source: model.SourceCodeScanning,
		State: model.StateOpen, AlertNumber: n, Deployed: deployed, RuntimeRisks: risks}
}

func alertJSON(repo string, n int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"number": n, "state": "open", "repository": map[string]any{"full_name": repo}})
	return b
}

// Runtime context decides the campaign: alerts join when their code runs in
// production with a risk factor and leave when it no longer does.
func TestCampaignFollowsRuntimeContext(t *testing.T) {
	ctx := context.Background()
	clock := githubtest.NewClock(time.Time{})
	srv := githubtest.New(t, githubtest.WithClock(clock))
	srv.AddInstallation(7, "octo-org")
	srv.SetAlerts("octo-org", model.SourceCodeScanning, []json.RawMessage{
		alertJSON("octo-org/checkout-api", 3), alertJSON("octo-org/checkout-api", 4), alertJSON("octo-org/web", 8)})
	f, err := github.NewFactory(github.FactoryOptions{BaseURL: srv.URL, AppID: srv.AppID, PrivateKey: srv.PrivateKey, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	fs := findings{
		codeScanning("octo-org/checkout-api", 3, true, model.RiskInternetExposed),
		codeScanning("octo-org/checkout-api", 4, true), // runs, but no risk factor
		codeScanning("octo-org/web", 8, false, model.RiskSensitiveData),
	}
	s := &campaignsync.Syncer{
		Findings: &fs,
		GitHub: func(ctx context.Context, org string) (campaignsync.Campaigns, error) {
			c, err := f.Installation(ctx, 7)
			return github.NewCampaigns(c), err
		},
		Orgs:   func(context.Context) ([]string, error) { return []string{"octo-org"}, nil },
		Policy: remediation.CampaignPolicy{Enabled: true, Length: 30 * 24 * time.Hour, Manager: "octo-secops"},
		Now:    clock.Now,
	}
	st, err := s.Run(ctx)
	if err != nil || st.Outcomes["created"] != 1 || st.Alerts != 1 {
		t.Fatalf("first run: %+v, %v", st, err)
	}
	cs := srv.Campaigns("octo-org")
	if len(cs) != 1 || cs[0].Name != remediation.CampaignName || !slices.Equal(cs[0].Alerts[githubtest.RepoID("octo-org/checkout-api")], []int{3}) ||
		!cs[0].EndsAt.Equal(clock.Now().Add(30*24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("campaign %+v", cs)
	}

	// The next night: #8 now runs in production, #3 no longer runs.
	clock.Advance(24 * time.Hour)
	fs[0].Deployed = false
	fs[2].Deployed = true
	if st, err := s.Run(ctx); err != nil || st.Outcomes["updated"] != 1 {
		t.Fatalf("second run: %+v, %v", st, err)
	}
	cs = srv.Campaigns("octo-org")
	if len(cs) != 1 || len(cs[0].Alerts[githubtest.RepoID("octo-org/checkout-api")]) != 0 ||
		!slices.Equal(cs[0].Alerts[githubtest.RepoID("octo-org/web")], []int{8}) ||
		!cs[0].EndsAt.Equal(clock.Now().Add(30*24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("after runtime changed: %+v", cs)
	}

	// Nothing qualifies: the campaign is closed.
	fs[2].State = model.StateFixed
	if st, err := s.Run(ctx); err != nil || st.Outcomes["closed"] != 1 {
		t.Fatalf("third run: %+v, %v", st, err)
	}

	// Off by default: no call at all.
	srv.ResetRequests()
	off := *s
	off.Policy.Enabled = false
	if _, err := off.Run(ctx); err != nil || len(srv.Requests()) != 0 {
		t.Errorf("campaigns off made %d calls (%v)", len(srv.Requests()), err)
	}
}
