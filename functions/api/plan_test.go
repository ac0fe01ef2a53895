package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// The plan of the seeded sample: an issue to open for every group at or
// above High, Critical first, each with its labels; nothing below High.
func TestPlanServesTheIssuesToOpen(t *testing.T) {
	s := seed(t)
	resp, body := get(t, s.URL+"/api/plan")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	var p groupsync.Preview
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	opens := p.Opens()
	if len(opens) == 0 || p.Counts[remediation.KindOpen] != len(opens) {
		t.Fatalf("opens = %d, counts %v", len(opens), p.Counts)
	}
	for i, o := range opens {
		if o.Priority.Rank() < model.PriorityHigh.Rank() {
			t.Errorf("plans to open a %s issue: %s", o.Priority, o.Title)
		}
		if i > 0 && o.Priority.Rank() > opens[i-1].Priority.Rank() {
			t.Errorf("not highest first: %s after %s", o.Priority, opens[i-1].Priority)
		}
		if len(o.Labels) == 0 || o.Labels[0] != "security" || !strings.Contains(o.Body, remediation.Marker(o.GroupID)) {
			t.Errorf("planned issue %q: labels %v", o.Title, o.Labels)
		}
	}
	if resp, _ := get(t, s.URL+"/api/plan?limit=0"); resp.StatusCode != 400 {
		t.Errorf("limit=0 answered %d", resp.StatusCode)
	}
	// The report page shows the same plan.
	_, html := get(t, s.URL+"/api/report")
	if !strings.Contains(string(html), `id="plan"`) || !strings.Contains(string(html), opens[0].Title) {
		t.Errorf("the report does not show the plan's top issue %q", opens[0].Title)
	}
}
