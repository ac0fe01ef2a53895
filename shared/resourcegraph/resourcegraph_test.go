package resourcegraph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/runtimelink/runtimelink/shared/arm/armtest"
	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

const (
	subID = "6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
	sub   = "/subscriptions/" + subID
)

// credential hands out a fixed token (the fake's) and records the scopes
// asked for.
type credential struct {
	token string
	err   error

	mu     sync.Mutex
	scopes [][]string
}

func (c *credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// attackPathRows are two attack paths as Resource Graph rows: the row of
// the repository's Resource Graph sample, and a second path (a jump VM,
// one entity outside Azure).
func attackPathRows(t *testing.T) []json.RawMessage {
	t.Helper()
	var sample struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "attackpaths-resourcegraph.json"), &sample); err != nil || len(sample.Data) != 1 {
		t.Fatalf("sample answer: %v (%d rows)", err, len(sample.Data))
	}
	jump := `{"id":"` + sub + `/providers/Microsoft.Security/attackPaths/99999999-0000-4000-8000-000000000001",
		"name":"99999999-0000-4000-8000-000000000001","type":"microsoft.security/attackpaths","subscriptionId":"` + subID + `",
		"properties":{"riskLevel":"High","riskFactors":["Critical resource"],"entryPointEntityInternalID":"vm-jump",
			"graphComponent":{"entities":[
				{"entityInternalID":"vm-jump","entityName":"vm-jump","entityType":"VirtualMachine",
				 "entityIdentifiers":{"azureResourceId":"` + sub + `/resourceGroups/RG-Ops/providers/Microsoft.Compute/virtualMachines/VM-Jump"}},
				{"entityInternalID":"internet","entityName":"Internet","entityType":"Internet"}]}}}`
	return []json.RawMessage{sample.Data[0], json.RawMessage(jump)}
}

