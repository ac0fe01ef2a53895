package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// Cosmos DB ids may not contain '/', '\', '?' or '#'; every id built here is
// made of safe characters and is deterministic, so a create is idempotent.

// GHASFindingID is the id of the finding for one GHAS alert.
func GHASFindingID(source Source, repository string, alertNumber int) string {
	return string(source) + ":" + idPart(repository) + ":" + strconv.Itoa(alertNumber)
}

// ImageCVEFindingID is the id of the finding for one CVE on one image
// (all digests of the image share it).
func ImageCVEFindingID(image, cve string) string {
	return string(SourceDefenderCVE) + ":" + shortHash(strings.ToLower(image)+"|"+strings.ToUpper(cve))
}

// DefenderAlertFindingID is the id of the finding for one Defender alert.
func DefenderAlertFindingID(alertID string) string {
	return string(SourceDefenderAlert) + ":" + shortHash(strings.ToLower(alertID))
}

// ImageGroupID is the group of every CVE of one image built from one repository.
func ImageGroupID(repository, image string) string {
	return ImageGroupPrefix + shortHash(strings.ToLower(repository)+"|"+strings.ToLower(image))
}

// ImageGroupPrefix starts every ImageGroupID.
const ImageGroupPrefix = "image:"

// AlertGroupID is the group of one GHAS alert finding.
func AlertGroupID(findingID string) string { return "alert:" + findingID }

// WorkloadID identifies one workload within its cluster by namespace and
// name. Deployment records are stored under DeploymentWorkloadID; this is
// the id they had before (inventory moves such a document to its new id
// on the deployment's next record) and the id of fixtures in tests.
func WorkloadID(cluster, namespace, name string) string {
	return idPart(cluster) + ":" + idPart(namespace) + ":" + idPart(name)
}

// DeploymentWorkloadID identifies the workload of a deployment record as
// GitHub's artifact-metadata API identifies the record: one per org (case
// folded: GitHub org names are not case sensitive), logical environment,
// physical environment, cluster and deployment_name, each taken exactly as
// posted. The id is a hash of the five, so it is injective for every
// practical purpose (no escaping can make "team/svc:x" and "team:svc/x"
// meet), fits Cosmos DB's id rules and length whatever the names hold,
// and is the same for the same five.
func DeploymentWorkloadID(org, logicalEnv, physicalEnv, cluster, deploymentName string) string {
	b, _ := json.Marshal([]string{strings.ToLower(org), logicalEnv, physicalEnv, cluster, deploymentName})
	sum := sha256.Sum256(b)
	return "dr-" + hex.EncodeToString(sum[:16])
}

// LegacyIDMark is in every WorkloadID (its separator) and in no
// DeploymentWorkloadID, so a query can tell the two apart.
const LegacyIDMark = ":"

// ClusterJobDocID is the id of a cluster job's document.
func ClusterJobDocID(jobID int64) string { return "job-" + strconv.FormatInt(jobID, 10) }

// ClusterJobPartID is the id of part k of a cluster job's deployments.
func ClusterJobPartID(jobID int64, k int) string {
	return ClusterJobDocID(jobID) + "-part-" + strconv.Itoa(k)
}

// ClusterJobSlotID is the id of the slot of one org (case folded),
// cluster and environment pair: at most one active job per slot.
func ClusterJobSlotID(org, cluster, logicalEnv, physicalEnv string) string {
	b, _ := json.Marshal([]string{strings.ToLower(org), cluster, logicalEnv, physicalEnv})
	sum := sha256.Sum256(b)
	return "slot-" + hex.EncodeToString(sum[:16])
}

// InstallationDocID is the id of the installation document of an org.
func InstallationDocID(org string) string { return idPart(strings.ToLower(org)) }

var idReplacer = strings.NewReplacer("/", ":", "\\", "_", "?", "_", "#", "_")

func idPart(s string) string { return idReplacer.Replace(s) }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

// IssueRepository is where the group's issue lives: its repository of
// origin, or the one a person transferred it to (the recorded issue URL
// names it).
func (g *Group) IssueRepository() string {
	if r := RepositoryOfIssueURL(g.Synced.IssueURL); r != "" {
		return r
	}
	return g.Repository
}

// RepositoryOfIssueURL reads "owner/name" from an issue's html_url
// ("https://github.com/owner/name/issues/7"; GHES: any host), "" when it
// is not one.
func RepositoryOfIssueURL(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 5 || parts[3] != "issues" || parts[1] == "" || parts[2] == "" {
		return ""
	}
	return parts[1] + "/" + parts[2]
}
