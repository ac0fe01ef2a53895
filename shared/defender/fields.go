package defender

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
)

// fields is one decoded JSON object whose keys are looked up the way
// Defender's exports need: exact match first, then case-insensitively, so the
// camelCase API shape, the PascalCase Log Analytics shape and anything in
// between read the same. Missing keys, nulls and values of the wrong type all
// read as the zero value; callers decide which fields are required.
type fields map[string]any

// get returns the value of the first key present (and not null).
func (f fields) get(keys ...string) any {
	if f == nil {
		return nil
	}
	for _, k := range keys {
		if v, ok := f[k]; ok && v != nil {
			return v
		}
	}
	for _, k := range keys {
		for fk, v := range f {
			if v != nil && strings.EqualFold(fk, k) {
				return v
			}
		}
	}
	return nil
}

// has reports whether any of the keys is present with a non-null value.
func (f fields) has(keys ...string) bool { return f.get(keys...) != nil }

// obj returns a nested object. An object that was exported as a JSON string
// (Log Analytics stores ExtendedProperties and friends that way) is decoded.
func (f fields) obj(keys ...string) fields {
	return asFields(f.get(keys...))
}

func asFields(v any) fields {
	switch t := v.(type) {
	case map[string]any:
		return fields(t)
	case fields:
		return t
	case string:
		s := strings.TrimSpace(t)
		if strings.HasPrefix(s, "{") {
			var m map[string]any
			if decodeJSON([]byte(s), &m) == nil {
				return fields(m)
			}
		}
	}
	return nil
}

// list returns a nested array; a JSON string holding an array is decoded, and
// a single non-array value reads as a one-element list.
func (f fields) list(keys ...string) []any {
	switch t := f.get(keys...).(type) {
	case nil:
		return nil
	case []any:
		return t
	case string:
		s := strings.TrimSpace(t)
		if strings.HasPrefix(s, "[") {
			var a []any
			if decodeJSON([]byte(s), &a) == nil {
				return a
			}
		}
		if s == "" {
			return nil
		}
		return []any{t}
	default:
		return []any{t}
	}
}

// str returns a string value; numbers and booleans are formatted.
func (f fields) str(keys ...string) string { return asString(f.get(keys...)) }

func asString(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

// strs returns a list of strings, skipping empty entries and non-strings.
func (f fields) strs(keys ...string) []string {
	var out []string
	for _, v := range f.list(keys...) {
		if s := asString(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// num returns a number; numeric strings count. nil when absent or not a number.
func (f fields) num(keys ...string) *float64 { return asNumber(f.get(keys...)) }

func asNumber(v any) *float64 {
	var s string
	switch t := v.(type) {
	case float64:
		return &t
	case json.Number:
		s = t.String()
	case string:
		s = strings.TrimSpace(t)
	default:
		return nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &n
}

// boolean returns a boolean; "true"/"false" strings count.
func (f fields) boolean(keys ...string) bool {
	switch t := f.get(keys...).(type) {
	case bool:
		return t
	case string:
		b, _ := strconv.ParseBool(strings.TrimSpace(t))
		return b
	}
	return false
}

// timeLayouts are the timestamp shapes seen in exports: RFC 3339 with any
// number of fraction digits, and the same without a zone (meaning UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02"}

// time returns a timestamp in UTC; the zero time when absent or unparseable.
func (f fields) time(keys ...string) time.Time {
	s := f.str(keys...)
	if s == "" {
		return time.Time{}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// stringMap returns a flat object as strings (non-string values formatted as JSON).
func (f fields) stringMap(keys ...string) map[string]string {
	o := f.obj(keys...)
	if len(o) == 0 {
		return nil
	}
	out := make(map[string]string, len(o))
	for k, v := range o {
		switch t := v.(type) {
		case nil:
		case string, json.Number, bool:
			out[k] = asString(t)
		default:
			b, err := json.Marshal(t)
			if err == nil {
				out[k] = string(b)
			}
		}
	}
	return out
}

// decodeJSON decodes keeping numbers as json.Number, so large ids and scores
// survive untouched.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}
