// Package deployrecord holds the wire types of GitHub's artifact metadata API
// — deployment records (single and per cluster) and storage records, requests
// and responses — with GitHub's validation rules, so runtimelink can both
// serve a drop-in of the API and call GitHub's. Field names, enums and limits
// follow the API description (github/rest-api-description, 2022-11-28).
package deployrecord

import (
	"github.com/runtimelink/runtimelink/shared/model"
)

// Deployment record status.
const (
	StatusDeployed       = "deployed"
	StatusDecommissioned = "decommissioned"
)

// Storage record status.
const (
	StorageActive  = "active"
	StorageEOL     = "eol"
	StorageDeleted = "deleted"
)

// RuntimeRisk is a runtime risk as the API spells it.
type RuntimeRisk string

const (
	CriticalResource RuntimeRisk = "critical-resource"
	InternetExposed  RuntimeRisk = "internet-exposed"
	LateralMovement  RuntimeRisk = "lateral-movement"
	SensitiveData    RuntimeRisk = "sensitive-data"
)

// RuntimeRisks lists every runtime risk the API accepts.
var RuntimeRisks = []RuntimeRisk{CriticalResource, InternetExposed, LateralMovement, SensitiveData}

// Valid reports whether the API accepts r.
func (r RuntimeRisk) Valid() bool {
	switch r {
	case CriticalResource, InternetExposed, LateralMovement, SensitiveData:
		return true
	}
	return false
}

// RiskFactor is the domain factor of r (the names are the same by design).
func (r RuntimeRisk) RiskFactor() (model.RiskFactor, bool) {
	if !r.Valid() {
		return "", false
	}
	return model.RiskFactor(r), true
}

// FromRiskFactor is the runtime risk of a domain factor.
func FromRiskFactor(f model.RiskFactor) (RuntimeRisk, bool) {
	r := RuntimeRisk(f)
	return r, r.Valid()
}

// RiskFactors converts runtime risks to domain factors, dropping invalid ones.
func RiskFactors(risks []RuntimeRisk) []model.RiskFactor {
	var out []model.RiskFactor
	for _, r := range risks {
		if f, ok := r.RiskFactor(); ok {
			out = append(out, f)
		}
	}
	return out
}

// DeploymentRecord is the body of
// POST /orgs/{org}/artifacts/metadata/deployment-record.
type DeploymentRecord struct {
	Name                string            `json:"name"`
	Digest              string            `json:"digest"`
	Version             string            `json:"version,omitempty"`
	Status              string            `json:"status"`
	LogicalEnvironment  string            `json:"logical_environment"`
	PhysicalEnvironment string            `json:"physical_environment,omitempty"`
	Cluster             string            `json:"cluster,omitempty"`
	DeploymentName      string            `json:"deployment_name"`
	Tags                map[string]string `json:"tags,omitempty"`
	RuntimeRisks        []RuntimeRisk     `json:"runtime_risks,omitempty"`
	GitHubRepository    string            `json:"github_repository,omitempty"`
	// ReturnRecords: nil means the API default (true).
	ReturnRecords *bool `json:"return_records,omitempty"`
}

