package remediation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// IssueInput is everything the GitHub issue of one group shows.
type IssueInput struct {
	// Group names the group (ID, Repository, Kind, Image) and its Owners
	// (CODEOWNERS of the affected path, resolved by the sync step): users
	// are assigned, teams mentioned.
	Group model.Group
	// Findings are every finding of the group, in any order.
	Findings []model.Finding
	// Related are findings outside the group linked to its findings
	// (Finding.Related), shown as "the same vulnerability elsewhere".
	Related []model.Finding
	// MinPriority is the lowest priority that keeps an issue open.
	MinPriority model.Priority
	// Cloud links Defender for Cloud records to its portal
	// (RUNTIMELINK_CLOUD); the zero Cloud names them without a link.
	Cloud mapping.Cloud
	// Artifacts are the stored artifacts of the findings' digests
	// (Digests), in any order; those of no shown digest are ignored. The
	// build section names, per digest, the workflow run that built it and
	// the evidence that says so.
	Artifacts []model.Artifact
}

// Digests are the image digests the findings were found on, sorted: the
// artifacts RenderIssue's caller loads for the build section.
func Digests(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		for _, d := range f.Digests {
			if d != "" && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	slices.Sort(out)
	return out
}

// maxIssueRows bounds the vulnerability table of an image issue, keeping
// the body well inside GitHub's 65,536 characters.
const maxIssueRows = 100

// MarkerPrefix starts the hidden marker every issue body carries, so a
// lost group → issue mapping can be found again by searching for it.
const MarkerPrefix = "<!-- runtimelink:group="

// Marker is the hidden marker of a group's issue body.
// A group id is built from names (repository, image) and cannot close
// the comment early: '<' and '>' are percent-encoded.
func Marker(groupID string) string {
	return MarkerPrefix + strings.NewReplacer("<", "%3C", ">", "%3E").Replace(groupID) + " -->"
}

// RenderIssue computes the desired GitHub issue of a group. It is pure and
// deterministic (no clock, findings sorted), so the sync step can render
// the same body and an unchanged group hashes the same:
//
//   - open when an active finding is at or above MinPriority;
//   - labels: security, priority:<level>, runtime:<risk> for every runtime
//     risk factor that counted in an active finding's score;
//   - body: the marker, the findings highest first (with fixed versions),
//     where the code runs, the top finding's explanation, and the same
//     vulnerability seen from the other side.
func RenderIssue(in IssueInput) model.DesiredIssue {
	fs := slices.Clone(in.Findings)
	slices.SortFunc(fs, model.CompareFindings)
	active := slices.DeleteFunc(slices.Clone(fs), func(f model.Finding) bool { return !f.State.Active() })
	shown := active
	if len(shown) == 0 {
		shown = fs // closed issue: describe what was there
	}
	threshold := in.MinPriority
	if threshold.Rank() == 0 {
		threshold = model.PriorityHigh
	}

	d := model.DesiredIssue{Assignees: assigneesOf(in.Group.Owners)}
	for _, f := range active {
		// A security manager's assignment in Defender asks for the issue
		// whatever the priority.
		if f.Priority.Rank() >= threshold.Rank() || ManagerAssigned(in.Group) {
			d.Open = true
		}
	}
	if len(shown) > 0 {
		d.Priority = shown[0].Priority
	}
	d.Title = truncate(oneLine(issueTitle(in.Group, shown, len(active))), MaxTitle)
	d.Labels = issueLabels(d.Priority, active)
	d.Body = boundBody(issueBody(in, fs, active, shown, threshold))
	d.BodyHash = BodyHash(d.Body)
	d.Hash = desiredHash(d)
	return d
}

// BodyHash is the hash an issue body is compared by.
func BodyHash(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:16])
}

