package alerts

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// PublishedImage is a container image version published to GitHub Packages
// (GHCR), decoded from a registry_package or package event: build evidence
// that the digest came from the repository.
type PublishedImage struct {
	Event  string
	Action string // published, updated
	// Repository is the repository the package is linked to, as GitHub says
	// (payload repository.full_name); "" when the package is not linked.
	Repository string
	Registry   string   // "ghcr.io"
	Image      string   // normalized name without tag or digest: "ghcr.io/owner/name"
	Digest     string   // "sha256:<64 hex>"
	Tags       []string // sorted, without duplicates
	// Commit is the commit the image was built from when the image says so
	// (OCI label org.opencontainers.image.revision, else the version's
	// target_oid when that is a commit id).
	Commit string
	// SourceRepository is "owner/name" from the OCI label
	// org.opencontainers.image.source: what the image claims, weaker than
	// Repository.
	SourceRepository string
	URL              string // html_url of the package version
	InstallationID   int64
	At               time.Time // version created/updated time, else when received
}

// Evidence is the github-package evidence for the image's digest; ok is
// false when the package is linked to no repository.
func (p PublishedImage) Evidence(ref string) (model.Evidence, bool) {
	if p.Repository == "" {
		return model.Evidence{}, false
	}
	return model.Evidence{
		Kind:       model.EvidenceGitHubPackage,
		Repository: p.Repository,
		Commit:     p.Commit,
		Ref:        ref,
		At:         p.At,
	}, true
}

var packageActions = map[string]stateRule{"published": {}, "updated": {}}

type packagePayload struct {
	envelope
	RegistryPackage *ghPackage `json:"registry_package"`
	Package         *ghPackage `json:"package"`
}

