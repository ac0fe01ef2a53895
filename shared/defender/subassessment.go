package defender

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Format of a container vulnerability sub-assessment.
type Format string

const (
	// FormatMDVM: Defender Vulnerability Management (additionalData with
	// vulnerabilityDetails, artifactDetails, softwareDetails).
	FormatMDVM Format = "mdvm"
	// FormatLegacy: the older ContainerRegistryVulnerability shape
	// (additionalData.cve[], cvss, imageDigest, repositoryName).
	FormatLegacy Format = "legacy"
)

// SubAssessment is one container image vulnerability sub-assessment.
type SubAssessment struct {
	ID            string // ARM id of the sub-assessment
	AssessmentID  string // ARM id of the parent assessment
	AssessmentKey string // the parent assessment's key
	// VulnerabilityID is properties.id: the CVE id (MDVM) or the scanner's
	// own id, e.g. a Qualys QID (legacy).
	VulnerabilityID      string
	DisplayName          string
	Description          string
	Remediation          string
	Status               StatusCode // empty only on a Delete record that carried none
	Severity             string     // lower case
	TimeGenerated        time.Time
	ResourceID           string // the assessed resource (registry or cluster), ARM id
	Resource             ResourceDetails
	Format               Format // empty only on a Delete record without additionalData
	AssessedResourceType string
	// CVEs: one entry per CVE id. An MDVM record names one CVE. A legacy
	// record may name several in additionalData.cve[]: each becomes an entry
	// sharing the record's image, score and status. A legacy record naming no
	// CVE (scanner-only id) has none; VulnerabilityID still identifies it.
	CVEs []CVE
}

// CVE is one CVE found on one image, normalized from either format.
type CVE struct {
	ID         string   // CVE-2023-44487 (upper case)
	Title      string   // the sub-assessment's display name
	Severity   string   // lower case: critical, high, medium, low
	CVSS       *float64 // CVSS v3 base score; nil when unknown
	CVSSVector string
	// Exploit: MDVM's exploitStepsVerified reads as KnownExploited,
	// isInExploitKit as ExploitKit, exploitStepsPublished as PublicExploit.
	// The legacy format carries no exploitability.
	Exploit model.Exploitability

	// Registry is the registry host the record names (octoacr.azurecr.io);
	// the legacy format names none: the consumer derives it from
	// ResourceID in its configured cloud (mapping.Cloud.ACRLoginServer),
	// since the id alone cannot tell azurecr.io from azurecr.us.
	Registry   string
	Repository string   // image repository within the registry
	Digest     string   // sha256:...
	Tags       []string // MDVM only
	PushedAt   time.Time

	Package   model.Package // MDVM only (legacy names no package)
	FixStatus string        // FixAvailable, NoFixAvailable, ...; legacy: from patchable

	PublishedAt time.Time
	References  []string

	Status          StatusCode
	SubAssessmentID string
	AssessmentID    string
	TimeGenerated   time.Time
	ResourceID      string
}

var cveIDPattern = regexp.MustCompile(`(?i)^CVE-\d{4}-\d{4,}$`)

