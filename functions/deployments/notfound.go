package deployments

import (
	"net/http"
	"strings"

	"github.com/runtimelink/runtimelink/shared/invocation"
)

// Requests that look meant for the artifact-metadata API but match none of
// its routes. deployment-tracker reads a bare 404 as "no attestation for
// this artifact" and drops the record at debug level, so a wrong base URL
// would lose every record silently: these answer GitHub's error shape with
// a message naming the base URL runtimelink serves, and log a warning.
const (
	// RouteUnknown is any other path under the org's artifacts.
	RouteUnknown = "/api/orgs/{org}/artifacts/{rest...}"
	// RouteV3 is a GitHub Enterprise Server style base URL (".../api/v3").
	RouteV3 = "/api/v3/{rest...}"
	// RouteNoPrefix is a base URL without "/api" (routed by the
	// deployments_noprefix function: with routePrefix "" the Functions host
	// forwards it instead of answering its own bare 404).
	RouteNoPrefix = "/orgs/{org}/artifacts/{rest...}"
)

// docsArtifactMetadata is the API's documentation.
const docsArtifactMetadata = "https://docs.github.com/rest/orgs/artifact-metadata"

// NoRoute answers a JSON 404 naming the expected base URL.
func (h *Handler) NoRoute(w http.ResponseWriter, r *http.Request) {
	base := BaseURL(r)
	invocation.Logger(r.Context()).Warn("artifact-metadata request matches no route; is the client's base URL right?",
		"method", r.Method, "path", r.URL.Path, "expectedBaseURL", base)
	writeJSON(w, http.StatusNotFound, githubError{
		Message: "Not Found: runtimelink serves GitHub's artifact metadata API with the base URL " + base +
			" (for deployment-tracker: BASE_URL=" + base + "); no route matches " + r.Method + " " + r.URL.Path,
		DocumentationURL: docsArtifactMetadata,
		Status:           "404",
	})
}

// BaseURL is the base URL clients set to reach the API through this
// request's host: https://<host>/api (http only for a local host).
func BaseURL(r *http.Request) string {
	host := r.Host
	if fwd := r.Header.Get("X-Forwarded-Host"); fwd != "" {
		host = strings.TrimSpace(strings.Split(fwd, ",")[0])
	}
	scheme := "https"
	h := strings.Split(host, ":")[0]
	if r.TLS == nil && r.Header.Get("X-Forwarded-Proto") == "" && (h == "localhost" || h == "127.0.0.1") {
		scheme = "http"
	}
	return scheme + "://" + host + "/api"
}
