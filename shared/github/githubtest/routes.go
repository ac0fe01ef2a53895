package githubtest

import "net/http"

// routes is the table of what the fake serves, one line per GitHub endpoint,
// grouped by concern; the handlers live in the file named for the concern.
func (s *Server) routes() {
	m := http.NewServeMux()

	// apps.go: the App's JWT endpoints.
	m.HandleFunc("GET /app", s.handleApp)
	m.HandleFunc("GET /app/installations", s.handleListInstallations)
	m.HandleFunc("POST /app/installations/{id}/access_tokens", s.handleAccessToken)

	// hooks.go: the App's webhook delivery log and redeliveries (JWT).
	m.HandleFunc("GET /app/hook/deliveries", s.handleListHookDeliveries)
	m.HandleFunc("POST /app/hook/deliveries/{delivery_id}/attempts", s.handleRedeliver)

	// alerts.go: organisation-wide GHAS alerts.
	for source, seg := range alertPaths {
		m.HandleFunc("GET /orgs/{org}/"+seg+"/alerts", s.handleOrgAlerts(source))
		m.HandleFunc("GET /organizations/{id}/"+seg+"/alerts", s.handleOrgIDAlerts(source))
	}

	// attestations.go: artifact attestations.
	m.HandleFunc("GET /orgs/{org}/attestations/{digest}", s.handleAttestations)

	// artifactmetadata.go: deployment and storage records.
	m.HandleFunc("POST /orgs/{org}/artifacts/metadata/deployment-record", s.handleDeploymentRecord)
	m.HandleFunc("POST /orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}", s.handleClusterRecords)
	m.HandleFunc("POST /orgs/{org}/artifacts/metadata/storage-record", s.handleStorageRecord)
	m.HandleFunc("GET /orgs/{org}/artifacts/{subject_digest}/metadata/deployment-records", s.handleListDeploymentRecords)
	m.HandleFunc("GET /orgs/{org}/artifacts/{subject_digest}/metadata/storage-records", s.handleListStorageRecords)

	// repos.go: repositories and their contents.
	m.HandleFunc("GET /repos/{owner}/{repo}", s.handleRepo)
	m.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", s.handleContents)

	// issues.go: issues, their comments, assignees and labels, issue search.
	m.HandleFunc("POST /repos/{owner}/{repo}/issues", s.handleCreateIssue)
	m.HandleFunc("GET /repos/{owner}/{repo}/issues", s.handleListIssues)
	m.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}", s.handleGetIssue)
	m.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", s.handleUpdateIssue)
	m.HandleFunc("GET /repositories/{id}/issues/{number}", s.handleGetIssueByRepoID)
	m.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", s.handleCreateComment)
	m.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", s.handleListComments)
	m.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/assignees", s.handleAddAssignees)
	m.HandleFunc("GET /repos/{owner}/{repo}/assignees/{login}", s.handleCheckAssignee)
	m.HandleFunc("GET /repos/{owner}/{repo}/labels/{name}", s.handleGetLabel)
	m.HandleFunc("GET /repos/{owner}/{repo}/labels", s.handleListLabels)
	m.HandleFunc("POST /repos/{owner}/{repo}/labels", s.handleCreateLabel)
	m.HandleFunc("GET /search/issues", s.handleSearchIssues)

	// campaigns.go: security campaigns of code scanning alerts.
	m.HandleFunc("POST /orgs/{org}/campaigns", s.handleCreateCampaign)
	m.HandleFunc("GET /orgs/{org}/campaigns", s.handleListCampaigns)
	m.HandleFunc("GET /orgs/{org}/campaigns/{number}", s.handleGetCampaign)
	m.HandleFunc("PATCH /orgs/{org}/campaigns/{number}", s.handleUpdateCampaign)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "Not Found") })
	s.mux = m
}