type ghPackage struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	Ecosystem   string `json:"ecosystem"`
	PackageType string `json:"package_type"`
	Owner       *struct {
		Login string `json:"login"`
	} `json:"owner"`
	Registry *struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"registry"`
	PackageVersion *struct {
		Version           string          `json:"version"`
		Name              string          `json:"name"`
		HTMLURL           string          `json:"html_url"`
		TargetOID         string          `json:"target_oid"`
		CreatedAt         *time.Time      `json:"created_at"`
		UpdatedAt         *time.Time      `json:"updated_at"`
		Metadata          json.RawMessage `json:"metadata"`
		PackageURL        string          `json:"package_url"`
		ContainerMetadata *struct {
			Tag *struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
			Labels *struct {
				Source    string         `json:"source"`
				Revision  string         `json:"revision"`
				AllLabels map[string]any `json:"all_labels"`
			} `json:"labels"`
			Manifest *struct {
				Digest string `json:"digest"`
			} `json:"manifest"`
		} `json:"container_metadata"`
	} `json:"package_version"`
}

func (p *ghPackage) isContainer() bool {
	kinds := []string{p.PackageType, p.Ecosystem}
	if p.Registry != nil {
		kinds = append(kinds, p.Registry.Type)
	}
	for _, k := range kinds {
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "container", "docker":
			return true
		}
	}
	return false
}

// DecodeRegistryPackage decodes a registry_package event. go-github v62 has
// no type for it; this is the payload as GitHub sends it.
func DecodeRegistryPackage(payload []byte, received time.Time) (PublishedImage, error) {
	return decodePackage(EventRegistryPackage, payload, received)
}

// DecodePackage decodes a package event (the older name of the same event).
func DecodePackage(payload []byte, received time.Time) (PublishedImage, error) {
	return decodePackage(EventPackage, payload, received)
}

var (
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	commitRe = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)
)

// ValidDigest reports whether s is a full "sha256:<64 hex>" image digest
// (lower case, as registries print them).
func ValidDigest(s string) bool { return digestRe.MatchString(s) }

func decodePackage(event string, payload []byte, received time.Time) (PublishedImage, error) {
	var p packagePayload
	if _, err := decodeEvent(event, payload, &p, packageActions); err != nil {
		return PublishedImage{}, err
	}
	pkg := p.RegistryPackage
	if event == EventPackage {
		pkg = p.Package
	}
	switch {
	case pkg == nil:
		return PublishedImage{}, malformed(event, "the package object is missing")
	case !pkg.isContainer():
		return PublishedImage{}, fmt.Errorf("%s: %w (package_type %q, ecosystem %q)", event, ErrNotContainer, pkg.PackageType, pkg.Ecosystem)
	case pkg.PackageVersion == nil:
		return PublishedImage{}, malformed(event, "package_version is missing")
	}
	v := pkg.PackageVersion

	img := PublishedImage{
		Event:      event,
		Action:     p.Action,
		Repository: p.repository(),
		URL:        v.HTMLURL,
		At:         latest(received, v.CreatedAt, v.UpdatedAt),
	}
	if p.Installation != nil {
		img.InstallationID = p.Installation.ID
	}

	var tagName, tagDigest, manifestDigest, labelRevision, labelSource string
	var allLabels map[string]any
	if cm := v.ContainerMetadata; cm != nil {
		if cm.Tag != nil {
			tagName, tagDigest = cm.Tag.Name, cm.Tag.Digest
		}
		if cm.Manifest != nil {
			manifestDigest = cm.Manifest.Digest
		}
		if cm.Labels != nil {
			labelRevision, labelSource, allLabels = cm.Labels.Revision, cm.Labels.Source, cm.Labels.AllLabels
		}
	}
	// The version's name is the manifest digest for container packages; the
	// container metadata repeats it when it is filled in.
	for _, d := range []string{v.Name, v.Version, tagDigest, manifestDigest} {
		if d = strings.ToLower(strings.TrimSpace(d)); ValidDigest(d) {
			img.Digest = d
			break
		}
	}
	if img.Digest == "" {
		return PublishedImage{}, malformed(event, "no sha256 image digest in package_version")
	}

	name, urlTag := splitImageRef(v.PackageURL)
	if name == "" {
		name = imageFromPackage(pkg)
	}
	img.Image = strings.ToLower(name)
	if i := strings.IndexByte(img.Image, '/'); i > 0 {
		img.Registry = img.Image[:i]
	}
	if img.Image == "" {
		return PublishedImage{}, malformed(event, "cannot tell the image name")
	}

	tags := map[string]bool{}
	for _, t := range append([]string{tagName, urlTag}, metadataTags(v.Metadata)...) {
		if t = strings.TrimSpace(t); t != "" && !strings.HasPrefix(t, "sha256:") {
			tags[t] = true
		}
	}
	for t := range tags {
		img.Tags = append(img.Tags, t)
	}
	sort.Strings(img.Tags)

	digestHex := strings.TrimPrefix(img.Digest, "sha256:")
	for _, c := range []string{labelRevision, labelString(allLabels, "org.opencontainers.image.revision"), v.TargetOID} {
		if c = strings.ToLower(strings.TrimSpace(c)); commitRe.MatchString(c) && c != digestHex {
			img.Commit = c
			break
		}
	}
	img.SourceRepository = repositoryFromURL(FirstNonBlank(labelSource, labelString(allLabels, "org.opencontainers.image.source")))
	return img, nil
}

// splitImageRef splits "ghcr.io/owner/name:tag" or "...@sha256:..." into the
// name and the tag.
func splitImageRef(ref string) (name, tag string) {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref, tag = ref[:i], ref[i+1:]
	}
	// A full name starts with a registry host ("ghcr.io", "localhost:5000").
	host, _, found := strings.Cut(ref, "/")
	if !found || (!strings.ContainsAny(host, ".:") && host != "localhost") {
		return "", ""
	}
	return ref, tag
}

// imageFromPackage builds host/owner/name when the version has no
// package_url. The container registry of github.com is ghcr.io whatever
// registry.url says (payloads show "https://CONTAINER.pkg.github.com/owner").
func imageFromPackage(p *ghPackage) string {
	host := "ghcr.io"
	if p.Registry != nil {
		if u, err := url.Parse(p.Registry.URL); err == nil && u.Host != "" && !strings.HasSuffix(strings.ToLower(u.Host), "pkg.github.com") {
			host = u.Host
		}
	}
	owner := strings.TrimSpace(p.Namespace)
	if owner == "" || strings.Contains(owner, "/") {
		if p.Owner != nil && p.Owner.Login != "" {
			owner = p.Owner.Login
		} else if i := strings.IndexByte(owner, '/'); i > 0 {
			owner = owner[:i]
		}
	}
	name := strings.Trim(strings.TrimSpace(p.Name), "/")
	if owner == "" || name == "" {
		return ""
	}
	return host + "/" + owner + "/" + name
}

// metadataTags reads tags from package_version.metadata when it is the REST
// shape {"container": {"tags": [...]}}; webhooks often send an empty array.
func metadataTags(raw json.RawMessage) []string {
	var m struct {
		Container struct {
			Tags []string `json:"tags"`
		} `json:"container"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m.Container.Tags
}

func labelString(labels map[string]any, key string) string {
	s, _ := labels[key].(string)
	return s
}

// repositoryFromURL turns "https://github.com/owner/name(.git)" into
// "owner/name"; anything else gives "".
func repositoryFromURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return parts[0] + "/" + strings.TrimSuffix(parts[1], ".git")
}

