package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/jsontest"
)

// githubTestdata is the repository's copy of GitHub's own webhook examples.
const githubTestdata = "../../testdata/github"

// received is the arrival time handed to every decoder in the tests.
var received = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// sample reads one payload from the repository's testdata.
func sample(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := readSample(rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readSample(rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(githubTestdata, rel))
}

// variant reads a sample and changes it: edit gets the decoded JSON object.
func variant(t *testing.T, rel string, edit func(m map[string]any)) []byte {
	t.Helper()
	return jsontest.Edit(t, sample(t, rel), edit)
}

// obj walks a path of object keys ("alert", "rule") in a decoded payload.
var obj = jsontest.Obj

// samplesOf lists every payload file of the given events, so that a payload
// added to testdata without a test case fails the test that must cover it.
func samplesOf(t *testing.T, events ...string) []string {
	t.Helper()
	var out []string
	for _, e := range events {
		files, err := filepath.Glob(filepath.Join(githubTestdata, e, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no samples for %s in %s", e, githubTestdata)
		}
		for _, f := range files {
			out = append(out, strings.TrimPrefix(filepath.ToSlash(f), githubTestdata+"/"))
		}
	}
	return out
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