func desiredHash(d model.DesiredIssue) string {
	b, _ := json.Marshal(struct {
		Open      bool     `json:"open"`
		Title     string   `json:"title"`
		BodyHash  string   `json:"bodyHash"`
		Labels    []string `json:"labels"`
		Assignees []string `json:"assignees"`
	}{d.Open, d.Title, d.BodyHash, d.Labels, d.Assignees})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// issueTitle says the priority, the vulnerability and where it runs:
// "[Critical] CVE-2023-44487 in container image octoacr.azurecr.io/checkout-api,
// running in production on aks-prod-eus/shop/checkout-api". A long alert
// title is cut, never the place it runs.
func issueTitle(g model.Group, shown []model.Finding, activeCount int) string {
	if len(shown) == 0 {
		return "Security findings in " + g.Repository
	}
	prefix := "[" + string(shown[0].Priority) + "] "
	if shown[0].Priority == "" {
		prefix = ""
	}
	where := runsTitle(&shown[0])
	var what string
	if g.Kind == model.GroupKindImage {
		n := activeCount
		if n == 0 {
			n = len(shown)
		}
		what = strconv.Itoa(n) + " vulnerabilities in container image " + g.Image
		if n == 1 {
			what = vulnName(&shown[0]) + " in container image " + g.Image
		}
	} else {
		f := &shown[0]
		what = oneLine(f.Title)
		if what == "" {
			what = vulnName(f)
		}
		if f.AlertNumber > 0 {
			what += " (" + SourceName(f.Source) + " alert #" + strconv.Itoa(f.AlertNumber) + ")"
		}
	}
	return truncate(oneLine(prefix+what), MaxTitle-len(where)) + where
}

// runsTitle is where the code of a finding runs, for a title: the
// workloads its score's deployment factor names; "" when nothing runs it.
func runsTitle(f *model.Finding) string {
	for _, x := range f.Explanation.Factors {
		if x.Name != scoring.FactorDeployment {
			continue
		}
		for _, p := range [][2]string{{"running in production: ", ", running in production on "}, {"running outside production only: ", ", running outside production on "}} {
			if w, ok := strings.CutPrefix(x.Source, p[0]); ok && w != "" {
				return truncate(oneLine(p[1]+w), MaxTitle/2)
			}
		}
	}
	return ""
}

func issueLabels(p model.Priority, active []model.Finding) []string {
	labels := []string{"security"}
	if p != "" {
		labels = append(labels, "priority:"+strings.ToLower(string(p)))
	}
	for _, rf := range model.RiskFactors {
		if slices.ContainsFunc(active, func(f model.Finding) bool { return slices.Contains(f.RuntimeRisks, rf) }) {
			labels = append(labels, "runtime:"+string(rf))
		}
	}
	return labels
}

func issueBody(in IssueInput, all, active, shown []model.Finding, threshold model.Priority) string {
	var b strings.Builder
	g := in.Group
	b.WriteString(Marker(g.ID) + "\n")
	if len(shown) == 0 {
		b.WriteString("No findings are left in this group.\n")
		return b.String()
	}
	top := &shown[0]

	// Summary line.
	fmt.Fprintf(&b, "**%s** · score %s", top.Priority, fmtScore(top.Score))
	if g.Kind == model.GroupKindImage {
		fmt.Fprintf(&b, " · %d open %s in container image `%s`, built from `%s`",
			len(active), plural(len(active), "vulnerability", "vulnerabilities"), mdCode(g.Image), mdCode(g.Repository))
		if df := top.Location.Dockerfile; df != "" {
			fmt.Fprintf(&b, " (`%s`)", mdCode(df))
		}
	} else {
		fmt.Fprintf(&b, " · %s", SourceName(top.Source))
		if top.AlertNumber > 0 {
			if u := safeURL(top.AlertURL); u != "" {
				fmt.Fprintf(&b, " alert [#%d](%s)", top.AlertNumber, u)
			} else {
				fmt.Fprintf(&b, " alert `#%d`", top.AlertNumber) // a bare #N would reference issue N
			}
		}
		fmt.Fprintf(&b, " in `%s`", mdCode(g.Repository))
	}
	b.WriteString(".\n")
	if len(active) == 0 {
		b.WriteString("\nEvery finding of this group is closed (fixed, dismissed or resolved).\n")
	} else if top.Priority.Rank() < threshold.Rank() && ManagerAssigned(g) {
		fmt.Fprintf(&b, "\nBelow the %s threshold, opened because a security manager assigned it in Microsoft Defender for Cloud.\n", threshold)
	} else if top.Priority.Rank() < threshold.Rank() {
		fmt.Fprintf(&b, "\nBelow the %s threshold for an open issue.\n", threshold)
	}

	if g.Kind == model.GroupKindImage {
		b.WriteString("\n### Vulnerabilities (highest first)\n\n")
		b.WriteString("| Priority | Score | Vulnerability | Package | Installed | Fixed in |\n| --- | --- | --- | --- | --- | --- |\n")
		for i := range shown[:min(len(shown), maxIssueRows)] {
			f := &shown[i]
			pkg, installed, fixed := packageCells(f)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", f.Priority, fmtScore(f.Score), vulnCell(f), pkg, installed, fixed)
		}
		if more := len(shown) - maxIssueRows; more > 0 {
			fmt.Fprintf(&b, "\n…and %d lower %s, listed by `GET /api/findings?repository=%s&source=defender_cve`.\n",
				more, plural(more, "vulnerability", "vulnerabilities"), g.Repository)
		}
		if closed := len(all) - len(active); closed > 0 && len(active) > 0 {
			fmt.Fprintf(&b, "\n%d more %s of this image %s closed.\n", closed, plural(closed, "finding", "findings"), plural(closed, "is", "are"))
		}
	} else {
		b.WriteString("\n| | |\n| --- | --- |\n")
		for _, row := range alertRows(top) {
			fmt.Fprintf(&b, "| %s | %s |\n", row[0], row[1])
		}
	}

	b.WriteString("\n### Where it runs\n\n")
	for _, line := range whereItRuns(top, in.Cloud) {
		b.WriteString("- " + line + "\n")
	}

	if lines := buildLines(in, shown); len(lines) > 0 {
		b.WriteString("\n### Build and evidence\n\n")
		for _, line := range lines {
			b.WriteString("- " + line + "\n")
		}
	}

	fmt.Fprintf(&b, "\n### Why %s\n\n", top.Priority)
	if g.Kind == model.GroupKindImage {
		fmt.Fprintf(&b, "Score of %s:\n\n", mdCell(vulnName(top)))
	}
	b.WriteString(ExplanationMarkdown(top.Explanation, top.Score, in.Cloud))

	if rel := relatedOf(shown, in.Related); len(rel) > 0 {
		b.WriteString("\n### The same vulnerability elsewhere\n\n")
		for _, r := range rel {
			b.WriteString("- " + relatedLine(&r) + "\n")
		}
	}
	if teams := teamsOf(g.Owners); len(teams) > 0 {
		b.WriteString("\n### Owners\n\n")
		if c := shown[0].Cluster; c != "" && !slices.ContainsFunc(shown, func(f model.Finding) bool { return !mapping.ClusterFinding(&f) }) {
			b.WriteString("Owners of the findings about cluster `" + mdCode(c) + "`, which no repository builds: " + strings.Join(teams, ", ") + "\n")
		} else {
			b.WriteString("CODEOWNERS of `" + mdCode(AffectedPath(g, shown)) + "`: " + strings.Join(teams, ", ") + "\n")
		}
	}
	if side := DefenderSide(g); len(side) > 0 {
		b.WriteString("\n### Microsoft Defender for Cloud\n\n")
		for _, a := range side {
			owner := "no owner"
			if a.Owner != "" {
				owner = "owner `" + mdCode(a.Owner) + "`"
			}
			fmt.Fprintf(&b, "- Governance assignment on recommendation `%s`: %s, due %s", mdCode(assessmentName(a.AssessmentID)), owner, a.RemediationDueDate.UTC().Format("2006-01-02"))
			if !a.ETA.IsZero() {
				fmt.Fprintf(&b, ", ETA %s", a.ETA.UTC().Format("2006-01-02"))
			}
			b.WriteString(".\n")
		}
	}
	b.WriteString("\n<sub>Kept up to date by runtimelink from GitHub Advanced Security and Microsoft Defender for Cloud; edits to this description are overwritten.</sub>\n")
	return b.String()
}

// ExplanationMarkdown renders a score's explanation as a table: every
// factor, how it applies and what it changed, its source readable (a
// Defender record by name, linked to its page in cloud's portal, not by
// its ARM id).
func ExplanationMarkdown(e model.Explanation, score float64, cloud mapping.Cloud) string {
	var b strings.Builder
	b.WriteString("| Factor | Effect | Changes the score by | Source |\n| --- | --- | --- | --- |\n")
	for _, f := range e.Factors {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(f.Name), FactorEffect(f), signed(f.Contribution), sourceMarkdown(f.Source, cloud))
	}
	if e.Capped {
		fmt.Fprintf(&b, "\nThe sum is capped: the score is %s.\n", fmtScore(score))
	}
	return b.String()
}

