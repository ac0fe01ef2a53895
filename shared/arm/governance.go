// Package arm is runtimelink's Azure Resource Manager adapter for Defender
// for Cloud governance assignments: it puts and reads the assignment that
// links an assessment to its GitHub issue (it never deletes one), and lists
// every assignment, a security manager's too, through Resource Graph. Calls
// go through an azcore pipeline with a bearer token from the app's
// credential (the managed identity in Azure). Throttling comes back as a
// *RetryAfterError, a missing role as a *ForbiddenError, both typed so the
// sync loop can give a message back or report the role in health.
package arm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/runtimelink/runtimelink/shared/model"
)

const (
	// DefaultEndpoint is Azure Resource Manager in the public cloud.
	DefaultEndpoint = "https://management.azure.com"
	// GovernanceAPIVersion is the only version of governance assignments.
	GovernanceAPIVersion = "2022-01-01-preview"
	// AssignmentsQuery lists every governance assignment in Resource Graph.
	AssignmentsQuery = `securityresources | where type == "microsoft.security/assessments/governanceassignments"`

	// maxListPages bounds an ARM list's nextLink paging.
	maxListPages = 1000
)

// Actions are the ARM actions this client's calls need; terraform/roles.tf
// grants them (and a test there checks it grants no more of them).
// Resource Graph needs no action of its own: it answers what these read.
var Actions = []string{
	"Microsoft.Security/assessments/governanceAssignments/read",
	"Microsoft.Security/assessments/governanceAssignments/write",
}

// ErrNotFound says the assignment does not exist (ARM answered 404).
var ErrNotFound = errors.New("governance assignment not found")

// RetryAfterError says ARM throttled the request (429): try again after
// Reset. A caller running from a queue gives the message back with that
// delay instead of waiting, as for GitHub's rate limits.
type RetryAfterError struct {
	Method, Path string
	StatusCode   int
	Reset        time.Time
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("azure resource manager throttled %s %s (%d): retry after %s",
		e.Method, e.Path, e.StatusCode, e.Reset.UTC().Format(time.RFC3339))
}

// RetryAfter is how long from now the caller should wait.
func (e *RetryAfterError) RetryAfter(now time.Time) time.Duration {
	return max(0, e.Reset.Sub(now))
}

// ForbiddenError says the identity lacks the role for the call (ARM's 403
// AuthorizationFailed). It does not heal by retrying: an operator must grant
// the role (terraform/roles.tf does).
type ForbiddenError struct {
	Method, Path string
	Code         string // AuthorizationFailed, LinkedAuthorizationFailed ...
	Message      string // ARM's message: which action, which scope
	At           time.Time
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("azure resource manager refused %s %s: %s: %s", e.Method, e.Path, e.Code, e.Message)
}

// RowQuerier runs a Resource Graph query row by row
// (resourcegraph.Client.Query).
type RowQuerier interface {
	Query(ctx context.Context, query string, fn func(row json.RawMessage) error) error
}

// Options configure a Client.
type Options struct {
	// Endpoint is the ARM endpoint (ARM_ENDPOINT); DefaultEndpoint when empty.
	Endpoint string
	// Audience is the token audience; the endpoint when empty.
	Audience string
	// Graph lists assignments through Resource Graph; nil makes
	// ListAssignments fail (the Resource Graph integration is off).
	Graph RowQuerier
	// ForbiddenBackoff is how long after a 403 further calls fail at once,
	// without asking ARM (default 10 minutes): a missing role is logged and
	// reported once per run, not per group.
	ForbiddenBackoff time.Duration
	Logger           *slog.Logger
	Now              func() time.Time
	// ClientOptions tune the azcore pipeline (transport, retries, logging).
	ClientOptions policy.ClientOptions
}

// Client reads and writes governance assignments.
type Client struct {
	endpoint string
	pl       runtime.Pipeline
	graph    RowQuerier
	backoff  time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu        sync.Mutex
	forbidden *ForbiddenError // latest 403, until a call succeeds
}

