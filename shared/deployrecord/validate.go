package deployrecord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Documentation URLs GitHub puts in its error answers for these endpoints.
const (
	DocsDeploymentRecord = "https://docs.github.com/rest/orgs/artifact-metadata#create-an-artifact-deployment-record"
	DocsClusterRecords   = "https://docs.github.com/rest/orgs/artifact-metadata#set-cluster-deployment-records"
	DocsStorageRecord    = "https://docs.github.com/rest/orgs/artifact-metadata#create-artifact-metadata-storage-record"
)

// Resource names used in validation errors.
const (
	ResourceDeploymentRecord = "DeploymentRecord"
	ResourceStorageRecord    = "StorageRecord"
)

// Validation error codes, as GitHub uses them.
const (
	CodeMissingField = "missing_field" // a required field is absent
	CodeInvalid      = "invalid"       // present but badly formatted or out of range
)

// FieldError names one invalid field.
type FieldError struct {
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

// ValidationError is GitHub's 422 answer:
// {"message":"Validation Failed","errors":[...],"documentation_url":...,"status":"422"}.
// Encode it as the response body.
type ValidationError struct {
	Message          string       `json:"message"`
	Errors           []FieldError `json:"errors"`
	DocumentationURL string       `json:"documentation_url,omitempty"`
	Status           string       `json:"status"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Field + " " + f.Code
		if f.Message != "" {
			parts[i] += " (" + f.Message + ")"
		}
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// HTTPStatus is the status to answer with: 422 (Unprocessable Entity).
// A number, not net/http's constant: the domain that validates records
// imports no HTTP.
func (e *ValidationError) HTTPStatus() int { return 422 }

// ParseError is GitHub's 400 answer to a body that is not JSON:
// {"message":"Problems parsing JSON","documentation_url":...,"status":"400"}.
type ParseError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url,omitempty"`
	Status           string `json:"status"`
	Err              error  `json:"-"`
}

func (e *ParseError) Error() string   { return "problems parsing JSON: " + e.Err.Error() }
func (e *ParseError) Unwrap() error   { return e.Err }
func (e *ParseError) HTTPStatus() int { return 400 } // Bad Request

// Refusal is GitHub's answer to err from Decode or Validate: the status and
// the body to encode; ok is false for any other error.
func Refusal(err error) (status int, body any, ok bool) {
	var pe *ParseError
	var ve *ValidationError
	switch {
	case errors.As(err, &pe):
		return pe.HTTPStatus(), pe, true
	case errors.As(err, &ve):
		return ve.HTTPStatus(), ve, true
	}
	return 0, nil, false
}

// Decode reads a request body into v (a *DeploymentRecord, *ClusterRequest
// or *StorageRecord): a body that is not a JSON object is a *ParseError; a
// field of the wrong JSON type is a *ValidationError naming it. Unknown
// fields are ignored, as GitHub does. Call Validate afterwards.
func Decode(body []byte, v any, resource, docs string) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return &ParseError{Message: "Problems parsing JSON", DocumentationURL: docs, Status: "400",
			Err: errors.New("body is not a JSON object")}
	}
	err := json.Unmarshal(body, v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && te.Field != "":
		return &ValidationError{
			Message: "Validation Failed",
			Errors: []FieldError{{Resource: resource, Field: te.Field, Code: CodeInvalid,
				Message: fmt.Sprintf("%s must be of type %s, not %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)}},
			DocumentationURL: docs,
			Status:           "422",
		}
	default:
		return &ParseError{Message: "Problems parsing JSON", DocumentationURL: docs, Status: "400", Err: err}
	}
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice":
		return "array"
	case "map", "struct":
		return "object"
	case "bool":
		return "boolean"
	}
	return goKind
}

var (
	digestPattern     = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	repositoryPattern = regexp.MustCompile(`^[A-Za-z0-9.\-_]+$`)
	clusterPattern    = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

// ValidDigest reports whether GitHub accepts digest as an artifact digest
// ("sha256:" and 64 lower-case hex digits).
func ValidDigest(digest string) bool { return digestPattern.MatchString(digest) }

// checker collects field errors in the order fields are checked.
type checker struct {
	resource string
	prefix   string // "deployments[3]." inside a cluster request
	errs     []FieldError
}

func (c *checker) add(field, code, format string, a ...any) {
	c.errs = append(c.errs, FieldError{Resource: c.resource, Field: c.prefix + field, Code: code, Message: fmt.Sprintf(format, a...)})
}

// str checks a string field: required (missing_field when empty), and its
// length in characters. min > 0 only matters for optional fields given empty,
// which the struct cannot tell from absent: those read as absent.
func (c *checker) str(field, v string, required bool, max int) bool {
	if v == "" {
		if required {
			c.add(field, CodeMissingField, "%s is required", c.prefix+field)
		}
		return false
	}
	if n := utf8.RuneCountInString(v); n > max {
		c.add(field, CodeInvalid, "%s is %d characters long, at most %d allowed", c.prefix+field, n, max)
		return false
	}
	return true
}

func (c *checker) digest(v string) {
	if c.str("digest", v, true, 71) && !digestPattern.MatchString(v) {
		c.add("digest", CodeInvalid, "digest must match ^sha256:[a-f0-9]{64}$")
	}
}

func (c *checker) githubRepository(v string) {
	if c.str("github_repository", v, false, 100) && !repositoryPattern.MatchString(v) {
		c.add("github_repository", CodeInvalid, "github_repository must be a repository name (^[A-Za-z0-9.\\-_]+$), without the owner")
	}
}

func (c *checker) status(v string, required bool) {
	if v == "" {
		if required {
			c.add("status", CodeMissingField, "%sstatus is required", c.prefix)
		}
		return
	}
	if v != StatusDeployed && v != StatusDecommissioned {
		c.add("status", CodeInvalid, "status must be one of deployed, decommissioned, not %q", v)
	}
}

// cluster checks a cluster name, the path parameter of the cluster form
// and the field of a single record alike: a name the path form could not
// carry (with "/", "#", "?", "\\" or spaces) is refused in both.
func (c *checker) cluster(v string, required bool) {
	if c.str("cluster", v, required, 128) && !clusterPattern.MatchString(v) {
		c.add("cluster", CodeInvalid, "cluster must match ^[a-zA-Z0-9._-]+$")
	}
}

// Tag limits of the API: at most MaxTags tags, keys and values at most
// MaxTagLength characters.
const (
	MaxTags      = 5
	MaxTagLength = 100
)

// tags checks a deployment's tags against the API's limits, naming each
// offending key (sorted, so the answer is stable).
func (c *checker) tags(tags map[string]string) {
	if len(tags) > MaxTags {
		c.add("tags", CodeInvalid, "%stags has %d properties, at most %d allowed", c.prefix, len(tags), MaxTags)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		shown := k
		if n := utf8.RuneCountInString(k); n > MaxTagLength {
			shown = string([]rune(k)[:20]) + "..."
			c.add("tags", CodeInvalid, "%stags key %q is %d characters long, at most %d allowed", c.prefix, shown, n, MaxTagLength)
		}
		if n := utf8.RuneCountInString(tags[k]); n > MaxTagLength {
			c.add("tags", CodeInvalid, "%stags[%q] is %d characters long, at most %d allowed", c.prefix, shown, n, MaxTagLength)
		}
	}
}

func (c *checker) runtimeRisks(risks []RuntimeRisk) {
	if len(risks) > len(RuntimeRisks) {
		c.add("runtime_risks", CodeInvalid, "runtime_risks has %d items, at most %d allowed", len(risks), len(RuntimeRisks))
	}
	seen := map[RuntimeRisk]bool{}
	for i, r := range risks {
		switch {
		case !r.Valid():
			c.add("runtime_risks", CodeInvalid, "runtime_risks[%d] %q is not one of critical-resource, internet-exposed, lateral-movement, sensitive-data", i, r)
		case seen[r]:
			c.add("runtime_risks", CodeInvalid, "runtime_risks[%d] %q is repeated; items must be unique", i, r)
		}
		seen[r] = true
	}
}

func (c *checker) result(docs string) error {
	if len(c.errs) == 0 {
		return nil
	}
	return &ValidationError{Message: "Validation Failed", Errors: c.errs, DocumentationURL: docs, Status: "422"}
}

// Validate checks a single deployment record as GitHub does; nil or a
// *ValidationError naming every invalid field.
func (r DeploymentRecord) Validate() error {
	c := &checker{resource: ResourceDeploymentRecord}
	c.str("name", r.Name, true, 256)
	c.digest(r.Digest)
	c.str("version", r.Version, false, 100)
	c.status(r.Status, true)
	c.str("logical_environment", r.LogicalEnvironment, true, 128)
	c.str("physical_environment", r.PhysicalEnvironment, false, 128)
	c.cluster(r.Cluster, false)
	c.str("deployment_name", r.DeploymentName, true, 256)
	c.tags(r.Tags)
	c.runtimeRisks(r.RuntimeRisks)
	c.githubRepository(r.GitHubRepository)
	return c.result(DocsDeploymentRecord)
}

// Validate checks a cluster request and its cluster path parameter as GitHub
// does; nil or a *ValidationError naming every invalid field (entries as
// deployments[i].field).
func (r ClusterRequest) Validate(cluster string) error {
	c := &checker{resource: ResourceDeploymentRecord}
	c.cluster(cluster, true)
	c.str("logical_environment", r.LogicalEnvironment, true, 128)
	c.str("physical_environment", r.PhysicalEnvironment, false, 128)
	switch {
	case r.Deployments == nil:
		c.add("deployments", CodeMissingField, "deployments is required")
	case len(r.Deployments) > 1000:
		c.add("deployments", CodeInvalid, "deployments has %d items, at most 1000 allowed", len(r.Deployments))
	}
	names := map[string]int{}
	for i, d := range r.Deployments {
		c.prefix = fmt.Sprintf("deployments[%d].", i)
		c.str("name", d.Name, true, 256)
		c.digest(d.Digest)
		c.str("version", d.Version, false, 100)
		c.status(d.Status, false)
		if c.str("deployment_name", d.DeploymentName, true, 256) {
			if j, dup := names[d.DeploymentName]; dup {
				c.add("deployment_name", CodeInvalid, "deployment_name %q is also deployments[%d]'s; it must be unique", d.DeploymentName, j)
			} else {
				names[d.DeploymentName] = i
			}
		}
		c.githubRepository(d.GitHubRepository)
		c.tags(d.Tags)
		c.runtimeRisks(d.RuntimeRisks)
	}
	return c.result(DocsClusterRecords)
}

// Validate checks a storage record as GitHub does; nil or a *ValidationError.
func (r StorageRecord) Validate() error {
	c := &checker{resource: ResourceStorageRecord}
	c.str("name", r.Name, true, 256)
	c.digest(r.Digest)
	c.str("version", r.Version, false, 100)
	if c.str("artifact_url", r.ArtifactURL, false, 152) && !httpsURL(r.ArtifactURL) {
		c.add("artifact_url", CodeInvalid, "artifact_url must be an https:// URL")
	}
	c.str("path", r.Path, false, 512)
	if c.str("registry_url", r.RegistryURL, true, 256) && !httpsURL(r.RegistryURL) {
		c.add("registry_url", CodeInvalid, "registry_url must be an https:// URL")
	}
	c.str("repository", r.Repository, false, 128)
	switch r.Status {
	case "", StorageActive, StorageEOL, StorageDeleted:
	default:
		c.add("status", CodeInvalid, "status must be one of active, eol, deleted, not %q", r.Status)
	}
	c.githubRepository(r.GitHubRepository)
	return c.result(DocsStorageRecord)
}

func httpsURL(s string) bool {
	if !strings.HasPrefix(s, "https://") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Host != ""
}