// FactorEffect says how a factor applies: "= 7.5", "× 0.5", "+ 1.5".
func FactorEffect(f model.Factor) string {
	switch f.Op {
	case scoring.OpMul:
		return "× " + fmtScore(f.Value)
	case scoring.OpAdd:
		return "+ " + fmtScore(f.Value)
	}
	return "= " + fmtScore(f.Value)
}

func signed(v float64) string {
	if v >= 0 {
		return "+" + fmtScore(v)
	}
	return "−" + fmtScore(-v)
}

func fmtScore(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// sourceMarkdown is an explanation source as Markdown: the Defender
// records it names by name, linked to the cloud's portal.
func sourceMarkdown(s string, cloud mapping.Cloud) string {
	var b strings.Builder
	for _, p := range mapping.ReadableSource(cloud, s) {
		// mdCell trims; the spaces between the parts stay.
		t := strings.TrimSpace(p.Text)
		if lead := len(p.Text) - len(strings.TrimLeft(p.Text, " ")); lead > 0 && b.Len() > 0 {
			b.WriteString(" ")
		}
		if p.URL != "" && safePortalURL(p.URL) {
			b.WriteString("[" + mdCell(t) + "](" + p.URL + ")")
		} else {
			b.WriteString(mdCell(t))
		}
		if strings.HasSuffix(p.Text, " ") && t != "" {
			b.WriteString(" ")
		}
	}
	return strings.TrimSpace(b.String())
}

// whereItRuns reads the runtime context from the explanation: the
// deployment factor names the workloads, each risk factor its source.
func whereItRuns(f *model.Finding, cloud mapping.Cloud) []string {
	var out []string
	for _, x := range f.Explanation.Factors {
		switch {
		case x.Name == scoring.FactorDeployment:
			out = append(out, sourceMarkdown(x.Source, cloud))
		case slices.Contains(model.RiskFactors, model.RiskFactor(x.Name)):
			out = append(out, "**"+x.Name+"**: "+sourceMarkdown(x.Source, cloud))
		}
	}
	if len(out) == 0 {
		out = append(out, "not scored yet")
	}
	return out
}

func alertRows(f *model.Finding) [][2]string {
	var rows [][2]string
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, [2]string{k, v})
		}
	}
	add("Vulnerability", vulnCell(f))
	if f.RuleID != "" && f.Source != model.SourceDependabot {
		add("Rule", "`"+mdCode(f.RuleID)+"`")
	}
	add("Tool", mdCell(f.Tool))
	if f.SecretType != "" {
		add("Secret type", "`"+mdCode(f.SecretType)+"`")
		add("Validity", mdCell(f.Validity))
	}
	if l := f.Location; l.Path != "" {
		loc := l.Path
		if l.StartLine > 0 {
			loc += ":" + strconv.Itoa(l.StartLine)
		}
		add("Location", "`"+mdCode(loc)+"`")
	}
	if f.Location.Manifest != "" {
		add("Manifest", "`"+mdCode(f.Location.Manifest)+"`")
	}
	if f.Package != nil {
		pkg, installed, fixed := packageCells(f)
		add("Package", pkg+" "+installed+" → fixed in "+fixed)
	}
	sev := mdCell(f.Severity)
	if f.CVSS != nil && *f.CVSS > 0 {
		sev += " (CVSS " + fmtScore(*f.CVSS) + ")"
	}
	add("Severity", strings.TrimSpace(sev))
	add("State", string(f.State))
	return rows
}

