package mapping

import (
	"net/url"
	"strings"
)

// Cloud is one Azure cloud: where its Resource Manager answers, the DNS
// suffix of its container registries' login servers and its portal. The
// same resource id means a different registry host and portal link in
// each, so nothing derived from an id assumes the public cloud.
type Cloud struct {
	Name        string // AzureCloud, AzureUSGovernment, AzureChinaCloud
	ARMHost     string // management.azure.com
	ACRSuffix   string // azurecr.io
	PortalHost  string // portal.azure.com
	description string
}

// The clouds runtimelink knows, as the Azure CLI names them.
var (
	CloudPublic   = Cloud{Name: "AzureCloud", ARMHost: "management.azure.com", ACRSuffix: "azurecr.io", PortalHost: "portal.azure.com", description: "public Azure"}
	CloudUSGov    = Cloud{Name: "AzureUSGovernment", ARMHost: "management.usgovcloudapi.net", ACRSuffix: "azurecr.us", PortalHost: "portal.azure.us", description: "Azure Government"}
	CloudChina    = Cloud{Name: "AzureChinaCloud", ARMHost: "management.chinacloudapi.cn", ACRSuffix: "azurecr.cn", PortalHost: "portal.azure.cn", description: "Azure operated by 21Vianet"}
	KnownClouds   = []Cloud{CloudPublic, CloudUSGov, CloudChina}
	cloudsByAlias = map[string]Cloud{
		"azurecloud": CloudPublic, "public": CloudPublic, "azurepubliccloud": CloudPublic,
		"azureusgovernment": CloudUSGov, "usgov": CloudUSGov, "azureusgovernmentcloud": CloudUSGov,
		"azurechinacloud": CloudChina, "china": CloudChina,
	}
)

// IsZero reports whether c is no cloud (not configured).
func (c Cloud) IsZero() bool { return c.Name == "" }

// String names the cloud.
func (c Cloud) String() string {
	if c.IsZero() {
		return "unknown cloud"
	}
	return c.Name
}

// ParseCloud reads a cloud name (AzureCloud, AzureUSGovernment,
// AzureChinaCloud, any case; also public, usgov, china).
func ParseCloud(name string) (Cloud, bool) {
	c, ok := cloudsByAlias[strings.ToLower(strings.TrimSpace(name))]
	return c, ok
}

// CloudOfARMEndpoint is the cloud whose Resource Manager answers at
// endpoint (ARM_ENDPOINT); ok is false for any other host (a test server,
// a private cloud), which then needs the cloud named explicitly.
func CloudOfARMEndpoint(endpoint string) (Cloud, bool) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return Cloud{}, false
	}
	host := strings.ToLower(u.Hostname())
	for _, c := range KnownClouds {
		if host == c.ARMHost {
			return c, true
		}
	}
	return Cloud{}, false
}

// ACRLoginServer derives an Azure Container Registry's login server in
// cloud c from its ARM resource id
// (…/providers/Microsoft.ContainerRegistry/registries/<name>): octoacr.azurecr.io
// in the public cloud, octoacr.azurecr.us in Azure Government. It is ""
// when the id names no registry or c is not known: a host is never
// guessed. Callers prefer a host the source names (ACR events'
// request.host, MDVM's registryHost).
func (c Cloud) ACRLoginServer(resourceID string) string {
	name := ACRName(resourceID)
	if name == "" || c.ACRSuffix == "" {
		return ""
	}
	return name + "." + c.ACRSuffix
}

// ACRName is the registry name in an ACR resource id, lower case, or "".
func ACRName(resourceID string) string {
	const seg = "/providers/microsoft.containerregistry/registries/"
	lower := strings.ToLower(resourceID)
	i := strings.Index(lower, seg)
	if i < 0 {
		return ""
	}
	name, _, _ := strings.Cut(lower[i+len(seg):], "/")
	return name
}

// PortalURL links an Azure resource id to its page in the cloud's portal,
// or "" when c is not known or the id is not an ARM id.
func (c Cloud) PortalURL(resourceID string) string {
	if c.PortalHost == "" || !strings.HasPrefix(resourceID, "/subscriptions/") {
		return ""
	}
	return "https://" + c.PortalHost + "/#resource" + resourceID
}

