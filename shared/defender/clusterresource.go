package defender

import (
	"errors"
	"fmt"
	"strings"
)

// ClustersQuery is the Resource Graph query that lists the Kubernetes
// clusters in scope (AKS and Arc-connected) with their ARM tags: the
// Defender export records and attack paths name a cluster but never carry
// its tags, so a rule that calls a cluster production by tag (env=prod)
// reads them here. ParseClusterResource reads one row of its answer.
const ClustersQuery = `resources | where type in~ ("microsoft.containerservice/managedclusters", "microsoft.kubernetes/connectedclusters") | project id, name, type, tags`

// ClusterResource is one Kubernetes cluster as Resource Graph lists it.
type ClusterResource struct {
	Name       string            // lower case
	ResourceID string            // lower case
	Tags       map[string]string // ARM tags as given; nil when none
}

// ParseClusterResource reads one row of the ClustersQuery answer. Tags
// may be missing or null (none); a tag whose value is not a string is
// kept as its JSON text.
func ParseClusterResource(row []byte) (ClusterResource, error) {
	var m map[string]any
	if err := decodeJSON(row, &m); err != nil {
		return ClusterResource{}, fmt.Errorf("cluster row: %w", err)
	}
	f := fields(m)
	id := strings.ToLower(f.str("id"))
	name, cid, ok := ClusterOf(id)
	if !ok {
		if id == "" {
			return ClusterResource{}, errors.New("cluster row has no id")
		}
		return ClusterResource{}, fmt.Errorf("cluster row %s is not an AKS or Arc cluster", id)
	}
	c := ClusterResource{Name: name, ResourceID: cid}
	for k, v := range f.obj("tags") {
		if c.Tags == nil {
			c.Tags = map[string]string{}
		}
		switch t := v.(type) {
		case string:
			c.Tags[k] = t
		case nil:
			c.Tags[k] = ""
		default:
			c.Tags[k] = fmt.Sprint(t)
		}
	}
	return c, nil
}
