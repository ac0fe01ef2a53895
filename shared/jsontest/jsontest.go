// Package jsontest edits JSON payloads in tests: a real sample, decoded,
// changed in one place and encoded again, so that a test of a bad or unusual
// payload starts from the real shape instead of a hand-written one.
package jsontest

import (
	"encoding/json"
	"testing"
)

// Edit decodes the JSON object b, lets edit change it and encodes it again.
func Edit(t testing.TB, b []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Obj walks a path of object keys ("alert", "rule") in a decoded payload.
func Obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// Marshal encodes v as JSON; a value that cannot be encoded fails the test.
func Marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