// New builds a Client authenticating with cred.
func New(cred azcore.TokenCredential, o Options) (*Client, error) {
	if cred == nil {
		return nil, errors.New("governance client: no credential")
	}
	endpoint := strings.TrimRight(cmp.Or(o.Endpoint, DefaultEndpoint), "/")
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("governance client: ARM endpoint %q is not an absolute URL", endpoint)
	}
	audience := strings.TrimRight(cmp.Or(o.Audience, endpoint), "/")
	co := o.ClientOptions
	// A 429 is handed back to the caller as a RetryAfterError (the queue
	// message waits, the function does not); transient 5xx and timeouts
	// are retried here.
	co.Retry.ShouldRetry = func(resp *http.Response, err error) bool {
		if err != nil {
			return true
		}
		switch resp.StatusCode {
		case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	bearer := runtime.NewBearerTokenPolicy(cred, []string{audience + "/.default"}, nil)
	pl := runtime.NewPipeline("runtimelink/arm", "v1", runtime.PipelineOptions{PerRetry: []policy.Policy{bearer}}, &co)
	c := &Client{
		endpoint: endpoint, pl: pl, graph: o.Graph,
		backoff: cmp.Or(o.ForbiddenBackoff, 10*time.Minute),
		log:     o.Logger,
		now:     o.Now,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// wire is the API's shape of an assignment.
type wire struct {
	ID         string         `json:"id,omitempty"`
	Name       string         `json:"name,omitempty"`
	Type       string         `json:"type,omitempty"`
	Properties wireProperties `json:"properties"`
}

type wireProperties struct {
	Owner                       string              `json:"owner,omitempty"`
	RemediationDueDate          string              `json:"remediationDueDate"`
	RemediationEta              *wireEta            `json:"remediationEta,omitempty"`
	IsGracePeriod               bool                `json:"isGracePeriod"`
	GovernanceEmailNotification *wireNotification   `json:"governanceEmailNotification,omitempty"`
	AdditionalData              *wireAdditionalData `json:"additionalData,omitempty"`
}

type wireEta struct {
	Eta           string `json:"eta"`
	Justification string `json:"justification"`
}

type wireNotification struct {
	DisableManagerEmailNotification *bool `json:"disableManagerEmailNotification,omitempty"`
	DisableOwnerEmailNotification   *bool `json:"disableOwnerEmailNotification,omitempty"`
}

type wireAdditionalData struct {
	TicketNumber *int   `json:"ticketNumber,omitempty"`
	TicketLink   string `json:"ticketLink,omitempty"`
	TicketStatus string `json:"ticketStatus,omitempty"`
}

func toWire(a model.GovernanceAssignment) wire {
	p := wireProperties{
		Owner:              a.Owner,
		RemediationDueDate: a.RemediationDueDate.UTC().Format(time.RFC3339),
		IsGracePeriod:      a.IsGracePeriod,
	}
	if !a.ETA.IsZero() {
		p.RemediationEta = &wireEta{Eta: a.ETA.UTC().Format(time.RFC3339), Justification: a.ETAJustification}
	}
	if a.DisableManagerEmail != nil || a.DisableOwnerEmail != nil {
		p.GovernanceEmailNotification = &wireNotification{a.DisableManagerEmail, a.DisableOwnerEmail}
	}
	if a.TicketNumber > 0 || a.TicketLink != "" || a.TicketStatus != "" {
		ad := &wireAdditionalData{TicketLink: a.TicketLink, TicketStatus: a.TicketStatus}
		if a.TicketNumber > 0 {
			n := a.TicketNumber
			ad.TicketNumber = &n
		}
		p.AdditionalData = ad
	}
	return wire{Properties: p}
}

// fromWire reads an assignment answer; id is its full ARM id.
func fromWire(w wire) (model.GovernanceAssignment, error) {
	i := strings.LastIndex(strings.ToLower(w.ID), "/governanceassignments/")
	if i < 0 {
		return model.GovernanceAssignment{}, fmt.Errorf("governance assignment id %q is not …/governanceAssignments/{key}", w.ID)
	}
	a := model.GovernanceAssignment{
		AssessmentID:  w.ID[:i],
		Key:           w.ID[i+len("/governanceAssignments/"):],
		Owner:         w.Properties.Owner,
		IsGracePeriod: w.Properties.IsGracePeriod,
	}
	var err error
	if a.RemediationDueDate, err = parseTime(w.Properties.RemediationDueDate); err != nil {
		return model.GovernanceAssignment{}, fmt.Errorf("governance assignment %s: remediationDueDate: %w", w.ID, err)
	}
	if e := w.Properties.RemediationEta; e != nil && e.Eta != "" {
		if a.ETA, err = parseTime(e.Eta); err != nil {
			return model.GovernanceAssignment{}, fmt.Errorf("governance assignment %s: remediationEta: %w", w.ID, err)
		}
		a.ETAJustification = e.Justification
	}
	if n := w.Properties.GovernanceEmailNotification; n != nil {
		a.DisableManagerEmail, a.DisableOwnerEmail = n.DisableManagerEmailNotification, n.DisableOwnerEmailNotification
	}
	if ad := w.Properties.AdditionalData; ad != nil {
		if ad.TicketNumber != nil {
			a.TicketNumber = *ad.TicketNumber
		}
		a.TicketLink, a.TicketStatus = ad.TicketLink, ad.TicketStatus
	}
	return a, nil
}

// parseTime reads ARM's date-times, which come with seven fractional
// digits ("2022-01-07T13:00:00.0000000Z") or none, with or without a zone.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("empty")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time", v)
}

func (c *Client) url(path string) string { return c.endpoint + path }

// PutAssignment creates or replaces a (the whole resource: what a is
// missing is cleared) and returns what ARM stored.
func (c *Client) PutAssignment(ctx context.Context, a model.GovernanceAssignment) (model.GovernanceAssignment, error) {
	if _, ok := model.AssessmentOf(a.AssessmentID); !ok || a.Key == "" {
		return model.GovernanceAssignment{}, fmt.Errorf("put governance assignment: %q / %q is not an assessment id and key", a.AssessmentID, a.Key)
	}
	if a.RemediationDueDate.IsZero() {
		return model.GovernanceAssignment{}, fmt.Errorf("put governance assignment %s: no remediation due date", a.ID())
	}
	if a.TicketNumber < 0 {
		return model.GovernanceAssignment{}, fmt.Errorf("put governance assignment %s: ticket number %d < 0", a.ID(), a.TicketNumber)
	}
	var out wire
	if err := c.do(ctx, http.MethodPut, a.ID(), toWire(a), &out, http.StatusOK, http.StatusCreated); err != nil {
		return model.GovernanceAssignment{}, fmt.Errorf("put governance assignment %s: %w", a.ID(), err)
	}
	got, err := fromWire(out)
	if err != nil {
		return model.GovernanceAssignment{}, fmt.Errorf("put governance assignment: %w", err)
	}
	return got, nil
}

// GetAssignment reads one assignment; ErrNotFound when there is none.
func (c *Client) GetAssignment(ctx context.Context, assessmentID, key string) (model.GovernanceAssignment, error) {
	id := model.GovernanceAssignment{AssessmentID: assessmentID, Key: key}.ID()
	var out wire
	if err := c.do(ctx, http.MethodGet, id, nil, &out, http.StatusOK); err != nil {
		return model.GovernanceAssignment{}, fmt.Errorf("get governance assignment %s: %w", id, err)
	}
	return fromWire(out)
}

// AssessmentAssignments lists the assignments of one assessment through
// ARM (GovernanceAssignments_List at the assessment's resource scope),
// what a group's sync reads; ListAssignments is the nightly view.
func (c *Client) AssessmentAssignments(ctx context.Context, assessmentID string) ([]model.GovernanceAssignment, error) {
	if _, ok := model.AssessmentOf(assessmentID); !ok {
		return nil, fmt.Errorf("list governance assignments: %q is not an assessment id", assessmentID)
	}
	next := c.url(assessmentID + "/governanceAssignments?api-version=" + GovernanceAPIVersion)
	var all []model.GovernanceAssignment
	for page := 0; next != ""; page++ {
		if page == maxListPages {
			return nil, fmt.Errorf("list governance assignments of %s: stopped after %d pages", assessmentID, maxListPages)
		}
		var out struct {
			Value    []wire `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if err := c.doURL(ctx, http.MethodGet, next, nil, &out, http.StatusOK); err != nil {
			return nil, fmt.Errorf("list governance assignments of %s: %w", assessmentID, err)
		}
		for _, w := range out.Value {
			a, err := fromWire(w)
			if err != nil {
				return nil, fmt.Errorf("list governance assignments of %s: %w", assessmentID, err)
			}
			all = append(all, a)
		}
		if out.NextLink != "" && !strings.HasPrefix(out.NextLink, c.endpoint+"/") {
			return nil, fmt.Errorf("list governance assignments of %s: nextLink %q leaves the ARM endpoint", assessmentID, out.NextLink)
		}
		next = out.NextLink
	}
	return all, nil
}

// ListAssignments lists every governance assignment in the Resource Graph
// scope, the managers' own as well as runtimelink's. A row that cannot be
// read fails the call: the nightly run must not silently miss one.
func (c *Client) ListAssignments(ctx context.Context) ([]model.GovernanceAssignment, error) {
	if c.graph == nil {
		return nil, errors.New("list governance assignments: Resource Graph is not configured (RUNTIMELINK_SUBSCRIPTIONS)")
	}
	var all []model.GovernanceAssignment
	err := c.graph.Query(ctx, AssignmentsQuery, func(row json.RawMessage) error {
		var w wire
		if err := json.Unmarshal(row, &w); err != nil {
			return fmt.Errorf("governance assignment row: %w", err)
		}
		a, err := fromWire(w)
		if err != nil {
			return err
		}
		all = append(all, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list governance assignments: %w", err)
	}
	return all, nil
}

// Status is the health answer's word on governance: "ok", or the 403 that
// makes every write fail and what to do about it.
func (c *Client) Status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forbidden == nil {
		return "ok"
	}
	return fmt.Sprintf("failing since %s: ARM answered 403 %s (%s); grant the runtimelink role (terraform/roles.tf)",
		c.forbidden.At.UTC().Format(time.RFC3339), c.forbidden.Code, c.forbidden.Message)
}

func (c *Client) do(ctx context.Context, method, id string, body, out any, ok ...int) error {
	return c.doURL(ctx, method, c.url(id)+"?api-version="+GovernanceAPIVersion, body, out, ok...)
}

func (c *Client) doURL(ctx context.Context, method, u string, body, out any, ok ...int) error {
	c.mu.Lock()
	if f := c.forbidden; f != nil && c.now().Sub(f.At) < c.backoff {
		c.mu.Unlock()
		// The role is still missing as far as we know: do not ask ARM
		// again (nor log again) for every group of the run.
		cp := *f
		cp.Method, cp.Path = method, pathOf(u)
		return &cp
	}
	c.mu.Unlock()
	req, err := runtime.NewRequest(ctx, method, u)
	if err != nil {
		return err
	}
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return err
		}
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return err
	}
	if !runtime.HasStatusCode(resp, ok...) {
		return c.failure(resp, method, u)
	}
	c.mu.Lock()
	if c.forbidden != nil {
		c.log.Info("governance assignments work again", "previousError", c.forbidden.Code)
		c.forbidden = nil
	}
	c.mu.Unlock()
	if out == nil {
		return nil
	}
	return runtime.UnmarshalAsJSON(resp, out)
}

type armError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *Client) failure(resp *http.Response, method, u string) error {
	path := pathOf(u)
	switch resp.StatusCode {
	case http.StatusNotFound:
		_ = resp.Body.Close()
		return ErrNotFound
	case http.StatusTooManyRequests:
		_ = resp.Body.Close()
		return &RetryAfterError{Method: method, Path: path, StatusCode: resp.StatusCode, Reset: c.now().Add(retryAfter(resp))}
	case http.StatusForbidden:
		var e armError
		_ = runtime.UnmarshalAsJSON(resp, &e)
		f := &ForbiddenError{Method: method, Path: path, Code: cmp.Or(e.Error.Code, "Forbidden"), Message: e.Error.Message, At: c.now()}
		c.mu.Lock()
		first := c.forbidden == nil
		c.forbidden = f
		c.mu.Unlock()
		if first {
			// Once per run (see ForbiddenBackoff), not once per group.
			c.log.Error("governance assignments refused: the managed identity lacks the role", "status", 403, "code", f.Code, "message", f.Message, "method", method, "path", path)
		}
		return f
	}
	return runtime.NewResponseError(resp)
}

// retryAfter reads Retry-After (seconds or an HTTP date) and ARM's
// x-ms-retry-after-ms; a minute when ARM names no delay.
func retryAfter(resp *http.Response) time.Duration {
	if ms, err := strconv.Atoi(resp.Header.Get("x-ms-retry-after-ms")); err == nil && ms >= 0 {
		return time.Duration(ms) * time.Millisecond
	}
	v := resp.Header.Get("Retry-After")
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return time.Minute
}

func pathOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Path
	}
	return u
}
