package jsontest

import (
	"encoding/json"
	"testing"
)

func TestEditChangesOnePlaceAndKeepsTheRest(t *testing.T) {
	in := []byte(`{"action":"created","alert":{"rule":{"id":"js/xss","severity":"error"},"number":7}}`)
	out := Edit(t, in, func(m map[string]any) { Obj(m, "alert", "rule")["severity"] = "warning" })
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	rule := Obj(got, "alert", "rule")
	if rule["severity"] != "warning" || rule["id"] != "js/xss" || got["action"] != "created" || Obj(got, "alert")["number"] != 7.0 {
		t.Fatalf("edited payload: %s", out)
	}
}

func TestEditFailsOnWhatIsNotAnObject(t *testing.T) {
	ft := &fatalT{TB: t}
	func() {
		defer func() { _ = recover() }()
		Edit(ft, []byte(`[1, 2`), func(map[string]any) {})
	}()
	if !ft.failed {
		t.Fatal("Edit accepted malformed JSON")
	}
}

// fatalT records Fatal instead of ending the test, to test a helper that fails.
type fatalT struct {
	testing.TB
	failed bool
}

func (f *fatalT) Helper()           {}
func (f *fatalT) Fatal(args ...any) { f.failed = true; panic("fatal") }
