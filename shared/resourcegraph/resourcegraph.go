// Package resourcegraph is the Azure Resource Graph client: KQL queries
// over the ARM resources an identity can read, paged by $skipToken, through
// an azcore pipeline (bearer token from a TokenCredential, retries of
// throttling and transient failures). It holds the HTTP; what the rows mean
// is parsed by the domain (defender.ParseAttackPath).
package resourcegraph

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/runtimelink/runtimelink/shared/defender"
)

const (
	// DefaultARMEndpoint is Azure Resource Manager in the public cloud.
	DefaultARMEndpoint = "https://management.azure.com"
	// APIVersion is the Resource Graph API version spoken here.
	APIVersion = "2022-10-01"
	// maxPages bounds one query's paging, so a service that keeps handing out
	// skip tokens cannot keep the nightly run busy forever (1000 × 1000 rows).
	maxPages = 1000
)

// Options configure a Client.
type Options struct {
	// Endpoint is the ARM endpoint (ARM_ENDPOINT); DefaultARMEndpoint when empty.
	Endpoint string
	// Audience is the token audience; the endpoint when empty. The token is
	// requested for Audience + "/.default".
	Audience string
	// Subscriptions scope the query (RUNTIMELINK_SUBSCRIPTIONS); empty means
	// every subscription the identity can read.
	Subscriptions []string
	// PageSize is the $top of each page; Resource Graph's maximum (1000) when 0.
	PageSize int
	// ClientOptions tune the azcore pipeline (transport, retries, logging).
	ClientOptions policy.ClientOptions
}

// Client queries Azure Resource Graph through an azcore pipeline that
// authenticates with a TokenCredential (azidentity's DefaultAzureCredential
// in Azure) and retries throttling and transient failures.
type Client struct {
	endpoint      string
	subscriptions []string
	pageSize      int
	pl            runtime.Pipeline
}

// NewClient builds a Resource Graph client.
func NewClient(cred azcore.TokenCredential, o Options) (*Client, error) {
	if cred == nil {
		return nil, errors.New("resource graph client: no credential")
	}
	endpoint := strings.TrimRight(cmp.Or(o.Endpoint, DefaultARMEndpoint), "/")
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("resource graph client: ARM endpoint %q is not an absolute URL", endpoint)
	}
	audience := strings.TrimRight(cmp.Or(o.Audience, endpoint), "/")
	pageSize := o.PageSize
	if pageSize <= 0 || pageSize > 1000 {
		pageSize = 1000
	}
	bearer := runtime.NewBearerTokenPolicy(cred, []string{audience + "/.default"}, nil)
	pl := runtime.NewPipeline("runtimelink/resourcegraph", "v1",
		runtime.PipelineOptions{PerRetry: []policy.Policy{bearer}}, &o.ClientOptions)
	return &Client{endpoint: endpoint, subscriptions: o.Subscriptions, pageSize: pageSize, pl: pl}, nil
}

type graphRequest struct {
	Subscriptions []string     `json:"subscriptions,omitempty"`
	Query         string       `json:"query"`
	Options       graphOptions `json:"options"`
}

type graphOptions struct {
	SkipToken    string `json:"$skipToken,omitempty"`
	Top          int    `json:"$top,omitempty"`
	ResultFormat string `json:"resultFormat"`
}

type graphResponse struct {
	TotalRecords int64           `json:"totalRecords"`
	Count        int64           `json:"count"`
	SkipToken    string          `json:"$skipToken"`
	Data         json.RawMessage `json:"data"`
}

// Query runs a Resource Graph query and calls fn for every result row (one
// JSON object each), following $skipToken page by page; rows are never all
// held in memory. An error from fn stops the query and is returned.
func (c *Client) Query(ctx context.Context, query string, fn func(row json.RawMessage) error) error {
	skip := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return fmt.Errorf("query resource graph: stopped after %d pages", maxPages)
		}
		resp, err := c.page(ctx, query, skip)
		if err != nil {
			return fmt.Errorf("query resource graph (page %d): %w", page+1, err)
		}
		var rows []json.RawMessage
		if len(resp.Data) > 0 && string(resp.Data) != "null" {
			if err := json.Unmarshal(resp.Data, &rows); err != nil {
				return fmt.Errorf("query resource graph (page %d): data is not an object array: %w", page+1, err)
			}
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		if resp.SkipToken == "" {
			return nil
		}
		if seen[resp.SkipToken] {
			return fmt.Errorf("query resource graph (page %d): skip token repeated", page+1)
		}
		seen[resp.SkipToken] = true
		skip = resp.SkipToken
	}
}

func (c *Client) page(ctx context.Context, query, skip string) (*graphResponse, error) {
	req, err := runtime.NewRequest(ctx, http.MethodPost, c.endpoint+"/providers/Microsoft.ResourceGraph/resources")
	if err != nil {
		return nil, err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", APIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header.Set("Accept", "application/json")
	body := graphRequest{
		Subscriptions: c.subscriptions,
		Query:         query,
		Options:       graphOptions{SkipToken: skip, Top: c.pageSize, ResultFormat: "objectArray"},
	}
	if err := runtime.MarshalAsJSON(req, body); err != nil {
		return nil, err
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return nil, err
	}
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return nil, runtime.NewResponseError(resp)
	}
	var out graphResponse
	if err := runtime.UnmarshalAsJSON(resp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AttackPaths pulls every Defender CSPM attack path in scope. A row that
// cannot be read fails the call: the nightly run must not drop risk
// silently.
func (c *Client) AttackPaths(ctx context.Context) ([]defender.AttackPath, error) {
	return queryAll(ctx, c, defender.AttackPathsQuery, defender.ParseAttackPath, "attack paths")
}

// Clusters lists the Kubernetes clusters in scope with their ARM tags,
// for the rule that calls a cluster production by tag. A row that cannot
// be read fails the call.
func (c *Client) Clusters(ctx context.Context) ([]defender.ClusterResource, error) {
	return queryAll(ctx, c, defender.ClustersQuery, defender.ParseClusterResource, "clusters")
}

// queryAll reads every row of a query's answer with parse.
func queryAll[T any](ctx context.Context, c *Client, query string, parse func([]byte) (T, error), what string) ([]T, error) {
	var out []T
	err := c.Query(ctx, query, func(row json.RawMessage) error {
		v, err := parse(row)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", what, err)
	}
	return out, nil
}