// newTestGraph is a client of a Resource Graph fake (armtest) that holds
// the two attack paths, pageSize rows a page (0: the client's default).
func newTestGraph(t *testing.T, pageSize int) (*Client, *armtest.Server, *credential) {
	t.Helper()
	srv := armtest.New(t)
	srv.SetQueryRows(defender.AttackPathsQuery, attackPathRows(t))
	cred := &credential{token: srv.Token}
	c, err := NewClient(cred, Options{
		Endpoint:      srv.URL,
		Subscriptions: []string{subID},
		PageSize:      pageSize,
		ClientOptions: policy.ClientOptions{
			Transport: srv.Client(),
			Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv, cred
}

func TestAttackPathsPagesAndMaps(t *testing.T) {
	c, srv, cred := newTestGraph(t, 1)

	paths, err := c.AttackPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	qs := srv.GraphQueries()
	if len(qs) != 2 {
		t.Fatalf("server saw %d queries, want 2 pages", len(qs))
	}
	for i, q := range qs {
		if q.Query != `securityresources | where type == "microsoft.security/attackpaths"` ||
			!slices.Equal(q.Subscriptions, []string{subID}) || q.ResultFormat != "objectArray" || q.Top != 1 {
			t.Errorf("query %d = %+v", i, q)
		}
	}
	if qs[0].SkipToken != "" || qs[1].SkipToken == "" {
		t.Errorf("skip tokens sent: %q, %q", qs[0].SkipToken, qs[1].SkipToken)
	}
	for _, r := range srv.Requests() {
		if r.Method != http.MethodPost || r.Path != "/providers/Microsoft.ResourceGraph/resources" || r.Query != "api-version=2022-10-01" {
			t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
		}
	}
	if len(cred.scopes) == 0 || !slices.Equal(cred.scopes[0], []string{srv.URL + "/.default"}) {
		t.Errorf("token scopes = %v", cred.scopes)
	}

	if len(paths) != 2 {
		t.Fatalf("got %d attack paths, want 2", len(paths))
	}
	// What each field means is defender.ParseAttackPath's (tested there);
	// here: every row of every page, in order, went through it.
	if p := paths[0]; p.ID != sub+"/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f" ||
		p.RiskLevel != "critical" || len(p.RiskFactors) != 3 || len(p.ResourceIDs) != 2 {
		t.Errorf("first attack path = %+v", p)
	}
	q := paths[1]
	lowerVM := strings.ToLower(sub + "/resourceGroups/RG-Ops/providers/Microsoft.Compute/virtualMachines/VM-Jump")
	if q.RiskLevel != "high" || !slices.Equal(q.RiskFactors, []model.RiskFactor{model.RiskCriticalResource}) ||
		!slices.Equal(q.ResourceIDs, []string{lowerVM}) || q.EntryPointResourceID != lowerVM || q.TargetResourceID != "" /* target entity not on this path */ ||
		len(q.Entities) != 2 || q.Entities[1].ResourceID != "" {
		t.Errorf("second attack path = %+v", q)
	}
}

// One answer 429 is retried; the client's default page is Resource
// Graph's largest, 1,000 rows.
func TestGraphQueryRetriesThrottling(t *testing.T) {
	c, srv, _ := newTestGraph(t, 0)
	srv.Inject(armtest.Fault{PathContains: "/providers/Microsoft.ResourceGraph/", Status: http.StatusTooManyRequests})
	paths, err := c.AttackPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); len(paths) != 2 || n != 2 {
		t.Fatalf("got %d paths in %d requests, want 2 paths in 2 (one throttled, one page)", len(paths), n)
	}
	if qs := srv.GraphQueries(); len(qs) != 1 || qs[0].Top != 1000 {
		t.Errorf("queries answered = %+v, want one of $top 1000", qs)
	}
}

func TestGraphQueryErrors(t *testing.T) {
	t.Run("forbidden", func(t *testing.T) {
		c, srv, _ := newTestGraph(t, 0)
		srv.Deny("Microsoft.ResourceGraph/resources/read")
		_, err := c.AttackPaths(context.Background())
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthorizationFailed" {
			t.Fatalf("error = %v, want a 403 AuthorizationFailed response error", err)
		}
		if strings.Contains(err.Error(), srv.Token) {
			t.Error("error text carries the bearer token")
		}
	})
	t.Run("credential fails", func(t *testing.T) {
		c, srv, cred := newTestGraph(t, 0)
		cred.err = errors.New("no managed identity endpoint")
		if _, err := c.AttackPaths(context.Background()); !errors.Is(err, cred.err) {
			t.Fatalf("error = %v, want the credential's", err)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests went out without a token", n)
		}
	})
	t.Run("skip token repeated", func(t *testing.T) {
		c, srv, _ := newTestGraph(t, 0)
		srv.SetQueryAnswers(defender.AttackPathsQuery, `{"totalRecords":2,"count":0,"$skipToken":"again","data":[]}`)
		if _, err := c.AttackPaths(context.Background()); err == nil || !strings.Contains(err.Error(), "repeated") {
			t.Fatalf("error = %v, want repeated skip token", err)
		}
	})
	t.Run("table format answer", func(t *testing.T) {
		c, srv, _ := newTestGraph(t, 0)
		srv.SetQueryAnswers(defender.AttackPathsQuery, `{"totalRecords":1,"count":1,"data":{"columns":[{"name":"id","type":"string"}],"rows":[["x"]]}}`)
		if _, err := c.AttackPaths(context.Background()); err == nil {
			t.Fatal("a table-format answer was accepted")
		}
	})
	t.Run("row without id", func(t *testing.T) {
		c, srv, _ := newTestGraph(t, 0)
		srv.SetQueryRows(defender.AttackPathsQuery, []json.RawMessage{json.RawMessage(`{"type":"microsoft.security/attackpaths","properties":{}}`)})
		if _, err := c.AttackPaths(context.Background()); err == nil {
			t.Fatal("an attack path without id was accepted")
		}
	})
	t.Run("callback error stops the query", func(t *testing.T) {
		c, srv, _ := newTestGraph(t, 1)
		stop := errors.New("stop")
		if err := c.Query(context.Background(), defender.AttackPathsQuery, func(json.RawMessage) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("error = %v", err)
		}
		if n := len(srv.GraphQueries()); n != 1 {
			t.Errorf("%d requests after the callback stopped on page 1", n)
		}
	})
	t.Run("plain http endpoint refuses to send the token", func(t *testing.T) {
		var sent atomic.Int32
		plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { sent.Add(1) }))
		defer plain.Close()
		c, err := NewClient(&credential{token: "t"}, Options{Endpoint: plain.URL})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AttackPaths(context.Background()); err == nil || sent.Load() != 0 {
			t.Fatalf("error = %v with %d requests, want a refusal before sending", err, sent.Load())
		}
	})
}

func TestNewClientValidates(t *testing.T) {
	if _, err := NewClient(nil, Options{}); err == nil {
		t.Error("nil credential accepted")
	}
	for _, e := range []string{"management.azure.com", "://x", "ftp://arm.example"} {
		if _, err := NewClient(&credential{}, Options{Endpoint: e}); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
	c, err := NewClient(&credential{}, Options{})
	if err != nil || c.endpoint != DefaultARMEndpoint || c.pageSize != 1000 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}
