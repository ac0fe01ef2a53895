package defender

import (
	"cmp"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Assessment is one Defender assessment (a recommendation on one resource).
type Assessment struct {
	ID          string // ARM id of the assessment
	Key         string // assessment key (name), the recommendation's identity
	DisplayName string
	Status      StatusCode // empty only on a Delete record that carried none
	StatusCause string
	// StatusChangedAt is when the status last changed; FirstEvaluatedAt when
	// Defender first assessed the resource. Zero when not given.
	StatusChangedAt  time.Time
	FirstEvaluatedAt time.Time
	Severity         string // lower case, from metadata
	// ResourceID is the assessed resource: resourceDetails id, else the
	// native resource id, else the scope of the assessment id.
	ResourceID string
	Resource   ResourceDetails
	Risk       *Risk // nil when the export carries no risk block
	// SubAssessmentsLink is additionalData.subAssessmentsLink when present.
	SubAssessmentsLink string
}

// ResourceDetails is the assessed resource as the export describes it. Azure
// resources carry ID (and, with newer API versions, native id and names);
// on-premises ones carry the machine and workspace fields; AWS/GCP ones the
// connector.
type ResourceDetails struct {
	Source           string // Azure, OnPremise, OnPremiseSql, Aws, Gcp, ...
	ID               string
	NativeResourceID string
	ResourceName     string
	ResourceType     string
	ResourceProvider string
	// On-premises resources.
	MachineName      string
	SourceComputerID string
	VMUUID           string
	WorkspaceID      string
	// Multicloud resources.
	ConnectorID string
	Region      string
}

// Risk is the contextual risk Defender CSPM attaches to an assessment.
type Risk struct {
	Level string // lower case: critical, high, medium, low
	// Factors are the risk factors as Defender names them ("Internet exposure").
	Factors []string
	// RiskFactors are the Factors GitHub's artifact metadata knows, mapped;
	// the others are kept in Factors only.
	RiskFactors  []model.RiskFactor
	AttackPaths  []string // attack path ids
	IsContextual bool
}

func parseAssessment(f fields, action Action) (*Assessment, error) {
	id := f.str("id", "Id", "assessmentId", "AssessmentId")
	if id == "" {
		return nil, malformed("assessment has no id")
	}
	p := f.obj("properties")
	if p == nil {
		// A flat record (properties hoisted to the top) reads the same.
		p = f
	}
	a := &Assessment{
		ID:          id,
		Key:         f.str("name", "Name", "assessmentKey", "AssessmentKey"),
		DisplayName: p.str("displayName", "DisplayName"),
	}
	if a.Key == "" {
		a.Key = lastSegment(id)
	}

	st := p.obj("status")
	status, err := statusOf(st, "assessment "+id)
	if err != nil {
		return nil, err
	}
	a.Status = status
	if status == "" {
		if s, ok := parseStatus(p.str("status", "statusCode")); ok {
			// Status exported flat as a string.
			a.Status = s
		} else if action != ActionDelete {
			return nil, malformed("assessment %s has no status code", id)
		}
	}
	a.StatusCause = st.str("cause")
	a.StatusChangedAt = zeroIfBefore1971(st.time("statusChangeDate"))
	a.FirstEvaluatedAt = zeroIfBefore1971(st.time("firstEvaluationDate"))

	md := p.obj("metadata")
	a.Severity = normalizeSeverity(md.str("severity"))
	if a.Severity == "" {
		a.Severity = normalizeSeverity(p.str("severity"))
	}
	if a.DisplayName == "" {
		a.DisplayName = md.str("displayName")
	}

	a.Resource = parseResourceDetails(p.obj("resourceDetails"))
	a.ResourceID = cmp.Or(a.Resource.ID, a.Resource.NativeResourceID, armScope(id))
	a.Risk = parseRisk(p.obj("risk"))
	a.SubAssessmentsLink = p.obj("additionalData").str("subAssessmentsLink")
	return a, nil
}

func parseResourceDetails(r fields) ResourceDetails {
	return ResourceDetails{
		Source:           r.str("source"),
		ID:               r.str("id", "azureResourceId", "resourceId"),
		NativeResourceID: r.str("nativeResourceId"),
		ResourceName:     r.str("resourceName"),
		ResourceType:     r.str("resourceType"),
		ResourceProvider: r.str("resourceProvider"),
		MachineName:      r.str("machineName"),
		SourceComputerID: r.str("sourceComputerId"),
		VMUUID:           r.str("vmuuid"),
		WorkspaceID:      r.str("workspaceId"),
		ConnectorID:      r.str("connectorId"),
		Region:           r.str("region"),
	}
}

func parseRisk(r fields) *Risk {
	if r == nil {
		return nil
	}
	risk := &Risk{
		Level:        normalizeSeverity(r.str("level", "riskLevel")),
		Factors:      r.strs("riskFactors"),
		AttackPaths:  r.strs("attackPathsReferences", "attackPaths"),
		IsContextual: r.boolean("isContextualRisk"),
	}
	risk.RiskFactors = MapRiskFactors(risk.Factors)
	return risk
}

func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}
