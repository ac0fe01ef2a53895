package githubwebhook_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeliveryCalls counts the Cosmos DB requests one delivery costs, by
// container and kind, for each kind of alert event on an empty runtime:
// the emulator answers one request at a time, so these counts bound the
// webhook's throughput. The budgets are what the code needs today; a
// change that adds a round trip to every delivery fails here.
func TestDeliveryCalls(t *testing.T) {
	store, wc := countingStore(t)
	e := newEnv(t, store)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	alert := func(event, file, action string, number int, at time.Duration) delivery {
		body := variant(t, file, func(m map[string]any) {
			m["action"] = action
			a := obj(m, "alert")
			a["number"], a["updated_at"] = number, base.Add(at).Format(time.RFC3339)
		})
		return delivery{event: event, id: deliveryID(fmt.Sprint(event, action, number, at)), body: body}
	}
	// Warm up the emulator's containers so creation costs are not counted.
	e.post(alert("dependabot_alert", "dependabot_alert/created.json", "created", 999, 0))

	cases := []struct {
		name   string
		d      delivery
		budget int
	}{
		{"dependabot created", alert("dependabot_alert", "dependabot_alert/created.json", "created", 1, time.Second), 6},
		{"dependabot dismissed", alert("dependabot_alert", "dependabot_alert/created.json", "dismissed", 1, 2*time.Second), 8},
		{"dependabot older event", alert("dependabot_alert", "dependabot_alert/created.json", "reopened", 1, 0), 5},
		{"code scanning created", alert("code_scanning_alert", "code_scanning_alert/created.json", "created", 2, time.Second), 7},
		{"code scanning closed", alert("code_scanning_alert", "code_scanning_alert/created.json", "closed_by_user", 2, 2*time.Second), 7},
		{"secret scanning created", alert("secret_scanning_alert", "secret_scanning_alert/reopened.json", "created", 3, time.Second), 5},
		{"secret scanning resolved", alert("secret_scanning_alert", "secret_scanning_alert/reopened.json", "resolved", 3, 2*time.Second), 7},
		{"ping", delivery{event: "ping", id: deliveryID("calls-ping"), body: sample(t, "ping/payload.json")}, 2},
	}
	wc.takeCalls()
	for _, c := range cases {
		got := e.post(c.d)
		if got.status != http.StatusOK {
			t.Fatalf("%s: status %d %v", c.name, got.status, got.body)
		}
		calls := wc.takeCalls()
		total := 0
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(calls)) {
			total += calls[k]
			parts = append(parts, fmt.Sprintf("%s %d", k, calls[k]))
		}
		t.Logf("%-26s %2d calls: %s", c.name, total, strings.Join(parts, ", "))
		if total > c.budget {
			t.Errorf("%s: %d Cosmos DB requests, budget %d", c.name, total, c.budget)
		}
	}
	// A redelivery costs the dedupe read only.
	got := e.post(cases[0].d)
	if got.status != http.StatusOK || got.body["result"] != "duplicate delivery" {
		t.Errorf("redelivery: %d %v", got.status, got.body)
	}
	if calls := wc.takeCalls(); calls["deliveries read"] != 1 || len(calls) != 1 {
		t.Errorf("redelivery calls = %v, want one delivery read", calls)
	}
}
