package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// FindingsFilter selects findings (GET /api/findings). Every list matches
// any of its values; risks must all be present. The zero filter selects
// every finding.
type FindingsFilter struct {
	Priorities []model.Priority
	Repository string
	// Cluster selects the findings about one cluster's own resources
	// (Finding.Cluster, lower case): those no repository builds too.
	Cluster  string
	Risks    []model.RiskFactor
	Deployed *bool
	Sources  []model.Source
	States   []model.FindingState
}

// ErrBadCursor: the cursor was not made by this query (or has expired).
var ErrBadCursor = errors.New("cursor not valid for this query")

// FindingsMatching returns one page of at most limit findings matching f,
// from cursor ("" for the first page); next is "" after the last page.
// Partition: f.Repository when it is given in its normalized spelling
// (then ordered highest score first); cross-partition otherwise, in
// storage order.
func (s *Store) FindingsMatching(ctx context.Context, f FindingsFilter, limit int, cursor string) (fs []model.Finding, next string, err error) {
	fs, next, err = s.db.Findings.Page(ctx, f.query(), limit, cursor)
	if err != nil {
		var re *azcore.ResponseError
		if errors.Is(err, cosmos.ErrMalformedCursor) || cursor != "" && errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
			return nil, "", fmt.Errorf("findings: %w", ErrBadCursor)
		}
		return nil, "", err
	}
	return fs, next, nil
}

// query builds the store query. Every value goes in as a parameter; the
// SQL text is made only of fixed fragments and generated parameter names.
func (f FindingsFilter) query() cosmos.Query {
	var where []string
	params := map[string]any{}
	if len(f.Priorities) > 0 {
		where = append(where, "ARRAY_CONTAINS(@priorities, c.priority)")
		params["@priorities"] = f.Priorities
	}
	q := cosmos.Query{}
	if f.Repository != "" {
		// Findings are stored under the repository as their source spells
		// it (GitHub's full_name casing, or lower case for image CVEs).
		norm := mapping.NormalizeRepository(f.Repository, "")
		if norm == f.Repository {
			where = append(where, "c.repository = @repository")
			q.PartitionKey = norm
		} else {
			where = append(where, "(c.repository = @repository OR c.repository = @normalized)")
			params["@normalized"] = norm
		}
		params["@repository"] = f.Repository
	}
	if f.Cluster != "" {
		where = append(where, "c.cluster = @cluster")
		params["@cluster"] = ClusterKey(f.Cluster)
	}
	for i, rf := range f.Risks {
		name := "@risk" + strconv.Itoa(i)
		where = append(where, "ARRAY_CONTAINS(c.runtimeRisks, "+name+")")
		params[name] = string(rf)
	}
	if f.Deployed != nil {
		where = append(where, "c.deployed = @deployed")
		params["@deployed"] = *f.Deployed
	}
	if len(f.Sources) > 0 {
		where = append(where, "ARRAY_CONTAINS(@sources, c.source)")
		params["@sources"] = f.Sources
	}
	if len(f.States) > 0 {
		states := make([]string, 0, len(f.States)+1)
		for _, s := range f.States {
			states = append(states, string(s))
			if s == model.StateOpen {
				states = append(states, "") // a finding without a state is open
			}
		}
		where = append(where, "ARRAY_CONTAINS(@states, c.state)")
		params["@states"] = states
	}
	q.SQL = "SELECT * FROM c"
	if len(where) > 0 {
		q.SQL += " WHERE " + strings.Join(where, " AND ")
	}
	if q.PartitionKey != "" {
		// Within one partition the store can order; across partitions
		// the gateway cannot, and findings come in storage order.
		q.SQL += " ORDER BY c.score DESC"
	}
	q.Params = params
	return q
}
