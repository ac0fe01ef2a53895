package defender

import (
	"cmp"
	"strings"
	"time"
)

// Alert is one Defender security alert, read from the alerts API shape
// (camelCase under properties), the PascalCase export shape, or the Log
// Analytics SecurityAlert shape (AlertName, AlertSeverity, ...).
type Alert struct {
	// AlertID is the system alert id, the alert's identity in every shape.
	AlertID string
	// ARMID is the alert's ARM id when the export carried one.
	ARMID       string
	AlertType   string
	DisplayName string
	Description string
	Severity    string // lower case: high, medium, low, informational→low
	// Status is Active, InProgress, Resolved or Dismissed ("New" reads Active);
	// an unknown value is kept as given.
	Status            string
	Intent            string
	CompromisedEntity string
	// ResourceIDs are the Azure resources the alert names (resource
	// identifiers and the top-level resource id), without duplicates.
	ResourceIDs        []string
	StartTime          time.Time
	EndTime            time.Time
	TimeGenerated      time.Time
	RemediationSteps   []string
	ExtendedProperties map[string]string
	AlertURI           string
	ProductName        string
	VendorName         string
	IsIncident         bool

	// Kubernetes context from the extended properties, when the alert is
	// about a container.
	Namespace string
	Pod       string
	Container string
	Image     string
}

func parseAlert(f fields) (*Alert, error) {
	p := f.obj("properties")
	if p == nil {
		p = f
	}
	a := &Alert{
		ARMID:             armID(f.str("id", "Id")),
		AlertType:         p.str("alertType"),
		DisplayName:       p.str("alertDisplayName", "displayName", "alertName"),
		Description:       p.str("description"),
		Severity:          normalizeSeverity(p.str("severity", "alertSeverity", "reportedSeverity")),
		Status:            alertStatus(p.str("status", "state")),
		Intent:            p.str("intent", "tactics"),
		CompromisedEntity: p.str("compromisedEntity"),
		StartTime:         zeroIfBefore1971(p.time("startTimeUtc", "startTime")),
		EndTime:           zeroIfBefore1971(p.time("endTimeUtc", "endTime")),
		TimeGenerated: zeroIfBefore1971(p.time("timeGeneratedUtc", "timeGenerated", "processingEndTimeUtc",
			"processingEndTime")),
		RemediationSteps:   p.strs("remediationSteps"),
		ExtendedProperties: p.stringMap("extendedProperties"),
		AlertURI:           p.str("alertUri", "alertLink"),
		ProductName:        p.str("productName"),
		VendorName:         p.str("vendorName"),
		IsIncident:         p.boolean("isIncident"),
	}
	a.AlertID = cmp.Or(p.str("systemAlertId"), f.str("name", "Name"), p.str("vendorOriginalId"), lastSegment(a.ARMID))
	if a.AlertID == "" {
		return nil, malformed("alert has no system alert id")
	}

	seen := map[string]bool{}
	addResource := func(id string) {
		if id = armID(id); id != "" && !seen[strings.ToLower(id)] {
			seen[strings.ToLower(id)] = true
			a.ResourceIDs = append(a.ResourceIDs, id)
		}
	}
	for _, v := range p.list("resourceIdentifiers") {
		r := asFields(v)
		if t := r.str("type"); t == "" || strings.EqualFold(t, "AzureResource") {
			addResource(r.str("azureResourceId"))
		}
	}
	addResource(p.str("azureResourceId", "resourceId"))

	ext := fields(make(map[string]any, len(a.ExtendedProperties)))
	for k, v := range a.ExtendedProperties {
		ext[k] = v
	}
	a.Namespace = ext.str("Namespace", "Kubernetes namespace", "namespace name")
	a.Pod = ext.str("Pod", "Pod name", "Kubernetes pod")
	a.Container = ext.str("Container", "Container name")
	a.Image = ext.str("Image", "Container image", "Image name")
	return a, nil
}

func alertStatus(s string) string {
	switch strings.ToLower(strings.ReplaceAll(s, " ", "")) {
	case "active", "new":
		return "Active"
	case "inprogress":
		return "InProgress"
	case "resolved":
		return "Resolved"
	case "dismissed":
		return "Dismissed"
	}
	return s
}
