// Package model holds runtimelink's domain records: the documents kept in
// Cosmos DB (one type per container) and the values passed between ingest,
// mapping, scoring and sync. It imports no adapter.
package model

import (
	"encoding/json"
	"strings"
	"time"
)

// Container names and their partition key paths, as fixed by DESIGN.md.
const (
	ContainerArtifacts     = "artifacts"     // partition /digest
	ContainerWorkloads     = "workloads"     // partition /cluster
	ContainerFindings      = "findings"      // partition /repository
	ContainerGroups        = "groups"        // partition /repository
	ContainerDeliveries    = "deliveries"    // partition /id
	ContainerInstallations = "installations" // partition /org
	ContainerLeases        = "leases"        // partition /id (run leases, e.g. reprioritize)
	ContainerJobs          = "jobs"          // partition /id (async cluster deployment-record jobs; expire)
	ContainerClusters      = "clusters"      // partition /id (Defender's risk of a cluster, kept for workloads not seen yet)
)

// Meta is embedded in every stored document. The store fills it on read and
// ignores it when computing the content hash.
type Meta struct {
	ETag string `json:"_etag,omitempty"`
	TS   int64  `json:"_ts,omitempty"`
	// ContentHash is the hash of the document's content (Meta excluded), set
	// by the store on write so unchanged content is never written twice.
	ContentHash string `json:"contentHash,omitempty"`
}

// StoreMeta gives the store access to the embedded Meta.
func (m *Meta) StoreMeta() *Meta { return m }

// Finding sources.
type Source string

const (
	SourceCodeScanning   Source = "code_scanning"
	SourceDependabot     Source = "dependabot"
	SourceSecretScanning Source = "secret_scanning"
	SourceDefenderCVE    Source = "defender_cve"   // container image CVE (sub-assessment)
	SourceDefenderAlert  Source = "defender_alert" // Defender security alert
)

// FindingState is the lifecycle state of one finding.
type FindingState string

const (
	StateOpen      FindingState = "open"
	StateFixed     FindingState = "fixed"     // the source says it is fixed
	StateDismissed FindingState = "dismissed" // dismissed / closed by a user, with a reason
	StateResolved  FindingState = "resolved"  // resolved (secret scanning, Defender healthy / deleted)
)

// ReasonWorkloadGone is the StateReason of an image CVE that runtime
// resolved itself: the last workload running its image is gone, so the
// vulnerable image runs nowhere any more (its SourceUpdatedAt says since
// when). It is active again as soon as a workload runs the image.
const ReasonWorkloadGone = "workload-gone"

// Active reports whether the finding still needs work.
func (s FindingState) Active() bool { return s == StateOpen || s == "" }

// UnmappedRepository is the partition for findings (Defender image CVEs)
// whose image has no known source repository yet.
const UnmappedRepository = "~unmapped"

// Location says where in the code a finding lives.
type Location struct {
	Path       string `json:"path,omitempty"`      // code scanning / secret scanning file
	StartLine  int    `json:"startLine,omitempty"` // 1-based
	EndLine    int    `json:"endLine,omitempty"`
	Manifest   string `json:"manifest,omitempty"`   // Dependabot manifest path
	Dockerfile string `json:"dockerfile,omitempty"` // image CVEs: Dockerfile path when known
	Ref        string `json:"ref,omitempty"`
	Commit     string `json:"commit,omitempty"`
}

// Package is the vulnerable dependency of a CVE finding.
type Package struct {
	Ecosystem       string `json:"ecosystem,omitempty"`
	Name            string `json:"name,omitempty"`
	Version         string `json:"version,omitempty"`
	VulnerableRange string `json:"vulnerableRange,omitempty"`
	FixedVersion    string `json:"fixedVersion,omitempty"`
	Scope           string `json:"scope,omitempty"` // runtime / development
}

// Exploitability as reported by the source.
type Exploitability struct {
	KnownExploited bool    `json:"knownExploited,omitempty"`
	ExploitKit     bool    `json:"exploitKit,omitempty"`
	PublicExploit  bool    `json:"publicExploit,omitempty"`
	EPSS           float64 `json:"epss,omitempty"` // probability 0..1 (GitHub gives a percentage; normalise)
}

