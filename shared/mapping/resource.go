package mapping

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// ClusterRule names production clusters by their name (a configurable
// regular expression, RUNTIMELINK_PRODUCTION_CLUSTERS) or by their ARM
// tags (key=value pairs, RUNTIMELINK_PRODUCTION_CLUSTER_TAGS); the zero
// rule names none.
type ClusterRule struct {
	re   *regexp.Regexp
	tags [][2]string // lower-case key and value; any one matching names the cluster
}

// NewClusterRule compiles a rule; "" is the rule that names no cluster.
// The match is case-insensitive and over the whole name unless the
// expression says otherwise.
func NewClusterRule(expr string) (ClusterRule, error) {
	if strings.TrimSpace(expr) == "" {
		return ClusterRule{}, nil
	}
	re, err := regexp.Compile("(?i)" + expr)
	if err != nil {
		return ClusterRule{}, err
	}
	return ClusterRule{re: re}, nil
}

// WithTags is the rule that also names a cluster production when one of
// its ARM tags is one of spec's pairs: "env=prod,environment=production"
// (keys and values case-insensitive, compared whole; "" adds none).
func (r ClusterRule) WithTags(spec string) (ClusterRule, error) {
	r.tags = nil
	for _, pair := range strings.Split(spec, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return ClusterRule{}, fmt.Errorf("has %q, which is not a tag key=value", pair)
		}
		r.tags = append(r.tags, [2]string{strings.ToLower(k), strings.ToLower(v)})
	}
	return r, nil
}

// Matches reports whether the rule names cluster as production by name.
func (r ClusterRule) Matches(cluster string) bool { return r.re != nil && r.re.MatchString(cluster) }

// MatchesTags reports which of the rule's tags a cluster's ARM tags carry
// ("env=prod"), "" when none.
func (r ClusterRule) MatchesTags(tags map[string]string) string {
	for _, t := range r.tags {
		for k, v := range tags {
			if strings.ToLower(strings.TrimSpace(k)) == t[0] && strings.ToLower(strings.TrimSpace(v)) == t[1] {
				return k + "=" + v
			}
		}
	}
	return ""
}

// String is the rule's expression ("" when off).
func (r ClusterRule) String() string {
	if r.re == nil {
		return ""
	}
	return strings.TrimPrefix(r.re.String(), "(?i)")
}

// TagsString is the rule's tag pairs ("" when none).
func (r ClusterRule) TagsString() string {
	parts := make([]string, len(r.tags))
	for i, t := range r.tags {
		parts[i] = t[0] + "=" + t[1]
	}
	return strings.Join(parts, ",")
}

// ClusterProduction says whether a cluster is production and why: it runs
// a production workload (one of workloads, the cluster's running ones), or
// the rule names it by name or by one of its ARM tags (c's, when known).
func ClusterProduction(cluster string, c *model.Cluster, workloads []model.Workload, rule ClusterRule) (bool, string) {
	for i := range workloads {
		w := &workloads[i]
		if w.Production && w.Status != model.WorkloadGone && strings.EqualFold(w.Cluster, cluster) {
			return true, "runs production workload " + w.Name
		}
	}
	if rule.Matches(cluster) {
		return true, "named production by rule " + rule.String()
	}
	if c != nil {
		if tag := rule.MatchesTags(c.Tags); tag != "" {
			return true, "tagged production: " + tag
		}
	}
	return false, ""
}

