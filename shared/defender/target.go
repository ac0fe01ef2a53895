package defender

import (
	"cmp"
	"strings"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Target kinds: what an attack path entity points at.
const (
	TargetCluster  = "cluster"  // the cluster itself: every workload of it
	TargetWorkload = "workload" // a pod or workload, by namespace and name
	TargetImage    = "image"    // a container image, by name
)

// Target is one runtime thing an attack path's entity names.
type Target struct {
	Kind string
	// Cluster is the cluster's name, lower case, and ClusterResourceID its
	// ARM id, when the entity names one (an image entity may not).
	Cluster           string
	ClusterResourceID string
	Namespace, Name   string // TargetWorkload
	Image             string // TargetImage: normalized image name
	Entity            string // the entity as Defender names it (internal id, else name)
}

// Targets lists what the path's entities name at runtime, so its risk
// goes where the path points: a Kubernetes pod or workload entity names
// that workload (its internal id reads "<cluster>/<namespace>/<name>"; its
// resource id is the cluster's), a container image entity an image, a
// cluster entity the whole cluster. Entities of other kinds (storage
// accounts, identities, VMs) name no workload and are left out.
func (p AttackPath) Targets() []Target {
	var out []Target
	for _, e := range p.Entities {
		t, ok := entityTarget(e)
		if !ok {
			continue
		}
		dup := false
		for _, o := range out {
			if o == t {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

func entityTarget(e Entity) (Target, bool) {
	typ := strings.ToLower(e.Type)
	cluster := clusterName(e.ResourceID)
	t := Target{Cluster: cluster, Entity: cmp.Or(e.InternalID, e.Name)}
	if cluster != "" {
		t.ClusterResourceID = clusterResourceID(e.ResourceID)
	}
	switch {
	case strings.Contains(typ, "image"):
		name := cmp.Or(e.Name, e.InternalID)
		ref, err := mapping.ParseImageRef(name)
		if err != nil || name == "" {
			return Target{}, false
		}
		t.Kind, t.Image = TargetImage, ref.Name()
		return t, true
	case strings.Contains(typ, "pod") || strings.Contains(typ, "workload") || strings.Contains(typ, "deployment") ||
		strings.Contains(typ, "daemonset") || strings.Contains(typ, "statefulset") ||
		(strings.Contains(typ, "container") && !strings.Contains(typ, "registry") && !strings.Contains(typ, "service")):
		t.Kind = TargetWorkload
		// "<cluster>/<namespace>/<name>": the internal id Defender gives
		// Kubernetes entities.
		if parts := strings.Split(e.InternalID, "/"); len(parts) == 3 && parts[1] != "" && parts[2] != "" {
			if t.Cluster == "" {
				t.Cluster = strings.ToLower(parts[0])
			}
			t.Namespace, t.Name = parts[1], parts[2]
		} else {
			t.Name = cmp.Or(e.Name, e.InternalID)
		}
		if t.Cluster == "" || t.Name == "" {
			return Target{}, false
		}
		return t, true
	case strings.Contains(typ, "cluster") || (typ == "" && cluster != "" && clusterResourceID(e.ResourceID) == strings.ToLower(e.ResourceID)):
		if cluster == "" {
			cluster = strings.ToLower(cmp.Or(e.Name, e.InternalID))
			t.Cluster = cluster
		}
		if cluster == "" {
			return Target{}, false
		}
		t.Kind = TargetCluster
		return t, true
	}
	return Target{}, false
}

var clusterSegments = []string{"/providers/microsoft.containerservice/managedclusters/", "/providers/microsoft.kubernetes/connectedclusters/"}

// clusterName is the cluster name in an AKS or Arc cluster resource id
// (lower case), or "".
func clusterName(resourceID string) string {
	id := strings.ToLower(resourceID)
	for _, seg := range clusterSegments {
		if k := strings.Index(id, seg); k >= 0 {
			name, _, _ := strings.Cut(id[k+len(seg):], "/")
			return name
		}
	}
	return ""
}

// clusterResourceID is the cluster's own resource id within resourceID (lower
// case), or "".
func clusterResourceID(resourceID string) string {
	id := strings.ToLower(resourceID)
	for _, seg := range clusterSegments {
		if k := strings.Index(id, seg); k >= 0 {
			name, _, _ := strings.Cut(id[k+len(seg):], "/")
			if name == "" {
				return ""
			}
			return id[:k+len(seg)] + name
		}
	}
	return ""
}

// ClusterOf names the Kubernetes cluster an Azure resource id is in (AKS
// or Arc), lower case, with the cluster's own resource id; ok is false for
// any other resource.
func ClusterOf(resourceID string) (name, id string, ok bool) {
	name = clusterName(resourceID)
	if name == "" {
		return "", "", false
	}
	return name, clusterResourceID(resourceID), true
}

// Resource is the running Kubernetes resource an alert is about: a pod
// (extended property Pod), a workload or service, a node, else the
// cluster its resource ids name. nil when it names no cluster.
func (a *Alert) Resource() *model.Resource {
	var r *model.Resource
	for _, id := range a.ResourceIDs {
		if name, cid, ok := ClusterOf(id); ok {
			r = &model.Resource{Kind: model.ResourceCluster, Cluster: name, ResourceID: cid}
			break
		}
	}
	if r == nil {
		return nil
	}
	ext := fields(make(map[string]any, len(a.ExtendedProperties)))
	for k, v := range a.ExtendedProperties {
		ext[k] = v
	}
	r.Namespace = a.Namespace
	switch {
	case a.Pod != "":
		r.Kind, r.Name = model.ResourcePod, a.Pod
	case ext.str("Workload", "Deployment", "Workload name", "Service", "Service name") != "":
		r.Kind, r.Name = model.ResourceWorkload, ext.str("Workload", "Deployment", "Workload name", "Service", "Service name")
	case ext.str("Node", "Node name", "Host", "Machine name") != "":
		r.Kind, r.Name = model.ResourceNode, ext.str("Node", "Node name", "Host", "Machine name")
	}
	return r
}
