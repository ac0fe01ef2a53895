package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// A deployment record may name no cluster (the field is optional in
// GitHub's API). Workloads are partitioned by cluster, so such a record gets
// a stand-in cluster key made of this prefix and its environments, which
// GitHub also uses to tell deployments apart; a key with the prefix is
// never sent back as a cluster. Real cluster names cannot contain "~".
const noClusterPrefix = "~"

// clusterKey is the workload partition of a deployment record.
func clusterKey(cluster, logicalEnv, physicalEnv string) string {
	if cluster != "" {
		return cluster
	}
	k := noClusterPrefix + strings.ToLower(logicalEnv)
	if physicalEnv != "" {
		k += noClusterPrefix + strings.ToLower(physicalEnv)
	}
	return k
}

// recordCluster is the cluster to name in a deployment record.
func recordCluster(key string) string {
	if strings.HasPrefix(key, noClusterPrefix) {
		return ""
	}
	return key
}

// splitDeploymentName derives the namespace from a deployment_name in the
// slash form "namespace/name..." (the shape deployment-tracker templates
// such as "{{namespace}}/{{deploymentName}}/{{containerName}}" produce).
// Any other form (GitHub's examples use "-" or plain names) has no namespace
// that can be told apart: the namespace is "" and the name is the whole
// deployment_name. DeploymentName reverses it exactly.
func splitDeploymentName(dn string) (namespace, name string) {
	ns, rest, ok := strings.Cut(dn, "/")
	if !ok || ns == "" || rest == "" {
		return "", dn
	}
	return ns, rest
}

// DeploymentName is the deployment_name a workload was reported with.
func DeploymentName(w *model.Workload) string { return w.DeploymentName() }

// IsProduction reports whether a logical environment is production:
// "production", "prod" or "prd", in any case, after trimming spaces. Every
// other name (staging, dev, prod-eu, ...) is not production; a team that
// names production otherwise sets logical_environment to one of these.
func IsProduction(logicalEnv string) bool {
	switch strings.ToLower(strings.TrimSpace(logicalEnv)) {
	case "production", "prod", "prd":
		return true
	}
	return false
}

// DeploymentRecord is the record pushed to GitHub for a workload: status
// deployed while it runs and decommissioned once gone, with the runtime
// risks merged from every source (deployment record, Defender, attack
// paths). github_repository names the source repository when it belongs to
// the workload's org (GitHub takes a bare repository name).
func DeploymentRecord(w *model.Workload) deployrecord.DeploymentRecord {
	status := deployrecord.StatusDeployed
	if w.Status == model.WorkloadGone {
		status = deployrecord.StatusDecommissioned
	}
	var risks []deployrecord.RuntimeRisk
	for _, f := range mapping.Factors(w.Risks) {
		if r, ok := deployrecord.FromRiskFactor(f); ok {
			risks = append(risks, r)
		}
	}
	noRecords := false
	return deployrecord.DeploymentRecord{
		Name:                w.Image,
		Digest:              w.Digest,
		Version:             w.Version,
		Status:              status,
		LogicalEnvironment:  w.Environment,
		PhysicalEnvironment: w.Region,
		Cluster:             recordCluster(w.Cluster),
		DeploymentName:      DeploymentName(w),
		Tags:                w.Tags,
		RuntimeRisks:        risks,
		GitHubRepository:    repoNameInOrg(w.Repository, w.Org),
		ReturnRecords:       &noRecords,
	}
}

// repoNameInOrg is the name of repository ("owner/name") when owner is org,
// else "".
func repoNameInOrg(repository, org string) string {
	owner, name, ok := strings.Cut(repository, "/")
	if !ok || org == "" || !strings.EqualFold(owner, org) {
		return ""
	}
	return name
}

// acrSuffixes are the login server domains of Azure Container Registry
// (public cloud, Azure China, Azure Government).
var acrSuffixes = []string{".azurecr.io", ".azurecr.cn", ".azurecr.us"}

// IsACR reports whether a registry host is an Azure Container Registry.
func IsACR(registry string) bool {
	r := strings.ToLower(registry)
	for _, s := range acrSuffixes {
		if strings.HasSuffix(r, s) {
			return true
		}
	}
	return false
}

// StorageRecord is the storage record pushed to GitHub for an ACR image,
// and the org it goes to (the owner of its source repository). ok is false
// when there is nothing to push: not an ACR image, or no known source
// repository (the record would have no org to go to).
func StorageRecord(a *model.Artifact) (rec deployrecord.StorageRecord, org string, ok bool) {
	if !IsACR(a.Registry) || a.Repository == "" {
		return deployrecord.StorageRecord{}, "", false
	}
	owner, name, found := strings.Cut(a.Repository, "/")
	if !found {
		return deployrecord.StorageRecord{}, "", false
	}
	status := deployrecord.StorageActive
	if a.Deleted {
		status = deployrecord.StorageDeleted
	}
	noRecords := false
	return deployrecord.StorageRecord{
		Name:             a.Image,
		Digest:           a.Digest,
		Version:          version(a.Tags),
		RegistryURL:      "https://" + strings.ToLower(a.Registry),
		Repository:       strings.TrimPrefix(a.Image, strings.ToLower(a.Registry)+"/"),
		Status:           status,
		GitHubRepository: name,
		ReturnRecords:    &noRecords,
	}, owner, true
}

// version picks the version to report among an image's tags: the highest
// tag other than "latest" in sort order, or none.
func version(tags []string) string {
	ts := slices.Clone(tags)
	slices.Sort(ts)
	for k := len(ts) - 1; k >= 0; k-- {
		if ts[k] != "latest" && ts[k] != "" {
			return ts[k]
		}
	}
	return ""
}

// DeploymentRecordChanged reports whether the deployment record GitHub
// should hold for a workload differs between before and after.
func DeploymentRecordChanged(before, after *model.Workload) bool {
	if before == nil || after == nil {
		return before != after
	}
	return RecordHash(DeploymentRecord(before)) != RecordHash(DeploymentRecord(after))
}

// RecordHash is the hash of a record's JSON (maps encode with sorted keys,
// so equal records hash equal).
func RecordHash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only records of plain strings, maps and slices reach here.
		panic("inventory: hash record: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
