package defender

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParseMessage: whatever arrives, ParseMessage neither panics nor returns
// a record the rest of runtimelink cannot rely on. Run bounded, e.g.
// go test ./shared/defender -run '^$' -fuzz FuzzParseMessage -fuzztime 30s
func FuzzParseMessage(f *testing.F) {
	for _, name := range exportSamples {
		f.Add(readSample(f, name))
	}
	f.Add(batch(f, 3, 1, `{"type":"Microsoft.Security/secureScores"}`))
	f.Add([]byte(`{"records":[{"SystemAlertId":"a","ExtendedProperties":"{\"Pod\":1}"}]}`))
	f.Add([]byte(`"[{\"type\":\"Microsoft.Security/assessments\"}]"`))

	f.Fuzz(func(t *testing.T, raw []byte) {
		recs, errs := ParseMessage(raw)
		for _, err := range errs {
			var re *RecordError
			if !errors.As(err, &re) || re.Index < -1 {
				t.Fatalf("error %v is not a positioned *RecordError", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("error %v is neither malformed nor unknown type", err)
			}
		}
		for _, r := range recs {
			if r.ID == "" || (r.Action != ActionInsert && r.Action != ActionDelete) {
				t.Fatalf("record without id or action: %+v", r)
			}
			set := 0
			for _, p := range []bool{r.Assessment != nil, r.SubAssessment != nil, r.Alert != nil} {
				if p {
					set++
				}
			}
			if set != 1 {
				t.Fatalf("record %+v has %d payloads", r, set)
			}
			switch r.Kind {
			case KindAssessment:
				if r.Assessment == nil || (r.Action == ActionInsert && r.Assessment.Status == "") {
					t.Fatalf("assessment record %+v", r)
				}
			case KindSubAssessment:
				if r.SubAssessment == nil {
					t.Fatalf("sub-assessment record %+v", r)
				}
				for _, c := range r.SubAssessment.CVEs {
					if !cveIDPattern.MatchString(c.ID) || c.Digest == "" || c.SubAssessmentID != r.ID {
						t.Fatalf("CVE entry %+v", c)
					}
				}
			case KindAlert:
				if r.Alert == nil || r.Alert.AlertID != r.ID {
					t.Fatalf("alert record %+v", r)
				}
			default:
				t.Fatalf("record of kind %q", r.Kind)
			}
		}
		again, againErrs := ParseMessage(raw)
		if !reflect.DeepEqual(recs, again) || len(errs) != len(againErrs) {
			t.Fatal("parsing the same message twice gave different results")
		}
	})
}
