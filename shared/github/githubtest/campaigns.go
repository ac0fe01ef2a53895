package githubtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// FakeCampaign is the fake's record of one security campaign.
type FakeCampaign struct {
	Number      int
	Name        string
	Description string
	EndsAt      time.Time
	State       string // open, closed
	Managers    []string
	ContactLink string
	// Alerts are the code scanning alert numbers by repository id.
	Alerts    map[int64][]int
	CreatedAt time.Time
	UpdatedAt time.Time
	ClosedAt  time.Time
}

type campaignState struct {
	byOrg map[string][]*FakeCampaign // lower-case org
}

// Campaigns returns an org's campaigns, in creation order.
func (s *Server) Campaigns(org string) []FakeCampaign {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []FakeCampaign
	for _, c := range s.campaigns.byOrg[strings.ToLower(org)] {
		cp := *c
		cp.Alerts = map[int64][]int{}
		for k, v := range c.Alerts {
			cp.Alerts[k] = slices.Clone(v)
		}
		out = append(out, cp)
	}
	return out
}

// RepoID is the repository id the fake gives "owner/name".
func RepoID(fullName string) int64 { return repoID(fullName) }

type campaignBody struct {
	Name               *string          `json:"name"`
	Description        *string          `json:"description"`
	EndsAt             *string          `json:"ends_at"`
	Managers           *[]string        `json:"managers"`
	TeamManagers       *[]string        `json:"team_managers"`
	ContactLink        *string          `json:"contact_link"`
	GenerateIssues     *bool            `json:"generate_issues"`
	State              *string          `json:"state"`
	CodeScanningAlerts *[]campaignAlert `json:"code_scanning_alerts"`
}

type campaignAlert struct {
	RepositoryID int64 `json:"repository_id"`
	AlertNumbers []int `json:"alert_numbers"`
}

func campaignInvalid(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "status": "422", "documentation_url": docsPrefix + "/campaigns/campaigns",
		"errors": []fieldError{{Resource: "Campaign", Code: "invalid", Field: field, Message: msg}}})
}

// decodeCampaign validates a create (create=true: name, description,
// ends_at and alerts required) or an update body as GitHub's schema does.
func (s *Server) decodeCampaign(w http.ResponseWriter, r *http.Request, org string, create bool) (campaignBody, time.Time, bool) {
	var b campaignBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON: "+err.Error())
		return b, time.Time{}, false
	}
	if create && (b.Name == nil || b.Description == nil || b.EndsAt == nil || b.CodeScanningAlerts == nil) {
		campaignInvalid(w, "", "name, description, ends_at and code_scanning_alerts are required")
		return b, time.Time{}, false
	}
	if b.Name != nil && (len(*b.Name) < 1 || len(*b.Name) > 50) {
		campaignInvalid(w, "name", "name must be 1 to 50 characters")
		return b, time.Time{}, false
	}
	if b.Description != nil && (len(*b.Description) < 1 || len(*b.Description) > 255) {
		campaignInvalid(w, "description", "description must be 1 to 255 characters")
		return b, time.Time{}, false
	}
	var ends time.Time
	if b.EndsAt != nil {
		t, err := time.Parse(time.RFC3339, *b.EndsAt)
		if err != nil || !t.After(s.now()) {
			campaignInvalid(w, "ends_at", "ends_at must be a date-time in the future")
			return b, time.Time{}, false
		}
		ends = t
	}
	if b.Managers != nil && len(*b.Managers) > 1 {
		campaignInvalid(w, "managers", "only a single manager can be supplied")
		return b, time.Time{}, false
	}
	if b.State != nil && *b.State != "open" && *b.State != "closed" {
		campaignInvalid(w, "state", "state must be open or closed")
		return b, time.Time{}, false
	}
	if b.CodeScanningAlerts != nil {
		if len(*b.CodeScanningAlerts) == 0 {
			campaignInvalid(w, "code_scanning_alerts", "at least one alert is required")
			return b, time.Time{}, false
		}
		known := s.codeScanningAlertsOf(org)
		for _, a := range *b.CodeScanningAlerts {
			if a.RepositoryID <= 0 || len(a.AlertNumbers) == 0 {
				campaignInvalid(w, "code_scanning_alerts", "each entry needs a repository_id and alert_numbers")
				return b, time.Time{}, false
			}
			for _, n := range a.AlertNumbers {
				if !known[a.RepositoryID][n] {
					campaignInvalid(w, "code_scanning_alerts", "alert "+strconv.Itoa(n)+" of repository "+strconv.FormatInt(a.RepositoryID, 10)+" does not exist")
					return b, time.Time{}, false
				}
			}
		}
	}
	return b, ends, true
}

