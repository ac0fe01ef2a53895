package inventory_test

import (
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

// A CVE runtime resolved because its image runs nowhere any more stays
// resolved while Defender keeps reporting the image unhealthy (its
// registry scan); one resolved for another reason opens again.
func TestUnhealthyRecordKeepsAGoneImageCVEResolved(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	mdvm := records(t, "subassessment-mdvm.json", nil)
	if _, err := e.inv.IngestDefender(ctx, mdvm); err != nil {
		t.Fatal(err)
	}
	id := model.ImageCVEFindingID(sampletest.Image, "CVE-2023-44487")
	for _, tc := range []struct {
		reason string
		want   model.FindingState
	}{{model.ReasonWorkloadGone, model.StateResolved}, {"healthy", model.StateOpen}} {
		if _, _, err := e.store.Findings.Update(ctx, model.UnmappedRepository, id, func(f *model.Finding, _ bool) error {
			f.State, f.StateReason = model.StateResolved, tc.reason
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.inv.IngestDefender(ctx, mdvm); err != nil {
			t.Fatal(err)
		}
		if f, err := e.store.Findings.Get(ctx, model.UnmappedRepository, id); err != nil || f.State != tc.want {
			t.Errorf("resolved as %s, then unhealthy again: %s/%s, %v; want %s", tc.reason, f.State, f.StateReason, err, tc.want)
		}
	}
}
