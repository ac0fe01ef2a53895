package store

import (
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// User input only ever reaches the query as parameter values.
func TestFindingsQueryIsParameterized(t *testing.T) {
	yes := true
	f := FindingsFilter{
		Priorities: []model.Priority{model.PriorityCritical}, Repository: `Octo/App" OR 1=1 --`,
		Risks: []model.RiskFactor{model.RiskInternetExposed}, Deployed: &yes,
		Sources: []model.Source{model.SourceDefenderCVE}, States: []model.FindingState{model.StateOpen},
	}
	q := f.query()
	if strings.Contains(q.SQL, "Octo") || strings.Contains(q.SQL, "1=1") || strings.Contains(q.SQL, "internet") {
		t.Errorf("a value is in the SQL text: %s", q.SQL)
	}
	if q.Params["@repository"] != f.Repository || q.PartitionKey != "" {
		t.Errorf("params %v pk %q", q.Params, q.PartitionKey)
	}
	if got := q.Params["@states"]; !slices.Equal(got.([]string), []string{"open", ""}) {
		t.Errorf("states %v: an unset state counts as open", got)
	}
	single := FindingsFilter{Repository: "octo-org/app"}.query()
	if single.PartitionKey != "octo-org/app" || !strings.HasSuffix(single.SQL, "ORDER BY c.score DESC") {
		t.Errorf("single repository query = %+v", single)
	}
}