// ResourceName is the readable name of an ARM resource id: its last
// name ("aks-prod-eus", "octoacr"); for a Defender record on a resource,
// what it is and the resource it is on ("assessment c609cf0f on
// aks-prod-eus", "attack path 2c4e6f80"). Anything else is returned as
// given.
func ResourceName(resourceID string) string {
	id := strings.TrimRight(resourceID, "/")
	if !strings.HasPrefix(strings.ToLower(id), "/subscriptions/") {
		return resourceID
	}
	parts := strings.Split(id, "/")
	last := -1 // the last "providers" segment
	for i, p := range parts {
		if strings.EqualFold(p, "providers") {
			last = i
		}
	}
	name := parts[len(parts)-1]
	if last < 0 || len(parts)-last < 4 {
		return name
	}
	label, ok := recordKinds[strings.ToLower(parts[len(parts)-2])]
	if !ok {
		return name
	}
	// A GUID reads well by its first group.
	if len(name) == 36 && strings.Count(name, "-") == 4 {
		name = name[:8]
	}
	// An extension resource names the resource it extends just before its
	// providers segment; a subscription-level one has no such parent.
	if p := last - 1; p >= 2 && !strings.EqualFold(parts[p-1], "subscriptions") && !strings.EqualFold(parts[p-1], "resourceGroups") {
		return label + " " + name + " on " + parts[p]
	}
	return label + " " + name
}

var recordKinds = map[string]string{
	"assessments":    "assessment",
	"subassessments": "sub-assessment",
	"attackpaths":    "attack path",
	"alerts":         "alert",
}

// SourcePart is one piece of a readable explanation source: text, and the
// portal page of the resource it names when there is one.
type SourcePart struct {
	Text string
	URL  string
}

// ReadableSource makes an explanation source readable: every ARM id in it
// (a Defender assessment, attack path or resource, with or without its
// risk-source prefix) becomes the resource's name (ResourceName) linked to
// its page in cloud c; the rest is kept as text. With no cloud known, the
// names stand without links. A record cited with its display name
// (model.Risk.Cited) is named by it. A URL is only made from an id of plain
// characters, so it cannot break out of a Markdown or HTML link.
func ReadableSource(c Cloud, s string) []SourcePart {
	var out []SourcePart
	text := func(t string) {
		if t == "" {
			return
		}
		if n := len(out); n > 0 && out[n-1].URL == "" {
			out[n-1].Text += t
			return
		}
		out = append(out, SourcePart{Text: t})
	}
	for {
		i := strings.Index(strings.ToLower(s), "/subscriptions/")
		if i < 0 {
			text(s)
			return out
		}
		end := i
		for end < len(s) && s[end] != ',' && s[end] != ' ' && s[end] != ')' && s[end] != ';' {
			end++
		}
		before, id := s[:i], s[i:end]
		for _, p := range []string{RiskSourceAssessmentPrefix, RiskSourceAttackPathPrefix} {
			before = strings.TrimSuffix(before, p)
		}
		text(before)
		part := SourcePart{Text: ResourceName(id)}
		if safeID(id) {
			part.URL = c.PortalURL(id)
		}
		s = s[end:]
		// A display name after the id (model.Risk.Cited) names the
		// record instead of its id: attack path “Internet exposed …”.
		if rest, ok := strings.CutPrefix(s, " “"); ok {
			if name, after, ok := strings.Cut(rest, "”"); ok && name != "" {
				label := recordKinds[strings.ToLower(secondLast(id))]
				if label == "" {
					label = part.Text
				}
				part.Text, s = label+" “"+name+"”", after
			}
		}
		out = append(out, part)
	}
}

// secondLast is the segment of a path before its last one.
func secondLast(id string) string {
	parts := strings.Split(strings.TrimRight(id, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}

// ReadableSourceText is ReadableSource as plain text, without links.
func ReadableSourceText(s string) string {
	var b strings.Builder
	for _, p := range ReadableSource(Cloud{}, s) {
		b.WriteString(p.Text)
	}
	return b.String()
}

func safeID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(alnumLower(c) || 'A' <= c && c <= 'Z' || c == '/' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