func packageCells(f *model.Finding) (pkg, installed, fixed string) {
	pkg, installed, fixed = "—", "—", "no fix yet"
	if f.Package == nil {
		return
	}
	if f.Package.Name != "" {
		pkg = "`" + mdCode(f.Package.Name) + "`"
	}
	if f.Package.Version != "" {
		installed = mdCell(f.Package.Version)
	} else if f.Package.VulnerableRange != "" {
		installed = mdCell(f.Package.VulnerableRange)
	}
	if f.Package.FixedVersion != "" {
		fixed = "**" + mdCell(f.Package.FixedVersion) + "**"
	}
	return
}

// vulnName is the short name of a finding's vulnerability.
func vulnName(f *model.Finding) string {
	switch {
	case f.CVE != "":
		return f.CVE
	case f.GHSA != "":
		return f.GHSA
	case f.RuleID != "":
		return f.RuleID
	}
	return oneLine(f.Title)
}

func vulnCell(f *model.Finding) string {
	name := mdCell(vulnName(f))
	// Only an id of the documented shape becomes part of a link.
	if cveRE.MatchString(f.CVE) {
		name = "[" + name + "](https://nvd.nist.gov/vuln/detail/" + f.CVE + ")"
	} else if ghsaRE.MatchString(f.GHSA) {
		name = "[" + name + "](https://github.com/advisories/" + f.GHSA + ")"
	}
	if t := oneLine(f.Title); t != "" && t != vulnName(f) {
		name += " " + mdCell(t)
	}
	return name
}