func parseSubAssessment(f fields, action Action) (*SubAssessment, error) {
	id := f.str("id", "Id", "subAssessmentId")
	if id == "" {
		return nil, malformed("sub-assessment has no id")
	}
	p := f.obj("properties")
	flat := p == nil
	if flat {
		p = f
	}
	s := &SubAssessment{
		ID:            id,
		DisplayName:   p.str("displayName"),
		Description:   p.str("description"),
		Remediation:   p.str("remediation"),
		TimeGenerated: zeroIfBefore1971(p.time("timeGenerated")),
		Resource:      parseResourceDetails(p.obj("resourceDetails")),
	}
	if !flat {
		// In a flat record "id" is the ARM id; the vulnerability id is lost.
		s.VulnerabilityID = p.str("id")
	}
	s.AssessmentID, s.AssessmentKey = parentAssessment(id)
	s.ResourceID = cmp.Or(armScope(id), armID(s.Resource.ID))

	st := p.obj("status")
	status, err := statusOf(st, "sub-assessment "+id)
	if err != nil {
		return nil, err
	}
	s.Status = status
	if status == "" && action != ActionDelete {
		return nil, malformed("sub-assessment %s has no status code", id)
	}
	s.Severity = normalizeSeverity(st.str("severity"))

	ad := p.obj("additionalData")
	s.AssessedResourceType = ad.str("assessedResourceType")
	switch {
	case ad == nil && action == ActionDelete:
		// A deletion may carry only the id; that is enough to resolve.
		return s, nil
	case ad.has("vulnerabilityDetails", "artifactDetails"):
		s.Format = FormatMDVM
		c, err := mdvmCVE(s, ad)
		switch {
		case err == nil:
			s.CVEs = []CVE{c}
		case action != ActionDelete:
			// A deletion resolves by the sub-assessment id; an incomplete
			// body does not stop it.
			return nil, err
		}
	case strings.EqualFold(s.AssessedResourceType, "ContainerRegistryVulnerability") ||
		(s.AssessedResourceType == "" && ad.has("imageDigest")):
		s.Format = FormatLegacy
		cves, err := legacyCVEs(s, ad)
		if err != nil && action != ActionDelete {
			return nil, err
		}
		s.CVEs = cves
	default:
		what := s.AssessedResourceType
		if what == "" {
			what = "no assessedResourceType"
		}
		return nil, fmt.Errorf("%w: sub-assessment (%s) is not a container image vulnerability", ErrUnknownType, what)
	}
	return s, nil
}

func mdvmCVE(s *SubAssessment, ad fields) (CVE, error) {
	vd := ad.obj("vulnerabilityDetails")
	art := ad.obj("artifactDetails")
	sw := ad.obj("softwareDetails")

	c := s.baseCVE()
	c.ID = strings.ToUpper(cmp.Or(vd.str("cveId"), cveLike(s.VulnerabilityID), cveLike(s.DisplayName)))
	if c.ID == "" {
		return CVE{}, malformed("sub-assessment %s: MDVM record names no CVE (vulnerabilityDetails.cveId)", s.ID)
	}
	if sev := normalizeSeverity(vd.str("severity")); sev != "" {
		c.Severity = sev
	}
	c.CVSS, c.CVSSVector = cvss3(vd.obj("cvss"))
	if c.CVSS == nil {
		c.CVSS = ad.num("cvssV30Score", "cvssV3Score")
	}
	ex := vd.obj("exploitabilityAssessment")
	c.Exploit = model.Exploitability{
		KnownExploited: ex.boolean("exploitStepsVerified"),
		ExploitKit:     ex.boolean("isInExploitKit"),
		PublicExploit:  ex.boolean("exploitStepsPublished"),
	}
	c.PublishedAt = zeroIfBefore1971(vd.time("publishedDate"))
	c.References = links(vd.list("references"))

	c.Registry = strings.ToLower(art.str("registryHost", "repositoryHost"))
	c.Repository = art.str("repositoryName")
	c.Digest = strings.ToLower(art.str("digest"))
	c.Tags = art.strs("tags")
	c.PushedAt = zeroIfBefore1971(art.time("lastPushedToRegistryUTC", "lastPublishedToRegistryUTC"))
	if c.Digest == "" {
		// The pseudo resource id names the image: /repositories/<repo>/images/<digest>.
		img := imageFromResourceID(s.Resource.ID)
		c.Repository, c.Digest = cmp.Or(c.Repository, img.repo), img.digest
	}
	if c.Digest == "" {
		return CVE{}, malformed("sub-assessment %s: MDVM record names no image digest (artifactDetails.digest)", s.ID)
	}

	osd := sw.obj("osDetails")
	c.Package = model.Package{
		Ecosystem:    strings.ToLower(cmp.Or(sw.str("language"), osd.str("osName"), osd.str("osVersion"))),
		Name:         sw.str("packageName"),
		Version:      sw.str("version"),
		FixedVersion: sw.str("fixedVersion"),
	}
	c.FixStatus = sw.str("fixStatus")
	return c, nil
}

