package remediation

import (
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// CampaignName names the one security campaign runtimelink keeps per org
// (GitHub allows 50 characters); it is how the campaign is found again.
const CampaignName = "runtimelink: code running exposed in production"

// CampaignDescription is the campaign's description (at most 255).
const CampaignDescription = "Code scanning alerts in code that runs in production with a runtime risk factor " +
	"(internet exposure, sensitive data, critical resource, lateral movement), kept current by runtimelink."

// CampaignPolicy is what the configuration says about campaigns.
type CampaignPolicy struct {
	Enabled bool          // RUNTIMELINK_CAMPAIGNS
	Length  time.Duration // ends_at = now + Length at every update
	Manager string        // RUNTIMELINK_CAMPAIGN_MANAGER
}

// CampaignWorthy reports whether a finding belongs in its org's campaign:
// an open code scanning alert whose code runs in production with a
// runtime risk factor (the factors that counted in its score).
func CampaignWorthy(f *model.Finding) bool {
	return f.Source == model.SourceCodeScanning && f.State.Active() && f.AlertNumber > 0 &&
		f.Deployed && len(f.RuntimeRisks) > 0 && strings.Contains(f.Repository, "/")
}

// CampaignAlerts adds f to alerts (org → repository → alert numbers,
// sorted, without duplicates) when it is campaign-worthy.
func CampaignAlerts(alerts map[string]map[string][]int, f *model.Finding) {
	if !CampaignWorthy(f) {
		return
	}
	org, _, _ := strings.Cut(f.Repository, "/")
	org = strings.ToLower(org)
	if alerts[org] == nil {
		alerts[org] = map[string][]int{}
	}
	ns := alerts[org][f.Repository]
	if i, found := slices.BinarySearch(ns, f.AlertNumber); !found {
		ns = slices.Insert(ns, i, f.AlertNumber)
	}
	alerts[org][f.Repository] = ns
}
