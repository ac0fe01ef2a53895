package model

import "strings"

// CompareFindings orders findings highest first: score, priority, then
// id. Issues, the API and the report list findings in this one order.
func CompareFindings(a, b Finding) int {
	switch {
	case a.Score != b.Score:
		if a.Score > b.Score {
			return -1
		}
		return 1
	case a.Priority.Rank() != b.Priority.Rank():
		return b.Priority.Rank() - a.Priority.Rank()
	}
	return strings.Compare(a.ID, b.ID)
}

// DeploymentName is the deployment_name a workload is reported with to
// GitHub: "namespace/name", or the name alone without a namespace.
func (w *Workload) DeploymentName() string {
	if w.Namespace == "" {
		return w.Name
	}
	return w.Namespace + "/" + w.Name
}