func legacyCVEs(s *SubAssessment, ad fields) ([]CVE, error) {
	base := s.baseCVE()
	base.Digest = strings.ToLower(ad.str("imageDigest"))
	base.Repository = ad.str("repositoryName")
	base.Registry = strings.ToLower(ad.str("registryHost"))
	if base.Digest == "" {
		img := imageFromResourceID(s.Resource.ID)
		base.Repository, base.Digest = cmp.Or(base.Repository, img.repo), img.digest
	}
	if base.Digest == "" {
		return nil, malformed("sub-assessment %s: legacy record names no image digest (additionalData.imageDigest)", s.ID)
	}
	base.CVSS, base.CVSSVector = cvss3(ad.obj("cvss"))
	base.PublishedAt = zeroIfBefore1971(ad.time("publishedTime"))
	if ad.has("patchable") {
		base.FixStatus = "NoFixAvailable"
		if ad.boolean("patchable") {
			base.FixStatus = "FixAvailable"
		}
	}
	base.References = links(ad.list("vendorReferences"))

	var out []CVE
	seen := map[string]bool{}
	for _, v := range ad.list("cve") {
		e := asFields(v)
		id := strings.ToUpper(cmp.Or(e.str("title", "id", "cveId"), asString(v)))
		if !cveIDPattern.MatchString(id) || seen[id] {
			continue
		}
		seen[id] = true
		c := base
		c.ID = id
		c.Tags = nil
		if l := e.str("link"); l != "" {
			c.References = append([]string{l}, base.References...)
		}
		out = append(out, c)
	}
	return out, nil
}

// baseCVE fills what every CVE of the sub-assessment shares.
func (s *SubAssessment) baseCVE() CVE {
	return CVE{
		Title:           s.DisplayName,
		Severity:        s.Severity,
		Status:          s.Status,
		SubAssessmentID: s.ID,
		AssessmentID:    s.AssessmentID,
		TimeGenerated:   s.TimeGenerated,
		ResourceID:      s.ResourceID,
	}
}

// cvss3 picks the CVSS v3 base score from a {"<version>": {"base": n}} map,
// preferring the newest 3.x version.
func cvss3(m fields) (*float64, string) {
	var (
		best    *float64
		vector  string
		bestVer string
	)
	for ver, v := range m {
		if !strings.HasPrefix(ver, "3") {
			continue
		}
		e := asFields(v)
		n := e.num("base", "baseScore")
		if n == nil || (best != nil && ver <= bestVer) {
			continue
		}
		best, bestVer, vector = n, ver, e.str("cvssVectorString", "vectorString")
	}
	return best, vector
}

func links(list []any) []string {
	var out []string
	for _, v := range list {
		if l := asFields(v).str("link", "url"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func cveLike(s string) string {
	if cveIDPattern.MatchString(strings.TrimSpace(s)) {
		return strings.TrimSpace(s)
	}
	return ""
}

// parentAssessment splits ".../assessments/<key>/subassessments/<name>".
func parentAssessment(id string) (assessmentID, key string) {
	lower := strings.ToLower(id)
	i := strings.LastIndex(lower, "/subassessments/")
	if i < 0 {
		return "", ""
	}
	assessmentID = id[:i]
	return assessmentID, lastSegment(assessmentID)
}

type imageRef struct{ repo, digest string }

// imageFromResourceID reads MDVM's pseudo resource id
// "/repositories/<repository>/images/<digest>".
func imageFromResourceID(id string) imageRef {
	const pre, mid = "/repositories/", "/images/"
	if !strings.HasPrefix(strings.ToLower(id), pre) {
		return imageRef{}
	}
	rest := id[len(pre):]
	i := strings.LastIndex(strings.ToLower(rest), mid)
	if i < 0 {
		return imageRef{}
	}
	d := strings.ToLower(rest[i+len(mid):])
	if !strings.HasPrefix(d, "sha256:") {
		d = ""
	}
	return imageRef{repo: rest[:i], digest: d}
}

// armID returns id when it is an ARM resource id.
func armID(id string) string {
	if strings.HasPrefix(strings.ToLower(id), "/subscriptions/") {
		return id
	}
	return ""
}