// codeScanningAlertsOf indexes an org's code scanning alerts (SetAlerts)
// by repository id and number.
func (s *Server) codeScanningAlertsOf(org string) map[int64]map[int]bool {
	out := map[int64]map[int]bool{}
	o := s.orgByLogin(org)
	if o == nil {
		return out
	}
	s.mu.Lock()
	raws := slices.Clone(o.alerts[model.SourceCodeScanning])
	s.mu.Unlock()
	for _, raw := range raws {
		var a struct {
			Number     int `json:"number"`
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		if json.Unmarshal(raw, &a) != nil || a.Repository.FullName == "" {
			continue
		}
		id := repoID(a.Repository.FullName)
		if out[id] == nil {
			out[id] = map[int]bool{}
		}
		out[id][a.Number] = true
	}
	return out
}

func (s *Server) handleCreateCampaign(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	b, ends, ok := s.decodeCampaign(w, r, org, true)
	if !ok {
		return
	}
	now := s.now()
	s.mu.Lock()
	if s.campaigns.byOrg == nil {
		s.campaigns.byOrg = map[string][]*FakeCampaign{}
	}
	key := strings.ToLower(org)
	for _, c := range s.campaigns.byOrg[key] {
		if c.Name == *b.Name && c.State == "open" {
			s.mu.Unlock()
			campaignInvalid(w, "name", "a campaign with this name already exists")
			return
		}
	}
	c := &FakeCampaign{Number: len(s.campaigns.byOrg[key]) + 1, Name: *b.Name, Description: *b.Description, EndsAt: ends,
		State: "open", Alerts: alertsOf(*b.CodeScanningAlerts), CreatedAt: now, UpdatedAt: now}
	if b.Managers != nil {
		c.Managers = slices.Clone(*b.Managers)
	}
	if b.ContactLink != nil {
		c.ContactLink = *b.ContactLink
	}
	s.campaigns.byOrg[key] = append(s.campaigns.byOrg[key], c)
	out := campaignJSON(c)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleUpdateCampaign(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	b, ends, ok := s.decodeCampaign(w, r, org, false)
	if !ok {
		return
	}
	s.mu.Lock()
	c := s.campaignLocked(org, r.PathValue("number"))
	if c == nil {
		s.mu.Unlock()
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/campaigns/campaigns#update-a-campaign")
		return
	}
	if b.Name != nil {
		c.Name = *b.Name
	}
	if b.Description != nil {
		c.Description = *b.Description
	}
	if b.EndsAt != nil {
		c.EndsAt = ends
	}
	if b.Managers != nil {
		c.Managers = slices.Clone(*b.Managers)
	}
	if b.ContactLink != nil {
		c.ContactLink = *b.ContactLink
	}
	if b.CodeScanningAlerts != nil {
		c.Alerts = alertsOf(*b.CodeScanningAlerts)
	}
	if b.State != nil && *b.State != c.State {
		c.State = *b.State
		c.ClosedAt = time.Time{}
		if c.State == "closed" {
			c.ClosedAt = s.now()
		}
	}
	c.UpdatedAt = s.now()
	out := campaignJSON(c)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetCampaign(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c := s.campaignLocked(r.PathValue("org"), r.PathValue("number"))
	var out map[string]any
	if c != nil {
		out = campaignJSON(c)
	}
	s.mu.Unlock()
	if c == nil {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/campaigns/campaigns#get-a-campaign")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleListCampaigns lists an org's campaigns, newest first (GitHub's
// default sort), filtered by state, paged by page/per_page.
func (s *Server) handleListCampaigns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && state != "open" && state != "closed" {
		campaignInvalid(w, "state", "state must be open or closed")
		return
	}
	perPage, ok := perPageOf(w, q)
	if !ok {
		return
	}
	page, ok := pageOf(w, q)
	if !ok {
		return
	}
	s.mu.Lock()
	var all []map[string]any
	list := s.campaigns.byOrg[strings.ToLower(r.PathValue("org"))]
	for i := len(list) - 1; i >= 0; i-- {
		if state == "" || list[i].State == state {
			all = append(all, campaignJSON(list[i]))
		}
	}
	s.mu.Unlock()
	start := min((page-1)*perPage, len(all))
	end := min(start+perPage, len(all))
	if end < len(all) {
		v := q
		v.Set("page", strconv.Itoa(page+1))
		w.Header().Set("Link", `<`+s.srv.URL+s.prefix+r.URL.Path+"?"+v.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, append([]map[string]any{}, all[start:end]...))
}

func (s *Server) campaignLocked(org, number string) *FakeCampaign {
	n, err := strconv.Atoi(number)
	list := s.campaigns.byOrg[strings.ToLower(org)]
	if err != nil || n < 1 || n > len(list) {
		return nil
	}
	return list[n-1]
}

func alertsOf(in []campaignAlert) map[int64][]int {
	out := map[int64][]int{}
	for _, a := range in {
		for _, n := range a.AlertNumbers {
			if !slices.Contains(out[a.RepositoryID], n) {
				out[a.RepositoryID] = append(out[a.RepositoryID], n)
			}
		}
		slices.Sort(out[a.RepositoryID])
	}
	return out
}

func campaignJSON(c *FakeCampaign) map[string]any {
	managers := []map[string]any{}
	for _, m := range c.Managers {
		managers = append(managers, map[string]any{"login": m, "type": "User"})
	}
	open := 0
	for _, ns := range c.Alerts {
		open += len(ns)
	}
	out := map[string]any{
		"number": c.Number, "name": c.Name, "description": c.Description, "state": c.State,
		"created_at": c.CreatedAt.UTC().Format(time.RFC3339), "updated_at": c.UpdatedAt.UTC().Format(time.RFC3339),
		"published_at": c.CreatedAt.UTC().Format(time.RFC3339), "ends_at": c.EndsAt.UTC().Format(time.RFC3339),
		"closed_at": nil, "managers": managers, "team_managers": []any{}, "contact_link": nil,
		"alert_stats": map[string]int{"open_count": open, "closed_count": 0, "in_progress_count": 0},
	}
	if !c.ClosedAt.IsZero() {
		out["closed_at"] = c.ClosedAt.UTC().Format(time.RFC3339)
	}
	if c.ContactLink != "" {
		out["contact_link"] = c.ContactLink
	}
	return out
}