// Finding is one normalized finding: one GHAS alert, or one CVE on one image.
type Finding struct {
	Meta
	ID         string       `json:"id"`         // deterministic, see FindingID helpers
	Repository string       `json:"repository"` // "owner/name" or UnmappedRepository; partition key
	Source     Source       `json:"source"`
	State      FindingState `json:"state"`
	// StateReason is the dismissal/resolution reason given by the source.
	StateReason string `json:"stateReason,omitempty"`
	// SourceUpdatedAt is the source's own time of the state above (alert
	// updated_at, Defender timeGenerated); an older event never overwrites it.
	SourceUpdatedAt time.Time `json:"sourceUpdatedAt"`

	AlertNumber int    `json:"alertNumber,omitempty"` // GHAS alert number
	AlertURL    string `json:"alertUrl,omitempty"`    // html_url of the alert
	RuleID      string `json:"ruleId,omitempty"`      // code scanning rule, secret type, Defender assessment key
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Tool        string `json:"tool,omitempty"`

	CVE     string   `json:"cve,omitempty"`
	GHSA    string   `json:"ghsa,omitempty"`
	Aliases []string `json:"aliases,omitempty"` // every CVE/GHSA id that names the same vulnerability

	Severity string         `json:"severity,omitempty"` // critical, high, medium, low (lower case)
	CVSS     *float64       `json:"cvss,omitempty"`     // CVSS v3 base score when known
	Exploit  Exploitability `json:"exploitability,omitempty"`

	Location Location `json:"location,omitempty"`
	Package  *Package `json:"package,omitempty"`

	// Image CVEs: the image and digest the CVE was found on.
	Image   string   `json:"image,omitempty"`   // normalized image name without tag/digest
	Digests []string `json:"digests,omitempty"` // sha256:...

	// Defender record ids this finding rests on (sub-assessment / assessment / alert ids).
	DefenderIDs []string `json:"defenderIds,omitempty"`

	// Resource is the running resource a Defender alert is about (a
	// cluster, node, pod or workload); such a finding is running by
	// definition and scored in that resource's environment. Cluster is
	// its cluster name (lower case), top level for queries.
	Resource *Resource `json:"resource,omitempty"`
	Cluster  string    `json:"cluster,omitempty"`

	// Secret scanning.
	SecretType string `json:"secretType,omitempty"`
	Validity   string `json:"validity,omitempty"`

	// Scoring output (written by the scoring step).
	Score       float64     `json:"score"`
	Priority    Priority    `json:"priority,omitempty"`
	Explanation Explanation `json:"explanation,omitempty"`
	// Runtime context of the last scoring, kept for filters: whether a
	// running workload runs the code, and the risk factors that counted.
	Deployed     bool         `json:"deployed"`
	RuntimeRisks []RiskFactor `json:"runtimeRisks,omitempty"`
	// Related are the ids of findings in the same repository that name the
	// same vulnerability from the other side (a Dependabot alert and a
	// Defender CVE on an image built from the repository): one story.
	Related []string `json:"related,omitempty"`

	GroupID string `json:"groupId,omitempty"`

	FirstSeen time.Time `json:"firstSeen"`
}

// Priority bands.
type Priority string

const (
	PriorityCritical Priority = "Critical"
	PriorityHigh     Priority = "High"
	PriorityMedium   Priority = "Medium"
	PriorityLow      Priority = "Low"
)

// Rank orders priorities: Critical 4 … Low 1, unknown 0.
func (p Priority) Rank() int {
	switch p {
	case PriorityCritical:
		return 4
	case PriorityHigh:
		return 3
	case PriorityMedium:
		return 2
	case PriorityLow:
		return 1
	}
	return 0
}

// ParsePriority reads a band in any casing ("high" is High).
func ParsePriority(s string) (Priority, bool) {
	for _, p := range []Priority{PriorityCritical, PriorityHigh, PriorityMedium, PriorityLow} {
		if strings.EqualFold(s, string(p)) {
			return p, true
		}
	}
	return "", false
}

// Explanation is how a score came to be: every factor with its contribution.
type Explanation struct {
	Factors []Factor `json:"factors"`
	Capped  bool     `json:"capped,omitempty"`
}

// Factor is one term of a score.
type Factor struct {
	Name string `json:"name"` // base, deployment, internet-exposed, ..., exploitability, epss
	// Op is how the factor applies: "=" (base), "x" (multiplier) or "+" (addend).
	Op           string  `json:"op"`
	Value        float64 `json:"value"`
	Contribution float64 `json:"contribution"`     // change of the score this factor caused
	Source       string  `json:"source,omitempty"` // which workload / Defender record / alert field
}

