package main

import (
	"testing"
)

func TestValidationCode(t *testing.T) {
	tests := []struct {
		name, body, want string
		ok               bool
	}{
		{"event grid schema array", `[{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"abc","validationUrl":"https://x"}}]`, "abc", true},
		{"cloud event, data object", `{"specversion":"1.0","type":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"def"}}`, "def", true},
		{"cloud event, data double-encoded", `{"specversion":"1.0","type":"Microsoft.EventGrid.SubscriptionValidationEvent","data":"{\"validationCode\":\"ghi\"}"}`, "ghi", true},
		{"no code", `[{"id":"1","data":{}}]`, "", false},
		{"empty array", `[]`, "", false},
		{"not json", `validation`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validationCode([]byte(tt.body))
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("validationCode = %q, %v; want %q, ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}
