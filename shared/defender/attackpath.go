package defender

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// AttackPathsQuery is the Resource Graph query that selects every attack
// path Defender CSPM computed; ParseAttackPath reads one row of its answer.
const AttackPathsQuery = `securityresources | where type == "microsoft.security/attackpaths"`

// AttackPath is one Defender CSPM attack path, reduced to what runtime risk
// needs: its risk and the Azure resources on it.
type AttackPath struct {
	ID          string
	Name        string
	DisplayName string
	Description string
	RiskLevel   string // lower case: critical, high, medium, low
	// RiskFactors are the factors GitHub knows, mapped; Factors keeps
	// Defender's own names, all of them.
	RiskFactors    []model.RiskFactor
	Factors        []string
	RiskCategories []string
	// EntryPoint and Target are the internal entity ids; their resource ids
	// (lower case) when the entity names an Azure resource.
	EntryPoint           string
	Target               string
	EntryPointResourceID string
	TargetResourceID     string
	Entities             []Entity
	// ResourceIDs are every entity's Azure resource id, lower-cased for
	// matching, sorted, without duplicates.
	ResourceIDs []string
}

// Entity is one node of an attack path.
type Entity struct {
	InternalID string
	Name       string
	Type       string
	ResourceID string // lower case; empty when the entity is not an Azure resource
}

// ParseAttackPath reads one attack path row of Resource Graph (objectArray).
func ParseAttackPath(row []byte) (AttackPath, error) {
	var m map[string]any
	if err := decodeJSON(row, &m); err != nil {
		return AttackPath{}, fmt.Errorf("attack path row: %w", err)
	}
	f := fields(m)
	p := f.obj("properties")
	ap := AttackPath{
		ID:             f.str("id"),
		Name:           f.str("name"),
		DisplayName:    p.str("displayName"),
		Description:    p.str("description"),
		RiskLevel:      normalizeSeverity(p.str("riskLevel")),
		Factors:        p.strs("riskFactors"),
		RiskCategories: p.strs("riskCategories"),
		EntryPoint:     p.str("entryPointEntityInternalID", "entryPointEntityInternalId"),
		Target:         p.str("targetEntityInternalID", "targetEntityInternalId"),
	}
	if ap.ID == "" {
		return AttackPath{}, errors.New("attack path row has no id")
	}
	ap.RiskFactors = MapRiskFactors(ap.Factors)

	for _, v := range p.obj("graphComponent").list("entities") {
		e := asFields(v)
		ent := Entity{
			InternalID: e.str("entityInternalID", "entityInternalId"),
			Name:       e.str("entityName"),
			Type:       e.str("entityType"),
			ResourceID: strings.ToLower(armID(e.obj("entityIdentifiers").str("azureResourceId"))),
		}
		ap.Entities = append(ap.Entities, ent)
		if ent.ResourceID == "" {
			continue
		}
		if !slices.Contains(ap.ResourceIDs, ent.ResourceID) {
			ap.ResourceIDs = append(ap.ResourceIDs, ent.ResourceID)
		}
		if ent.InternalID != "" && ent.InternalID == ap.EntryPoint {
			ap.EntryPointResourceID = ent.ResourceID
		}
		if ent.InternalID != "" && ent.InternalID == ap.Target {
			ap.TargetResourceID = ent.ResourceID
		}
	}
	slices.Sort(ap.ResourceIDs)
	return ap, nil
}