// RiskFactor names, as GitHub's artifact metadata API spells them.
type RiskFactor string

const (
	RiskInternetExposed  RiskFactor = "internet-exposed"
	RiskSensitiveData    RiskFactor = "sensitive-data"
	RiskCriticalResource RiskFactor = "critical-resource"
	RiskLateralMovement  RiskFactor = "lateral-movement"
)

// RiskFactors lists every known factor in a stable order.
var RiskFactors = []RiskFactor{RiskCriticalResource, RiskInternetExposed, RiskLateralMovement, RiskSensitiveData}

// Risk is one runtime risk factor of a workload and where it came from.
type Risk struct {
	Factor RiskFactor `json:"factor"`
	// Source: "deployment-record", "defender-assessment:<assessment id>",
	// "attack-path:<attack path id>".
	Source string `json:"source"`
	// SourceName is the source's display name when it has one (an attack
	// path's displayName), for explanations people read.
	SourceName string `json:"sourceName,omitempty"`
}

// Cited is how an explanation cites the risk's source: the source, then
// its display name in curly quotes (“…”, which a name cannot contain), so
// a reader sees what the attack path is and the id still links to it.
func (r Risk) Cited() string {
	name := strings.Join(strings.Fields(strings.NewReplacer("“", "", "”", "").Replace(r.SourceName)), " ")
	if name == "" || r.Source == "" {
		return r.Source
	}
	return r.Source + " “" + name + "”"
}

// Resource kinds (Resource.Kind).
const (
	ResourceCluster  = "cluster"
	ResourceNode     = "node"
	ResourcePod      = "pod"
	ResourceWorkload = "workload"
)

// Resource is a running Kubernetes resource a finding is about.
type Resource struct {
	Kind       string `json:"kind"`                 // ResourceCluster, ResourceNode, ResourcePod, ResourceWorkload
	Cluster    string `json:"cluster"`              // cluster name, lower case
	ResourceID string `json:"resourceId,omitempty"` // ARM id of the cluster, lower case
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"` // pod, workload, service or node name
}

// Cluster is what Defender says of one Kubernetes cluster as a whole,
// kept apart from its workloads so it applies to workloads reported
// later, in any order: cluster-wide risks (assessments on the cluster,
// attack paths whose entity is the cluster) and the risks of attack paths
// that name a workload or image of the cluster not seen yet.
type Cluster struct {
	Meta
	ID         string `json:"id"`                   // cluster name, lower case; partition key
	ResourceID string `json:"resourceId,omitempty"` // ARM id, lower case
	// Risks hold for every workload of the cluster and for the cluster itself.
	Risks []Risk `json:"risks,omitempty"`
	// Targeted are risks of attack paths that name one workload or image.
	Targeted []TargetedRisk `json:"targeted,omitempty"`
	// SnapshotStart is when the latest weekly Defender snapshot naming
	// the cluster began arriving; Reported, per assessment risk source,
	// when it last said so (a snapshot's SnapshotStart, a streaming
	// record's time). A source a complete later snapshot left out expires.
	// Tags are the cluster's ARM tags as Resource Graph lists them, for
	// the rule that calls a cluster production by tag.
	Tags          map[string]string    `json:"tags,omitempty"`
	SnapshotStart time.Time            `json:"snapshotStart,omitzero"`
	Reported      map[string]time.Time `json:"reported,omitempty"`
}

// TargetedRisk is a risk an attack path gives to the workloads its entity
// names: by namespace and name (a pod or workload), or by image.
type TargetedRisk struct {
	Risk
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Image     string `json:"image,omitempty"`  // normalized image name
	Entity    string `json:"entity,omitempty"` // the path's entity, as Defender names it
}

// WorkloadStatus of a workload.
type WorkloadStatus string

const (
	WorkloadRunning WorkloadStatus = "running"
	WorkloadGone    WorkloadStatus = "gone"
)

// WorkloadChange is one workload as it was (Before, nil when it is new)
// and as it is (After, nil when it was deleted).
type WorkloadChange struct{ Before, After *Workload }