// ClusterDeployment is one entry of a cluster request's deployments.
type ClusterDeployment struct {
	Name           string `json:"name"`
	Digest         string `json:"digest"`
	Version        string `json:"version,omitempty"`
	Status         string `json:"status,omitempty"` // default deployed
	DeploymentName string `json:"deployment_name"`
	// GitHubRepository is a repository name within the org (not owner/name).
	GitHubRepository string            `json:"github_repository,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
	RuntimeRisks     []RuntimeRisk     `json:"runtime_risks,omitempty"`
}

// ClusterRequest is the body of
// POST /orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}:
// the full set of deployments of one cluster.
type ClusterRequest struct {
	LogicalEnvironment  string `json:"logical_environment"`
	PhysicalEnvironment string `json:"physical_environment,omitempty"`
	// Deployments is required; an empty list is a valid set (nothing runs).
	Deployments []ClusterDeployment `json:"deployments"`
	// PartialSuccess: nil means the API default (false).
	PartialSuccess *bool `json:"partial_success,omitempty"`
	ReturnRecords  *bool `json:"return_records,omitempty"`
}

// Records expands a cluster request into single records of that cluster,
// with the status defaulted to deployed as the API does.
func (c ClusterRequest) Records(cluster string) []DeploymentRecord {
	out := make([]DeploymentRecord, 0, len(c.Deployments))
	for _, d := range c.Deployments {
		status := d.Status
		if status == "" {
			status = StatusDeployed
		}
		out = append(out, DeploymentRecord{
			Name:                d.Name,
			Digest:              d.Digest,
			Version:             d.Version,
			Status:              status,
			LogicalEnvironment:  c.LogicalEnvironment,
			PhysicalEnvironment: c.PhysicalEnvironment,
			Cluster:             cluster,
			DeploymentName:      d.DeploymentName,
			Tags:                d.Tags,
			RuntimeRisks:        d.RuntimeRisks,
			GitHubRepository:    d.GitHubRepository,
		})
	}
	return out
}

// DeploymentRecordsResponse answers both deployment-record endpoints (200),
// and the cluster endpoint's 207 when partial_success is set (with Errors).
// Only total_count is required by the API; the records are left out when the
// request set return_records to false (or none were stored).
type DeploymentRecordsResponse struct {
	TotalCount        int                `json:"total_count"`
	DeploymentRecords []StoredDeployment `json:"deployment_records,omitempty"`
	Errors            []DeploymentError  `json:"errors,omitempty"`
}

// StoredDeployment is an "Artifact Deployment Record" as the API returns it.
type StoredDeployment struct {
	ID                  int64             `json:"id"`
	Digest              string            `json:"digest"`
	LogicalEnvironment  string            `json:"logical_environment"`
	PhysicalEnvironment string            `json:"physical_environment"`
	Cluster             string            `json:"cluster"`
	DeploymentName      string            `json:"deployment_name"`
	Tags                map[string]string `json:"tags,omitempty"`
	RuntimeRisks        []RuntimeRisk     `json:"runtime_risks,omitempty"`
	CreatedAt           string            `json:"created_at"` // RFC 3339
	UpdatedAt           string            `json:"updated_at"` // RFC 3339
	// AttestationID is the provenance attestation's id; null when none.
	AttestationID *int64 `json:"attestation_id"`
}

// Deployment error causes (207 answers).
const (
	CauseUnauthorized = "unauthorized"
	CauseNotFound     = "not_found"
)

// DeploymentError is one deployment a partial-success cluster request skipped.
type DeploymentError struct {
	Cause      string            `json:"cause"`
	Deployment ClusterDeployment `json:"deployment"`
}

// StorageRecord is the body of
// POST /orgs/{org}/artifacts/metadata/storage-record.
type StorageRecord struct {
	Name    string `json:"name"`
	Digest  string `json:"digest"`
	Version string `json:"version,omitempty"`
	// ArtifactURL and RegistryURL must be https URLs.
	ArtifactURL      string `json:"artifact_url,omitempty"`
	Path             string `json:"path,omitempty"`
	RegistryURL      string `json:"registry_url"`
	Repository       string `json:"repository,omitempty"` // repository within the registry
	Status           string `json:"status,omitempty"`     // default active
	GitHubRepository string `json:"github_repository,omitempty"`
	ReturnRecords    *bool  `json:"return_records,omitempty"`
}

// StorageRecordsResponse answers the storage-record endpoint (200).
type StorageRecordsResponse struct {
	TotalCount     int             `json:"total_count"`
	StorageRecords []StoredStorage `json:"storage_records,omitempty"`
}

// StoredStorage is a storage record as the API returns it.
type StoredStorage struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Digest      string  `json:"digest"`
	ArtifactURL *string `json:"artifact_url"`
	RegistryURL string  `json:"registry_url"`
	Repository  *string `json:"repository"`
	Status      string  `json:"status"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// Cluster job status values: a job is pending until a worker takes it,
// in_progress while its deployments are written, and ends completed or
// failed.
const (
	JobPending    = "pending"
	JobInProgress = "in_progress"
	JobCompleted  = "completed"
	JobFailed     = "failed"
)

// JobResponse answers
// POST /orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}/jobs
// (202): the job's id and the deployments refused at submission.
type JobResponse struct {
	JobID  int64      `json:"job_id"`
	Errors []JobError `json:"errors"`
}

// JobError is one deployment a cluster job left out, by image name.
type JobError struct {
	Name  string `json:"name"`
	Cause string `json:"cause"`
}

// JobStatus answers
// GET /orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}/jobs/{job_id}.
// StartedAt is set once a worker took the job; TotalCount is the number
// of deployment records the job stored.
type JobStatus struct {
	JobID      int64      `json:"job_id"`
	Status     string     `json:"status"`
	StartedAt  string     `json:"started_at,omitempty"`
	TotalCount int        `json:"total_count"`
	Errors     []JobError `json:"errors"`
}

// StorageRecordsList answers
// GET /orgs/{org}/artifacts/{subject_digest}/metadata/storage-records.
type StorageRecordsList struct {
	TotalCount     int             `json:"total_count"`
	StorageRecords []StoredStorage `json:"storage_records"`
}

// DeploymentRecordsList answers
// GET /orgs/{org}/artifacts/{subject_digest}/metadata/deployment-records.
type DeploymentRecordsList struct {
	TotalCount        int                `json:"total_count"`
	DeploymentRecords []StoredDeployment `json:"deployment_records"`
}
