package model

import (
	"crypto/sha256"
	"encoding/hex"
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
	return "image:" + shortHash(strings.ToLower(repository)+"|"+strings.ToLower(image))
}

// AlertGroupID is the group of one GHAS alert finding.
func AlertGroupID(findingID string) string { return "alert:" + findingID }

// WorkloadID identifies one workload within its cluster.
func WorkloadID(cluster, namespace, name string) string {
	return idPart(cluster) + ":" + idPart(namespace) + ":" + idPart(name)
}

// InstallationDocID is the id of the installation document of an org.
func InstallationDocID(org string) string { return idPart(strings.ToLower(org)) }

var idReplacer = strings.NewReplacer("/", ":", "\\", "_", "?", "_", "#", "_")

func idPart(s string) string { return idReplacer.Replace(s) }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}