// ResourceWorkloads is the runtime context of a finding about a running
// resource: the running workloads of its cluster the resource names (a
// pod or workload, by namespace and name), each in its own environment and
// with its own risks; when it names none of them (the cluster itself, a
// node, kube-system, a service no deployment record reports), the
// resource itself as a running workload of the cluster's environment,
// carrying the cluster-wide risks of c and the attack-path risks aimed at
// it. clusterWorkloads are the cluster's running workloads; c may be nil.
func ResourceWorkloads(r model.Resource, c *model.Cluster, clusterWorkloads []model.Workload, rule ClusterRule) []model.Workload {
	cluster := strings.ToLower(r.Cluster)
	if cluster == "" {
		return nil
	}
	var out []model.Workload
	if r.Name != "" && (r.Kind == model.ResourcePod || r.Kind == model.ResourceWorkload) {
		for i := range clusterWorkloads {
			w := &clusterWorkloads[i]
			if w.Status != model.WorkloadGone && strings.EqualFold(w.Cluster, cluster) && MatchesWorkload(w, r.Namespace, r.Name) {
				out = append(out, *w)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	prod, _ := ClusterProduction(cluster, c, clusterWorkloads, rule)
	name := r.Name
	if name == "" {
		name = "(" + r.Kind + ")"
	}
	self := model.Workload{
		ID:         model.WorkloadID(cluster, r.Namespace, name),
		Cluster:    cluster,
		Namespace:  r.Namespace,
		Name:       name,
		Production: prod,
		Status:     model.WorkloadRunning,
		ResourceID: r.ResourceID,
	}
	if prod {
		self.Environment = "production"
	}
	if c != nil {
		self.Risks = MergeRisks(c.Risks, TargetedRisks(c.Targeted, &self))
	}
	return []model.Workload{self}
}

// TargetedRisks are the risks of targets that aim at w: by namespace and
// name, or by image.
func TargetedRisks(targets []model.TargetedRisk, w *model.Workload) []model.Risk {
	var out []model.Risk
	for _, t := range targets {
		if TargetMatches(t, w) {
			out = append(out, t.Risk)
		}
	}
	return out
}

// TargetMatches reports whether an attack-path target names w.
func TargetMatches(t model.TargetedRisk, w *model.Workload) bool {
	if t.Image != "" {
		return w.Image != "" && imageKey(w.Image) == imageKey(t.Image)
	}
	return t.Name != "" && MatchesWorkload(w, t.Namespace, t.Name)
}

// MatchesWorkload reports whether a Kubernetes namespace and name (a
// workload, or a pod whose name carries its ReplicaSet and pod suffixes)
// name workload w. A workload reported with a namespace matches on both;
// one whose deployment_name had no namespace ("shop-checkout-api-api",
// the namespace-name-container form) matches its name, or its name
// prefixed by the namespace, optionally followed by one container name.
func MatchesWorkload(w *model.Workload, namespace, name string) bool {
	ns, n := strings.ToLower(namespace), strings.ToLower(name)
	if n == "" {
		return false
	}
	wns, wn := strings.ToLower(w.Namespace), strings.ToLower(w.Name)
	for _, cand := range podNames(n) {
		if wns != "" {
			if (ns == "" || ns == wns) && (wn == cand || strings.HasPrefix(wn, cand+"/")) {
				return true
			}
			continue
		}
		if wn == cand || strings.HasPrefix(wn, cand+"/") {
			return true
		}
		if ns == "" {
			continue
		}
		for _, sep := range []string{"-", "/"} {
			full := ns + sep + cand
			if wn == full {
				return true
			}
			if rest, ok := strings.CutPrefix(wn, full+sep); ok && rest != "" && !strings.Contains(rest, sep) {
				return true // one container name after it
			}
		}
	}
	return false
}

// podNames is a name and, when it looks like a pod's, the workload name
// without the pod suffixes: "checkout-api-7c9d8f6b5-x2kqz" → also
// "checkout-api" (Deployment) and "checkout-api-7c9d8f6b5" (ReplicaSet).
func podNames(n string) []string {
	out := []string{n}
	base, last, ok := cutLast(n)
	if !ok || len(last) != 5 || !alnum(last) {
		return out
	}
	out = append(out, base)
	if b2, hash, ok := cutLast(base); ok && len(hash) >= 5 && len(hash) <= 10 && alnum(hash) {
		out = append(out, b2)
	}
	return out
}

func cutLast(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i == len(s)-1 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !alnumLower(s[i]) {
			return false
		}
	}
	return true
}

// OwnerLabel names, for people, where a finding belongs: its repository;
// for a finding about a cluster's own resources that no repository builds
// (kube-system, the dashboard), its cluster, with the fallback team that
// owns such findings (RUNTIMELINK_CLUSTER_FINDINGS_TEAM, "org/team") or
// owners unknown, not "unmapped" as if it were orphaned.
func OwnerLabel(f *model.Finding, team string) string {
	if f.Cluster != "" && (f.Repository == "" || f.Repository == model.UnmappedRepository) {
		return "cluster " + f.Cluster + " (" + ClusterOwner(team) + ")"
	}
	return f.Repository
}

// ClusterOwner says who owns the findings about a cluster no repository
// builds: the fallback team, else "owners unknown".
func ClusterOwner(team string) string {
	if team == "" {
		return "owners unknown"
	}
	return "owner @" + team
}

// ClusterFinding reports whether a finding is about a cluster's own
// resource that no repository builds: a Defender alert naming no image.
func ClusterFinding(f *model.Finding) bool {
	return f.Resource != nil && f.Image == "" && len(f.Digests) == 0
}
