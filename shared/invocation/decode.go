package invocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// How the host encodes values (azure-functions-host,
// src/WebJobs.Script/Workers/ScriptInvocationContextExtensions.cs,
// ToHttpScriptInvocationContext / GetHttpScriptInvocationContextValue):
// a value Json.NET can turn into a JObject stays an object; anything else
// (strings, numbers, dates, arrays) becomes JsonConvert.SerializeObject(value),
// a string holding its JSON text. So queue metadata arrives as
// "DequeueCount":"1" and "Id":"\"<guid>\"", and an Event Hub batch (string[])
// as a string holding a JSON array of strings. Azure/azure-functions-host#6574
// reports the same quoting seen from a Go handler. Other hosts (the local dev
// host, older versions) send plain values, so every decoder here accepts both.

// maxEncodingDepth bounds how many JSON-string layers are peeled off a value.
const maxEncodingDepth = 8

// peel strips JSON-string encodings around a JSON value: while the value is a
// JSON string whose content is itself JSON, it continues with that content.
// A string whose content is not JSON (plain text) is returned as that string.
func peel(raw []byte) (json.RawMessage, error) {
	v := bytes.TrimSpace(raw)
	if !json.Valid(v) {
		return nil, errors.New("not valid JSON")
	}
	for depth := 0; ; depth++ {
		if v[0] != '"' {
			return validUTF8(v), nil
		}
		if depth == maxEncodingDepth {
			return nil, fmt.Errorf("value is JSON-encoded more than %d times", maxEncodingDepth)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("decode JSON string: %w", err)
		}
		inner := bytes.TrimSpace([]byte(s))
		if !json.Valid(inner) {
			return validUTF8(v), nil
		}
		v = inner
	}
}

// validUTF8 replaces each byte that is not UTF-8 with U+FFFD, as
// encoding/json does when it decodes a string, so a value reads the same
// whether or not the host wrapped it in a string.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// kind names the JSON type of a peeled value, for error messages.
func kind(v json.RawMessage) string {
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// lookup finds a key exactly, then ignoring case (the host's binding data
// dictionaries are case-insensitive; other senders vary the casing).
func lookup(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok && len(v) > 0 && !isNull(v) {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) && len(v) > 0 && !isNull(v) {
			return v, true
		}
	}
	return nil, false
}

// text decodes a scalar metadata value to its text: "abc", "\"abc\"" and a
// bare number all work. Null is "".
func text(raw json.RawMessage) (string, error) {
	v, err := peel(raw)
	if err != nil {
		return "", err
	}
	switch kind(v) {
	case "string":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", err
		}
		return s, nil
	case "null":
		return "", nil
	case "number", "boolean":
		return string(v), nil
	default:
		return "", fmt.Errorf("want a scalar, got %s", kind(v))
	}
}

func integer(raw json.RawMessage) (int64, error) {
	s, err := text(raw)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer: %w", err)
	}
	return n, nil
}

func boolean(raw json.RawMessage) (bool, error) {
	s, err := text(raw)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("want a boolean: %w", err)
	}
	return b, nil
}

// Json.NET writes DateTimeOffset as 2024-05-01T10:00:00.1234567+00:00, a
// DateTime of kind Utc with Z and one of kind Unspecified (Event Hub
// EnqueuedTimeUtc) with no zone at all; a missing zone is read as UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

func timestamp(raw json.RawMessage) (time.Time, error) {
	s, err := text(raw)
	if err != nil {
		return time.Time{}, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("want an ISO 8601 time, got %q", s)
}

// array peels a value that must be a JSON array and splits it.
func array(raw json.RawMessage) ([]json.RawMessage, error) {
	v, err := peel(raw)
	if err != nil {
		return nil, err
	}
	if kind(v) != "array" {
		return nil, fmt.Errorf("want an array, got %s", kind(v))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, err
	}
	return items, nil
}

// object peels a value that must be a JSON object.
func object(raw json.RawMessage) (json.RawMessage, error) {
	v, err := peel(raw)
	if err != nil {
		return nil, err
	}
	if kind(v) != "object" {
		return nil, fmt.Errorf("want an object, got %s", kind(v))
	}
	return v, nil
}