// WorkflowRun is a GitHub Actions run, decoded from a workflow_run event:
// which commit of which repository a build ran on.
type WorkflowRun struct {
	Action         string // requested, in_progress, completed
	Repository     string // owner/name the run belongs to
	HeadRepository string // owner/name of the head commit (differs for forks)
	HeadSHA        string
	HeadBranch     string
	Workflow       string // workflow name
	WorkflowPath   string // ".github/workflows/build.yml"
	RunID          int64
	RunNumber      int
	RunAttempt     int
	TriggerEvent   string // push, pull_request, ...
	Status         string
	Conclusion     string // success, failure, ... ("" until completed)
	URL            string
	InstallationID int64
	At             time.Time // run updated_at, else when received
}

// Succeeded reports a completed, successful run.
func (w WorkflowRun) Succeeded() bool {
	return w.Status == "completed" && w.Conclusion == "success"
}

// Evidence is the github-package evidence this run gives for what it built.
// The workflow is named by its path, the way attestations name it.
func (w WorkflowRun) Evidence(ref string) model.Evidence {
	return model.Evidence{
		Kind:       model.EvidenceGitHubPackage,
		Repository: w.Repository,
		Commit:     w.HeadSHA,
		Workflow:   FirstNonBlank(w.WorkflowPath, w.Workflow),
		RunID:      w.RunID,
		Ref:        ref,
		At:         w.At,
	}
}

var workflowRunActions = map[string]stateRule{"requested": {}, "in_progress": {}, "completed": {}}

type workflowRunPayload struct {
	envelope
	Workflow *struct {
		Name string `json:"name"`
		Path string `json:"path"`
	} `json:"workflow"`
	WorkflowRun *struct {
		ID             int64      `json:"id"`
		Name           string     `json:"name"`
		Path           string     `json:"path"`
		HeadSHA        string     `json:"head_sha"`
		HeadBranch     string     `json:"head_branch"`
		RunNumber      int        `json:"run_number"`
		RunAttempt     int        `json:"run_attempt"`
		Event          string     `json:"event"`
		Status         string     `json:"status"`
		Conclusion     *string    `json:"conclusion"`
		HTMLURL        string     `json:"html_url"`
		UpdatedAt      *time.Time `json:"updated_at"`
		HeadRepository *struct {
			FullName string `json:"full_name"`
		} `json:"head_repository"`
		Repository *struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	} `json:"workflow_run"`
}

// DecodeWorkflowRun decodes a workflow_run event.
func DecodeWorkflowRun(payload []byte, received time.Time) (WorkflowRun, error) {
	const event = EventWorkflowRun
	var p workflowRunPayload
	if _, err := decodeEvent(event, payload, &p, workflowRunActions); err != nil {
		return WorkflowRun{}, err
	}
	r := p.WorkflowRun
	if r == nil {
		return WorkflowRun{}, malformed(event, "workflow_run is missing")
	}
	w := WorkflowRun{
		Action:       p.Action,
		Repository:   p.repository(),
		HeadSHA:      strings.ToLower(strings.TrimSpace(r.HeadSHA)),
		HeadBranch:   r.HeadBranch,
		Workflow:     r.Name,
		WorkflowPath: r.Path,
		RunID:        r.ID,
		RunNumber:    r.RunNumber,
		RunAttempt:   r.RunAttempt,
		TriggerEvent: r.Event,
		Status:       r.Status,
		URL:          r.HTMLURL,
		At:           latest(received, r.UpdatedAt),
	}
	if r.Conclusion != nil {
		w.Conclusion = *r.Conclusion
	}
	if w.Repository == "" && r.Repository != nil {
		w.Repository = r.Repository.FullName
	}
	if r.HeadRepository != nil {
		w.HeadRepository = r.HeadRepository.FullName
	}
	if p.Workflow != nil {
		w.Workflow = FirstNonBlank(w.Workflow, p.Workflow.Name)
		w.WorkflowPath = FirstNonBlank(w.WorkflowPath, p.Workflow.Path)
	}
	if p.Installation != nil {
		w.InstallationID = p.Installation.ID
	}
	switch {
	case w.Repository == "":
		return WorkflowRun{}, malformed(event, "repository.full_name is missing")
	case w.RunID <= 0:
		return WorkflowRun{}, malformed(event, "workflow_run.id is missing")
	case !commitRe.MatchString(w.HeadSHA):
		return WorkflowRun{}, malformed(event, "workflow_run.head_sha %q is not a commit id", w.HeadSHA)
	}
	return w, nil
}
