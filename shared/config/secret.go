package config

import (
	"encoding/json"
	"log/slog"
)

// redacted is what every printed form of a set Secret shows.
const redacted = "[redacted]"

// Secret holds a secret setting. Every way of printing it (fmt verbs, %#v,
// slog, JSON) shows "[redacted]", so a config dumped into a log line or an
// error never leaks it; Value is the one way to read it.
type Secret string

// Value returns the secret itself, for the code that uses it.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s != "" }

// String shows "[redacted]" for a set secret and "" for an unset one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON keeps JSON encoding (a health answer, a debug dump) from
// printing the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
