package defender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/runtimelink/runtimelink/shared/model"
)

const (
	// DefaultARMEndpoint is Azure Resource Manager in the public cloud.
	DefaultARMEndpoint = "https://management.azure.com"
	// ResourceGraphAPIVersion is the Resource Graph API version spoken here.
	ResourceGraphAPIVersion = "2022-10-01"
	// AttackPathsQuery selects every attack path Defender CSPM computed.
	AttackPathsQuery = `securityresources | where type == "microsoft.security/attackpaths"`

	// maxPages bounds one query's paging, so a service that keeps handing out
	// skip tokens cannot keep the nightly run busy forever (1000 × 1000 rows).
	maxPages = 1000
)

// GraphOptions configures a GraphClient.
type GraphOptions struct {
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

// GraphClient queries Azure Resource Graph through an azcore pipeline that
// authenticates with a TokenCredential (azidentity's DefaultAzureCredential
// in Azure) and retries throttling and transient failures.
type GraphClient struct {
	endpoint      string
	subscriptions []string
	pageSize      int
	pl            runtime.Pipeline
}

// NewGraphClient builds a Resource Graph client.
func NewGraphClient(cred azcore.TokenCredential, o GraphOptions) (*GraphClient, error) {
	if cred == nil {
		return nil, errors.New("resource graph client: no credential")
	}
	endpoint := strings.TrimRight(firstNonEmpty(o.Endpoint, DefaultARMEndpoint), "/")
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("resource graph client: ARM endpoint %q is not an absolute URL", endpoint)
	}
	audience := strings.TrimRight(firstNonEmpty(o.Audience, endpoint), "/")
	pageSize := o.PageSize
	if pageSize <= 0 || pageSize > 1000 {
		pageSize = 1000
	}
	bearer := runtime.NewBearerTokenPolicy(cred, []string{audience + "/.default"}, nil)
	pl := runtime.NewPipeline("runtimelink/defender", "v1",
		runtime.PipelineOptions{PerRetry: []policy.Policy{bearer}}, &o.ClientOptions)
	return &GraphClient{endpoint: endpoint, subscriptions: o.Subscriptions, pageSize: pageSize, pl: pl}, nil
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
func (c *GraphClient) Query(ctx context.Context, query string, fn func(row json.RawMessage) error) error {
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

func (c *GraphClient) page(ctx context.Context, query, skip string) (*graphResponse, error) {
	req, err := runtime.NewRequest(ctx, http.MethodPost, c.endpoint+"/providers/Microsoft.ResourceGraph/resources")
	if err != nil {
		return nil, err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", ResourceGraphAPIVersion)
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

// AttackPath is one Defender CSPM attack path, reduced to what runtime risk
// needs: its risk and the Azure resources on it.
type AttackPath struct {
	ID          string
	Name        string
	DisplayName string
	Description string
	RiskLevel   string // lower case: critical, high, medium, low
	// RiskFactors are the factors GitHub knows, mapped; Factors keeps
	// Defender's own names, all of them.
	RiskFactors    []model.RiskFactor
	Factors        []string
	RiskCategories []string
	// EntryPoint and Target are the internal entity ids; their resource ids
	// (lower case) when the entity names an Azure resource.
	EntryPoint           string
	Target               string
	EntryPointResourceID string
	TargetResourceID     string
	Entities             []Entity
	// ResourceIDs are every entity's Azure resource id, lower-cased for
	// matching, sorted, without duplicates.
	ResourceIDs []string
}

// Entity is one node of an attack path.
type Entity struct {
	InternalID string
	Name       string
	Type       string
	ResourceID string // lower case; empty when the entity is not an Azure resource
}

// AttackPaths pulls every attack path in scope. A row that cannot be read
// fails the call: the nightly run must not drop risk silently.
func (c *GraphClient) AttackPaths(ctx context.Context) ([]AttackPath, error) {
	var out []AttackPath
	err := c.Query(ctx, AttackPathsQuery, func(row json.RawMessage) error {
		p, err := ParseAttackPath(row)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pull attack paths: %w", err)
	}
	return out, nil
}

// ParseAttackPath reads one attack path row of Resource Graph (objectArray).
func ParseAttackPath(row []byte) (AttackPath, error) {
	var m map[string]any
	if err := decodeJSON(row, &m); err != nil {
		return AttackPath{}, fmt.Errorf("attack path row: %w", err)
	}
	f := fields(m)
	p := f.obj("properties")
	ap := AttackPath{
		ID:             f.str("id"),
		Name:           f.str("name"),
		DisplayName:    p.str("displayName"),
		Description:    p.str("description"),
		RiskLevel:      normalizeSeverity(p.str("riskLevel")),
		Factors:        p.strs("riskFactors"),
		RiskCategories: p.strs("riskCategories"),
		EntryPoint:     p.str("entryPointEntityInternalID", "entryPointEntityInternalId"),
		Target:         p.str("targetEntityInternalID", "targetEntityInternalId"),
	}
	if ap.ID == "" {
		return AttackPath{}, errors.New("attack path row has no id")
	}
	ap.RiskFactors = MapRiskFactors(ap.Factors)

	for _, v := range p.obj("graphComponent").list("entities") {
		e := asFields(v)
		ent := Entity{
			InternalID: e.str("entityInternalID", "entityInternalId"),
			Name:       e.str("entityName"),
			Type:       e.str("entityType"),
			ResourceID: strings.ToLower(armID(e.obj("entityIdentifiers").str("azureResourceId"))),
		}
		ap.Entities = append(ap.Entities, ent)
		if ent.ResourceID == "" {
			continue
		}
		if !slices.Contains(ap.ResourceIDs, ent.ResourceID) {
			ap.ResourceIDs = append(ap.ResourceIDs, ent.ResourceID)
		}
		if ent.InternalID != "" && ent.InternalID == ap.EntryPoint {
			ap.EntryPointResourceID = ent.ResourceID
		}
		if ent.InternalID != "" && ent.InternalID == ap.Target {
			ap.TargetResourceID = ent.ResourceID
		}
	}
	slices.Sort(ap.ResourceIDs)
	return ap, nil
}