// Workload is one deployed container workload (cluster/namespace/name).
type Workload struct {
	Meta
	ID          string            `json:"id"`      // WorkloadID(cluster, namespace, name)
	Cluster     string            `json:"cluster"` // partition key
	Namespace   string            `json:"namespace,omitempty"`
	Name        string            `json:"name"` // deployment_name
	Container   string            `json:"container,omitempty"`
	Org         string            `json:"org,omitempty"`
	Image       string            `json:"image"` // normalized image name
	Digest      string            `json:"digest"`
	Version     string            `json:"version,omitempty"`
	Environment string            `json:"environment,omitempty"` // logical environment
	Production  bool              `json:"production"`
	Region      string            `json:"region,omitempty"`     // physical environment
	ResourceID  string            `json:"resourceId,omitempty"` // Azure resource id of the cluster when known
	Risks       []Risk            `json:"risks,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Repository  string            `json:"repository,omitempty"` // "owner/name" when the digest maps
	Status      WorkloadStatus    `json:"status"`
	FirstSeen   time.Time         `json:"firstSeen"`
	LastSeen    time.Time         `json:"lastSeen"`
	// DeploymentRecordHash is the hash of the deployment record last pushed
	// to GitHub for this workload (sync pushes only when it changes).
	DeploymentRecordHash string `json:"deploymentRecordHash,omitempty"`
}

// EvidenceKind ranks how we know which code built an image (strongest first).
type EvidenceKind string

const (
	EvidenceAttestation      EvidenceKind = "attestation"
	EvidenceGitHubPackage    EvidenceKind = "github-package" // registry_package / package / workflow_run
	EvidenceOCILabels        EvidenceKind = "oci-labels"     // ACR push + org.opencontainers.image.source/revision
	EvidenceDeploymentRecord EvidenceKind = "deployment-record"
)

// Strength orders evidence kinds: higher is stronger.
func (k EvidenceKind) Strength() int {
	switch k {
	case EvidenceAttestation:
		return 4
	case EvidenceGitHubPackage:
		return 3
	case EvidenceOCILabels:
		return 2
	case EvidenceDeploymentRecord:
		return 1
	}
	return 0
}

// Evidence is one piece of evidence that a digest was built from a repository.
type Evidence struct {
	Kind       EvidenceKind `json:"kind"`
	Repository string       `json:"repository,omitempty"` // owner/name
	Commit     string       `json:"commit,omitempty"`
	Workflow   string       `json:"workflow,omitempty"`
	RunID      int64        `json:"runId,omitempty"`
	Ref        string       `json:"ref,omitempty"` // delivery id, event id, attestation url...
	At         time.Time    `json:"at"`
}

// Artifact is one image digest and everything known about it.
type Artifact struct {
	Meta
	ID                string     `json:"id"`     // = Digest
	Digest            string     `json:"digest"` // partition key, "sha256:..."
	Registry          string     `json:"registry,omitempty"`
	Image             string     `json:"image,omitempty"` // normalized name: registry/repository
	Tags              []string   `json:"tags,omitempty"`
	Repository        string     `json:"repository,omitempty"` // resolved by the strongest evidence
	Commit            string     `json:"commit,omitempty"`
	Dockerfile        string     `json:"dockerfile,omitempty"`
	Evidence          []Evidence `json:"evidence,omitempty"`
	Deleted           bool       `json:"deleted,omitempty"`           // ImageDeleted seen
	StorageRecordHash string     `json:"storageRecordHash,omitempty"` // last storage record pushed to GitHub
	// StorageRecords are the storage records posted to runtimelink's
	// artifact-metadata API for this digest (one per org, registry URL and
	// repository, as GitHub keeps them).
	StorageRecords []StorageRecord `json:"storageRecords,omitempty"`
}

// StorageRecord is one posted storage record of an artifact.
type StorageRecord struct {
	Org              string    `json:"org"`
	Name             string    `json:"name"`
	Version          string    `json:"version,omitempty"`
	ArtifactURL      string    `json:"artifactUrl,omitempty"`
	Path             string    `json:"path,omitempty"`
	RegistryURL      string    `json:"registryUrl"`
	Repository       string    `json:"repository,omitempty"`
	Status           string    `json:"status"`
	GitHubRepository string    `json:"githubRepository,omitempty"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// GroupStatus is the remediation status of a finding group.
type GroupStatus string

const (
	GroupActive       GroupStatus = "active"
	GroupFixClaimed   GroupStatus = "fix-claimed"
	GroupRiskAccepted GroupStatus = "risk-accepted"
	GroupResolved     GroupStatus = "resolved"
)

// Group kinds (Group.Kind).
const (
	GroupKindImage = "image" // every CVE of one image built from the repository
	GroupKindAlert = "alert" // one GHAS (or Defender) alert
)

// Group is one finding group = one GitHub issue.
type Group struct {
	Meta
	ID         string      `json:"id"`
	Repository string      `json:"repository"` // partition key
	Kind       string      `json:"kind"`       // "image" (CVEs of one image) or "alert" (one GHAS alert)
	Image      string      `json:"image,omitempty"`
	FindingIDs []string    `json:"findingIds"`
	Status     GroupStatus `json:"status"`
	StatusAt   time.Time   `json:"statusAt"`
	// Owners are the CODEOWNERS owners of the group's affected path, as
	// written ("@user", "@org/team"), resolved by the sync step: users are
	// assigned, teams mentioned in the body.
	Owners []string `json:"owners,omitempty"`

	Desired DesiredIssue `json:"desired"`
	Synced  SyncedIssue  `json:"synced"`

	// Governance is the group's side in Defender for Cloud: the governance
	// assignments on its assessments (nil when it has none or governance
	// is off).
	Governance *GroupGovernance `json:"governance,omitempty"`
}

// DesiredIssue is what the GitHub issue of a group should look like.
type DesiredIssue struct {
	Open      bool     `json:"open"`
	Title     string   `json:"title"`
	Body      string   `json:"body" textcap:"-"` // bounded by remediation.RenderIssue (GitHub's 65,536)
	BodyHash  string   `json:"bodyHash"`
	Labels    []string `json:"labels"`
	Assignees []string `json:"assignees"`
	Priority  Priority `json:"priority"`
	Hash      string   `json:"hash"` // hash of the whole desired state
}

// SyncedIssue is what was last written to GitHub: the issue as runtimelink
// left it. The sync step plans against it instead of reading the issue
// back, so a group already in step costs no call (remediation.Recorded).
type SyncedIssue struct {
	IssueNumber int      `json:"issueNumber,omitempty"`
	IssueURL    string   `json:"issueUrl,omitempty"`
	State       string   `json:"state,omitempty"`       // open / closed
	StateReason string   `json:"stateReason,omitempty"` // completed / not_planned / reopened
	Hash        string   `json:"hash,omitempty"`        // DesiredIssue.Hash last applied
	Title       string   `json:"title,omitempty"`
	BodyHash    string   `json:"bodyHash,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	// Assignees are the assignees runtimelink set; people may add others.
	Assignees []string `json:"assignees,omitempty"`
	// Unassignable are owners runtimelink wanted that the issue does not
	// have: GitHub dropped them (not a collaborator) or a person removed
	// them. They are not asked for again, so a sync in step makes no call.
	Unassignable []string `json:"unassignable,omitempty"`
	// Notes are the keys of the one-time comments already posted.
	Notes []string  `json:"notes,omitempty"`
	At    time.Time `json:"at"`
}

// Delivery records a processed webhook delivery (redelivery dedupe).
type Delivery struct {
	Meta
	ID    string    `json:"id"` // X-GitHub-Delivery; partition key
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	TTL   int       `json:"ttl,omitempty"` // seconds; Cosmos per-item TTL
}

// Redelivery is what the redeliver function asked GitHub to redeliver for
// one webhook delivery guid (deliveries container, id RedeliveryID(guid),
// expiring with the deliveries): the record that keeps a later run, or a
// concurrent one, from asking twice.
type Redelivery struct {
	Meta
	ID       string              `json:"id"` // RedeliveryID(GUID); partition key
	GUID     string              `json:"guid"`
	Event    string              `json:"event,omitempty"`
	Attempts []RedeliveryAttempt `json:"attempts"`
	TTL      int                 `json:"ttl,omitempty"` // seconds; Cosmos per-item TTL
}

// RedeliveryAttempt is one POST .../deliveries/{id}/attempts: the failed
// delivery it redelivers and whether GitHub accepted the request.
type RedeliveryAttempt struct {
	DeliveryID int64     `json:"deliveryId"`
	At         time.Time `json:"at"`
	// Error is why GitHub did not accept it; "" when it answered 202.
	Error string `json:"error,omitempty"`
}

// RedeliveryID is the document id of a guid's Redelivery; it cannot be a
// delivery guid, so it never reads as a processed delivery.
func RedeliveryID(guid string) string { return "redelivery:" + guid }

// Watermark is how far a job that reads a log has read (leases container,
// id the job's name): the time of the newest entry it has dealt with.
type Watermark struct {
	Meta
	ID      string    `json:"id"` // partition key
	Through time.Time `json:"through"`
}

// InstallationStatus of a GitHub App installation.
type InstallationStatus string

const (
	InstallationActive    InstallationStatus = "active"
	InstallationSuspended InstallationStatus = "suspended"
	InstallationDeleted   InstallationStatus = "deleted"
)

// Installation is the GitHub App installation for one org (or user account).
type Installation struct {
	Meta
	ID                  string             `json:"id"`  // org login, lower case
	Org                 string             `json:"org"` // partition key (login as GitHub spells it)
	InstallationID      int64              `json:"installationId"`
	AccountType         string             `json:"accountType,omitempty"` // Organization / User
	Status              InstallationStatus `json:"status"`
	RepositorySelection string             `json:"repositorySelection,omitempty"` // all / selected
	Repositories        []string           `json:"repositories,omitempty"`        // full names when selected
	Permissions         map[string]string  `json:"permissions,omitempty"`
	Events              []string           `json:"events,omitempty"`
	UpdatedAt           time.Time          `json:"updatedAt"`
	// Backfill progress: per source, the cursor to resume from; empty when done.
	Backfill map[string]string `json:"backfill,omitempty"`
}

// Lease is a run lease (one instance of a singleton job at a time).
type Lease struct {
	Meta
	ID      string    `json:"id"` // job name; partition key
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
	// Cursor lets a job that stopped at its time budget resume.
	Cursor string `json:"cursor,omitempty"`
}

// WriteBudget is an installation's record of the content-creating GitHub
// calls runtimelink made in the last hour, shared by every instance so
// together they stay inside GitHub's secondary limits (leases container,
// id WriteBudgetID(org)).
type WriteBudget struct {
	Meta
	ID  string `json:"id"` // partition key
	Org string `json:"org"`
	// Writes are the times of the calls reserved, oldest first, within
	// the longest window.
	Writes []time.Time `json:"writes"`
	// Searches are the times of the issue searches reserved (the search
	// API has its own limit), oldest first, within the last minute.
	Searches []time.Time `json:"searches,omitempty"`
}

// WriteBudgetID is the id of an org's write budget.
func WriteBudgetID(org string) string { return "github-writes:" + InstallationDocID(org) }

// ClusterJob is one async cluster deployment-record job (POST
// .../deployment-record/cluster/{cluster}/jobs): the request's
// environments, how its deployments were stored in parts, and its status
// as the job-status endpoint answers it.
type ClusterJob struct {
	Meta
	ID                  string            `json:"id"` // ClusterJobDocID(JobID); partition key
	JobID               int64             `json:"jobId"`
	Org                 string            `json:"org"`
	Cluster             string            `json:"cluster"`
	LogicalEnvironment  string            `json:"logicalEnvironment"`
	PhysicalEnvironment string            `json:"physicalEnvironment,omitempty"`
	Parts               int               `json:"parts"`     // ClusterJobPart documents holding the deployments
	Submitted           int               `json:"submitted"` // deployments in the request
	Status              string            `json:"status"`    // pending, in_progress, completed, failed
	TotalCount          int               `json:"totalCount"`
	Errors              []ClusterJobError `json:"errors,omitempty"`
	Attempts            int               `json:"attempts,omitempty"`
	CreatedAt           time.Time         `json:"createdAt"`
	StartedAt           time.Time         `json:"startedAt,omitzero"`
	UpdatedAt           time.Time         `json:"updatedAt"`
}

// ClusterJobError is one deployment a job left out, by image name.
type ClusterJobError struct {
	Name  string `json:"name"`
	Cause string `json:"cause"`
}

// ClusterJobPart holds some of a job's deployments, as posted (JSON).
type ClusterJobPart struct {
	Meta
	ID          string          `json:"id"` // ClusterJobPartID(JobID, k); partition key
	JobID       int64           `json:"jobId"`
	Deployments json.RawMessage `json:"deployments"`
}

// ClusterJobSlot says which job last held one org, cluster and environment
// pair: a new job for the pair is refused while that one is active.
type ClusterJobSlot struct {
	Meta
	ID    string    `json:"id"` // ClusterJobSlotID(...); partition key
	JobID int64     `json:"jobId"`
	Since time.Time `json:"since"`
}