// relatedOf lists the related findings of the shown ones, sorted, each once.
func relatedOf(shown, related []model.Finding) []model.Finding {
	var out []model.Finding
	for _, r := range related {
		wanted := slices.ContainsFunc(shown, func(f model.Finding) bool { return slices.Contains(f.Related, r.ID) })
		if wanted && !slices.ContainsFunc(out, func(o model.Finding) bool { return o.ID == r.ID }) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, model.CompareFindings)
	return out
}

func relatedLine(r *model.Finding) string {
	var b strings.Builder
	switch r.Source {
	case model.SourceDefenderCVE:
		fmt.Fprintf(&b, "Defender for Cloud reports %s on container image `%s`", mdCell(vulnName(r)), mdCode(r.Image))
	default:
		b.WriteString(SourceName(r.Source))
		if r.AlertNumber > 0 {
			if u := safeURL(r.AlertURL); u != "" {
				fmt.Fprintf(&b, " alert [#%d](%s)", r.AlertNumber, u)
			} else {
				fmt.Fprintf(&b, " alert `#%d`", r.AlertNumber)
			}
		}
		if r.Location.Manifest != "" {
			fmt.Fprintf(&b, " in `%s`", mdCode(r.Location.Manifest))
		}
	}
	fmt.Fprintf(&b, ": %s, score %s, %s", r.Priority, fmtScore(r.Score), stateWord(r.State))
	return b.String()
}

func stateWord(s model.FindingState) string {
	if s == "" {
		return string(model.StateOpen)
	}
	return string(s)
}

// SourceName is how people call a finding source.
func SourceName(s model.Source) string {
	switch s {
	case model.SourceCodeScanning:
		return "Code scanning"
	case model.SourceDependabot:
		return "Dependabot"
	case model.SourceSecretScanning:
		return "Secret scanning"
	case model.SourceDefenderCVE:
		return "Defender for Cloud CVE"
	case model.SourceDefenderAlert:
		return "Defender for Cloud"
	}
	return string(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func oneLine(s string) string { return truncate(strings.Join(strings.Fields(s), " "), maxField) }

// assessmentName is the last segment of an assessment id.
func assessmentName(id string) string { return id[strings.LastIndex(id, "/")+1:] }
