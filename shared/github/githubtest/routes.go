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

	// alerts.go: organisation-wide GHAS alerts.
	for source, seg := range alertPaths {
		m.HandleFunc("GET /orgs/{org}/"+seg+"/alerts", s.handleOrgAlerts(source))
		m.HandleFunc("GET /organizations/{id}/"+seg+"/alerts", s.handleOrgIDAlerts(source))
	}

	// attestations.go: artifact attestations.
	m.HandleFunc("GET /orgs/{org}/attestations/{digest}", s.handleAttestations)

	// repos.go: repositories and their contents.
	m.HandleFunc("GET /repos/{owner}/{repo}", s.handleRepo)
	m.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", s.handleContents)

	// issues.go: issues.
	m.HandleFunc("POST /repos/{owner}/{repo}/issues", s.handleCreateIssue)
	m.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", s.handleUpdateIssue)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "Not Found") })
	s.mux = m
}
