package arm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/runtimelink/runtimelink/shared/arm/armtest"
	"github.com/runtimelink/runtimelink/shared/clocktest"
	"github.com/runtimelink/runtimelink/shared/logtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/resourcegraph"
)

// The fakes' certificates are signed by a test CA that this process trusts
// through SSL_CERT_FILE, as the app trusts Azure's: no client here is given
// a transport.
func TestMain(m *testing.M) { os.Exit(armtest.RunTrustingCA(m)) }

const (
	sub        = "6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
	registry   = "/subscriptions/" + sub + "/resourceGroups/rg-octo-shared/providers/Microsoft.ContainerRegistry/registries/octoacr"
	assessment = registry + "/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
)

// staticToken is a credential holding the fake's own token, for the tests
// that are not about how the token is obtained.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func newClient(t *testing.T, srv *armtest.Server, o Options) *Client {
	t.Helper()
	o.Endpoint = srv.URL
	o.ClientOptions.Retry = policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond}
	c, err := New(staticToken(srv.Token), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sample(due time.Time) model.GovernanceAssignment {
	return model.GovernanceAssignment{
		AssessmentID: assessment, Key: "runtimelink-6f1d2c", Owner: "checkout-team@octo.example",
		RemediationDueDate: due, IsGracePeriod: true,
		TicketNumber: 42, TicketLink: "https://github.com/octo-org/checkout-api/issues/42", TicketStatus: "Open",
	}
}

// The whole path a Function App takes: azidentity reads IDENTITY_ENDPOINT
// and IDENTITY_HEADER, fetches a token from the platform's endpoint, and
// azcore sends it to ARM over TLS the process trusts.
func TestManagedIdentityTokenReachesARM(t *testing.T) {
	mi := armtest.NewManagedIdentity(t)
	mi.Setenv(t)
	srv := armtest.New(t)
	srv.TrustIdentity(mi)
	srv.AddAssessment(assessment)
	srv.Expect(http.MethodPut, `/governanceassignments/runtimelink-6f1d2c$`)
	srv.Expect(http.MethodGet, `/governanceassignments/runtimelink-6f1d2c$`)

	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cred, Options{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 12, 11, 3, 0, 0, 0, time.UTC)
	ctx := context.Background()
	put, err := c.PutAssignment(ctx, sample(due))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetAssignment(ctx, assessment, "runtimelink-6f1d2c")
	if err != nil {
		t.Fatal(err)
	}
	if put != got || got != sample(due) {
		t.Errorf("put = %+v\nget = %+v\nwant %+v", put, got, sample(due))
	}
	if reqs := mi.Requests(); len(reqs) != 1 || reqs[0] != srv.URL {
		t.Errorf("token requests = %v, want one for resource %s (then cached)", reqs, srv.URL)
	}
	srv.Verify(t)
}

func TestPutCreatesThenUpdatesAndKeepsWhatItSent(t *testing.T) {
	srv := armtest.New(t)
	srv.AddAssessment(assessment)
	c := newClient(t, srv, Options{})
	ctx := context.Background()
	due := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := c.PutAssignment(ctx, sample(due)); err != nil {
		t.Fatal(err)
	}
	a := sample(due)
	a.TicketStatus = "Closed (completed)"
	a.ETA, a.ETAJustification = due.Add(-24*time.Hour), "patched base image"
	f := false
	a.DisableManagerEmail = &f
	if _, err := c.PutAssignment(ctx, a); err != nil {
		t.Fatal(err)
	}
	stored, ok := srv.GetAssignment(assessment, a.Key)
	if !ok {
		t.Fatal("not stored")
	}
	p := stored.Properties
	if p.Owner != a.Owner || p.RemediationDueDate != "2027-01-02T03:04:05Z" || p.IsGracePeriod == nil || !*p.IsGracePeriod ||
		p.AdditionalData == nil || *p.AdditionalData.TicketNumber != 42 || p.AdditionalData.TicketStatus != "Closed (completed)" ||
		p.AdditionalData.TicketLink != a.TicketLink || p.RemediationEta == nil || p.RemediationEta.Justification != "patched base image" ||
		p.GovernanceEmailNotification == nil || *p.GovernanceEmailNotification.DisableManagerEmailNotification {
		t.Errorf("stored = %+v", stored)
	}
	var statuses []int
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	if len(statuses) != 2 || statuses[0] != http.StatusCreated || statuses[1] != http.StatusOK {
		t.Errorf("statuses = %v, want [201 200]", statuses)
	}
}

func TestGetMissingIsErrNotFound(t *testing.T) {
	srv := armtest.New(t)
	c := newClient(t, srv, Options{})
	_, err := c.GetAssignment(context.Background(), assessment, "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestThrottlingIsATypedRetryAfter(t *testing.T) {
	srv := armtest.New(t)
	srv.AcceptAnyAssessment()
	srv.Inject(armtest.Fault{Method: http.MethodPut, Status: http.StatusTooManyRequests, RetryAfter: 30})
	clk := clocktest.New(time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC))
	c := newClient(t, srv, Options{Now: clk.Now})
	_, err := c.PutAssignment(context.Background(), sample(clk.Now().Add(7*24*time.Hour)))
	var ra *RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("err = %v, want *RetryAfterError", err)
	}
	if ra.RetryAfter(clk.Now()) != 30*time.Second || ra.StatusCode != 429 || !strings.HasSuffix(ra.Path, "/governanceAssignments/runtimelink-6f1d2c") {
		t.Errorf("retry-after error = %+v", ra)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("ARM saw %d requests; a 429 goes back to the caller, not round the pipeline", n)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	srv := armtest.New(t)
	srv.AcceptAnyAssessment()
	srv.Inject(armtest.Fault{Method: http.MethodPut, Status: http.StatusServiceUnavailable, Times: 2})
	c := newClient(t, srv, Options{})
	if _, err := c.PutAssignment(context.Background(), sample(time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("ARM saw %d requests, want 3 (two 503 then the write)", n)
	}
	srv.Inject(armtest.Fault{Method: http.MethodPut, Status: http.StatusInternalServerError, Times: 5})
	_, err := c.PutAssignment(context.Background(), sample(time.Now().Add(time.Hour)))
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 500 {
		t.Fatalf("err = %v, want the 500 once retries are spent", err)
	}
}

func TestMissingRoleIsLoggedOnceAndReported(t *testing.T) {
	srv := armtest.New(t)
	srv.AcceptAnyAssessment()
	srv.Deny(armtest.ActionAssignmentWrite)
	logs := &logtest.Buffer{}
	clk := clocktest.New(time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC))
	c := newClient(t, srv, Options{Now: clk.Now, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	ctx := context.Background()
	for range 5 { // five groups in one run
		_, err := c.PutAssignment(ctx, sample(clk.Now().Add(time.Hour)))
		var fe *ForbiddenError
		if !errors.As(err, &fe) || fe.Code != "AuthorizationFailed" || !strings.Contains(fe.Message, armtest.ActionAssignmentWrite) {
			t.Fatalf("err = %v, want *ForbiddenError naming the write action", err)
		}
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("ARM saw %d requests; after a 403 the run stops asking", n)
	}
	if n := strings.Count(logs.String(), "lacks the role"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs)
	}
	if st := c.Status(); !strings.Contains(st, "403 AuthorizationFailed") || !strings.Contains(st, "governanceAssignments/write") {
		t.Errorf("status = %q", st)
	}

	// The next run, after the role was granted: ARM is asked again, it works,
	// health says so.
	srv.Allow(armtest.ActionAssignmentWrite)
	clk.Advance(11 * time.Minute)
	if _, err := c.PutAssignment(ctx, sample(clk.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st != "ok" {
		t.Errorf("status = %q after success, want ok", st)
	}
}

func TestAssessmentAssignmentsFollowsNextLink(t *testing.T) {
	srv := armtest.New(t)
	srv.SetPageSize(1)
	due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tn := int64(7)
	srv.PutAssignment(assessment, "manager-set-1", armtest.AssignmentProperties{Owner: "alice@octo.example", RemediationDueDate: "2027-01-01T00:00:00.0000000Z"})
	srv.PutAssignment(assessment, "runtimelink-6f1d2c", armtest.AssignmentProperties{RemediationDueDate: "2027-01-01T00:00:00Z",
		AdditionalData: &armtest.AdditionalData{TicketNumber: &tn, TicketLink: "https://github.com/octo-org/checkout-api/issues/7", TicketStatus: "Open"}})
	other := registry + "/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648"
	srv.PutAssignment(other, "elsewhere", armtest.AssignmentProperties{RemediationDueDate: "2027-01-01T00:00:00Z"})

	c := newClient(t, srv, Options{})
	got, err := c.AssessmentAssignments(context.Background(), assessment)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "manager-set-1" || got[0].Owner != "alice@octo.example" || !got[0].RemediationDueDate.Equal(due) ||
		got[1].TicketNumber != 7 || got[1].TicketStatus != "Open" || got[1].AssessmentID != assessment {
		t.Errorf("got %+v", got)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests, want 2 pages", n)
	}
}

func TestListAssignmentsThroughResourceGraph(t *testing.T) {
	srv := armtest.New(t)
	srv.PutAssignment(assessment, "manager-set-1", armtest.AssignmentProperties{Owner: "alice@octo.example", RemediationDueDate: "2027-01-01T00:00:00.0000000Z"})
	otherSub := "/subscriptions/0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr2/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
	srv.PutAssignment(otherSub, "not-in-scope", armtest.AssignmentProperties{RemediationDueDate: "2027-01-01T00:00:00Z"})
	srv.Expect(http.MethodPost, `^/providers/microsoft\.resourcegraph/resources$`)

	g, err := resourcegraph.NewClient(staticToken(srv.Token), resourcegraph.Options{Endpoint: srv.URL, Subscriptions: []string{sub}, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv, Options{Graph: g})
	got, err := c.ListAssignments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].AssessmentID != assessment || got[0].Key != "manager-set-1" || got[0].Owner != "alice@octo.example" {
		t.Errorf("got %+v", got)
	}
	srv.Verify(t)

	// Without read on assignments, Resource Graph answers nothing rather
	// than 403: the list is empty, not an error.
	srv.Deny(armtest.ActionAssignmentRead)
	got, err = c.ListAssignments(context.Background())
	if err != nil || len(got) != 0 {
		t.Errorf("denied read: got %v, %v", got, err)
	}
}

// The fake refuses what ARM refuses; the client never sends it, so these
// requests are made by hand.
func TestFakeRefusesWhatARMRefuses(t *testing.T) {
	srv := armtest.New(t)
	srv.AcceptAnyAssessment()
	url := srv.URL + assessment + "/governanceAssignments/k"
	cases := []struct {
		name, query, token, body string
		status                   int
		code                     string
	}{
		{"no token", "api-version=2022-01-01-preview", "", `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z"}}`, 401, "AuthenticationFailed"},
		{"wrong token", "api-version=2022-01-01-preview", "forged", `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z"}}`, 401, "InvalidAuthenticationToken"},
		{"no version", "", srv.Token, `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z"}}`, 400, "MissingApiVersionParameter"},
		{"other version", "api-version=2021-06-01", srv.Token, `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z"}}`, 400, "InvalidApiVersionParameter"},
		{"no due date", "api-version=2022-01-01-preview", srv.Token, `{"properties":{"owner":"a@b.c"}}`, 400, "InvalidRequestContent"},
		{"bad due date", "api-version=2022-01-01-preview", srv.Token, `{"properties":{"remediationDueDate":"next week"}}`, 400, "InvalidRequestContent"},
		{"negative ticket", "api-version=2022-01-01-preview", srv.Token, `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z","additionalData":{"ticketNumber":-1}}}`, 400, "InvalidRequestContent"},
		{"fractional ticket", "api-version=2022-01-01-preview", srv.Token, `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z","additionalData":{"ticketNumber":1.5}}}`, 400, "InvalidRequestContent"},
		{"string ticket", "api-version=2022-01-01-preview", srv.Token, `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z","additionalData":{"ticketNumber":"42"}}}`, 400, "InvalidRequestContent"},
		{"huge ticket", "api-version=2022-01-01-preview", srv.Token, `{"properties":{"remediationDueDate":"2027-01-01T00:00:00Z","additionalData":{"ticketNumber":4294967296}}}`, 400, "InvalidRequestContent"},
		{"null body", "api-version=2022-01-01-preview", srv.Token, `null`, 400, "InvalidRequestContent"},
		{"ok", "api-version=2022-01-01-preview", srv.Token, `{"properties":{"remediationDueDate":"2022-01-07T13:00:00.0000000Z","additionalData":{"ticketNumber":0}}}`, 201, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, url+"?"+tc.query, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			_ = json.Unmarshal(body, &e)
			if resp.StatusCode != tc.status || e.Error.Code != tc.code {
				t.Errorf("%d %s, want %d %s: %s", resp.StatusCode, e.Error.Code, tc.status, tc.code, body)
			}
		})
	}
	// A PUT on an assessment that does not exist.
	strict := armtest.New(t)
	c := newClient(t, strict, Options{})
	if _, err := c.PutAssignment(context.Background(), sample(time.Now())); !errors.Is(err, ErrNotFound) {
		t.Errorf("put on an unknown assessment: %v, want ErrNotFound", err)
	}
}

func TestAssessmentOf(t *testing.T) {
	for in, want := range map[string]string{
		assessment: assessment,
		assessment + "/subassessments/8b7f4d0e-52c1-4e0a-9d1b-3a4f6c2e1d90":                 assessment,
		assessment + "/subAssessments/x/":                                                   assessment,
		"/subscriptions/" + sub + "/providers/Microsoft.Security/locations/eastus/alerts/1": "",
		"": "",
		"/subscriptions/" + sub + "/providers/Microsoft.Security/assessments/a b": "",
	} {
		got, ok := model.AssessmentOf(in)
		if got != want || ok != (want != "") {
			t.Errorf("AssessmentOf(%q) = %q, %v", in, got, ok)
		}
	}
}
