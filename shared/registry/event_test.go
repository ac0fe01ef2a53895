package registry

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

const (
	registryID = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-octo-shared/providers/Microsoft.ContainerRegistry/registries/octoacr"
)

// eventGridSample is testdata/defender/eventgrid-imagepushed.json decoded.
func eventGridSample(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// toCloudEvent re-wraps an Event Grid schema event in the CloudEvents 1.0
// schema the way Event Grid does for a CloudEvents subscription.
func toCloudEvent(eg map[string]any) map[string]any {
	return map[string]any{
		"specversion":     "1.0",
		"type":            eg["eventType"],
		"source":          eg["topic"],
		"id":              eg["id"],
		"time":            eg["eventTime"],
		"subject":         eg["subject"],
		"datacontenttype": "application/json",
		"data":            eg["data"],
	}
}

func asDeleted(eg map[string]any) map[string]any {
	eg["eventType"] = string(KindImageDeleted)
	eg["subject"] = "checkout-api"
	data := eg["data"].(map[string]any)
	data["action"] = "delete"
	target := data["target"].(map[string]any)
	delete(target, "tag")
	delete(target, "size")
	delete(target, "length")
	return eg
}

var encode = jsontest.Marshal

func data(m map[string]any) map[string]any   { return m["data"].(map[string]any) }
func target(m map[string]any) map[string]any { return data(m)["target"].(map[string]any) }

func TestParseEvent(t *testing.T) {
	pushed := Event{
		Kind:       KindImagePushed,
		Schema:     SchemaEventGrid,
		ID:         "4b7d2c1e-9a8f-4e3d-b2c1-0a9f8e7d6c5b",
		Action:     ActionPushed,
		Registry:   "octoacr.azurecr.io",
		Repository: "checkout-api",
		Tag:        "1.4.2",
		Digest:     sampletest.Digest,
		MediaType:  "application/vnd.docker.distribution.manifest.v2+json",
		Size:       1786,
		Time:       time.Date(2026, 11, 18, 9, 30, 11, 288000000, time.UTC),
		Topic:      registryID,
		Subject:    "checkout-api:1.4.2",
	}
	tests := []struct {
		name string
		raw  func(t *testing.T) []byte
		want func() Event
	}{
		{"event grid image pushed (sample)", func(t *testing.T) []byte { return encode(t, eventGridSample(t)) },
			func() Event { return pushed }},
		{"cloudevents image pushed", func(t *testing.T) []byte { return encode(t, toCloudEvent(eventGridSample(t))) },
			func() Event { e := pushed; e.Schema = SchemaCloudEvents; return e }},
		{"event grid image deleted", func(t *testing.T) []byte { return encode(t, asDeleted(eventGridSample(t))) },
			func() Event {
				e := pushed
				e.Kind, e.Action, e.Tag, e.Size, e.Subject = KindImageDeleted, ActionDeleted, "", 0, "checkout-api"
				return e
			}},
		{"cloudevents image deleted", func(t *testing.T) []byte { return encode(t, toCloudEvent(asDeleted(eventGridSample(t)))) },
			func() Event {
				e := pushed
				e.Kind, e.Schema, e.Action, e.Tag, e.Size, e.Subject = KindImageDeleted, SchemaCloudEvents, ActionDeleted, "", 0, "checkout-api"
				return e
			}},
		{"registry from target url when request host is missing", func(t *testing.T) []byte {
			m := eventGridSample(t)
			delete(data(m), "request")
			target(m)["url"] = "https://OctoACR.azurecr.io/v2/checkout-api/manifests/" + sampletest.Digest
			return encode(t, m)
		}, func() Event { return pushed }},
		{"no registry host when nothing names it: the topic's host depends on the cloud", func(t *testing.T) []byte {
			m := eventGridSample(t)
			delete(data(m), "request")
			return encode(t, m)
		}, func() Event { e := pushed; e.Registry = ""; return e }},
		{"no data timestamp falls back to the event time", func(t *testing.T) []byte {
			m := eventGridSample(t)
			delete(data(m), "timestamp")
			return encode(t, m)
		}, func() Event { e := pushed; e.Time = time.Date(2026, 11, 18, 9, 30, 11, 446000000, time.UTC); return e }},
		{"untag deletion naming only the tag", func(t *testing.T) []byte {
			m := asDeleted(eventGridSample(t))
			delete(target(m), "digest")
			target(m)["tag"] = "1.4.2"
			return encode(t, m)
		}, func() Event {
			e := pushed
			e.Kind, e.Action, e.Digest, e.Size, e.Subject = KindImageDeleted, ActionDeleted, "", 0, "checkout-api"
			return e
		}},
		{"image named only by the subject", func(t *testing.T) []byte {
			m := eventGridSample(t)
			delete(target(m), "repository")
			delete(target(m), "tag")
			delete(target(m), "digest")
			m["subject"] = "checkout-api@" + strings.ToUpper(sampletest.Digest[:7]) + sampletest.Digest[7:]
			return encode(t, m)
		}, func() Event {
			e := pushed
			e.Tag, e.Subject = "", "checkout-api@SHA256:"+sampletest.Digest[7:]
			return e
		}},
		{"keys in PascalCase", func(t *testing.T) []byte { return encode(t, recase(eventGridSample(t))) },
			func() Event { return pushed }},
		{"subscription validation", func(t *testing.T) []byte {
			return []byte(`{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/x","subject":"",
				"data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/x/validate?id=512d38b6"},
				"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2018-01-25T22:12:19.4556811Z","metadataVersion":"1","dataVersion":"1"}`)
		}, func() Event {
			return Event{
				Kind: KindSubscriptionValidation, Schema: SchemaEventGrid, ID: "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
				Time: time.Date(2018, 1, 25, 22, 12, 19, 455681100, time.UTC), Topic: "/subscriptions/x",
				Validation: &Validation{Code: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
					URL: "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/x/validate?id=512d38b6"},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent(tt.raw(t))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want()
			if got.Validation != nil && want.Validation != nil && *got.Validation == *want.Validation {
				got.Validation, want.Validation = nil, nil
			}
			if got != want {
				t.Errorf("event =\n%+v\nwant\n%+v", got, want)
			}
			if got.Kind != KindSubscriptionValidation && got.Registry != "" && got.Image() != "octoacr.azurecr.io/checkout-api" {
				t.Errorf("image = %q", got.Image())
			}
		})
	}
}

func recase(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			r := []rune(k)
			r[0] = unicode.ToUpper(r[0])
			out[string(r)] = recase(e)
		}
		return out
	case []any:
		for i := range t {
			t[i] = recase(t[i])
		}
	}
	return v
}

func TestParseEventErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  func(t *testing.T) []byte
		want error
	}{
		{"helm chart pushed", func(t *testing.T) []byte {
			m := eventGridSample(t)
			m["eventType"] = "Microsoft.ContainerRegistry.ChartPushed"
			return encode(t, m)
		}, ErrUnknownType},
		{"storage event as a cloudevent", func(t *testing.T) []byte {
			return []byte(`{"specversion":"1.0","type":"Microsoft.Storage.BlobCreated","source":"/x","id":"1","data":{}}`)
		}, ErrUnknownType},
		{"not JSON", func(t *testing.T) []byte { return []byte(`{"eventType":`) }, ErrMalformed},
		{"trailing data", func(t *testing.T) []byte { return append(encode(t, eventGridSample(t)), " {}"...) }, ErrMalformed},
		{"no envelope", func(t *testing.T) []byte { return []byte(`{"id":"1","data":{}}`) }, ErrMalformed},
		{"unsupported cloudevents version", func(t *testing.T) []byte {
			m := toCloudEvent(eventGridSample(t))
			m["specversion"] = "0.3"
			return encode(t, m)
		}, ErrMalformed},
		{"null data", func(t *testing.T) []byte {
			m := eventGridSample(t)
			m["data"] = nil
			return encode(t, m)
		}, ErrMalformed},
		{"push without digest", func(t *testing.T) []byte {
			m := eventGridSample(t)
			delete(target(m), "digest")
			return encode(t, m)
		}, ErrMalformed},
		{"deletion naming neither digest nor tag", func(t *testing.T) []byte {
			m := asDeleted(eventGridSample(t))
			delete(target(m), "digest")
			return encode(t, m)
		}, ErrMalformed},
		{"no repository", func(t *testing.T) []byte {
			m := eventGridSample(t)
			delete(target(m), "repository")
			m["subject"] = ""
			return encode(t, m)
		}, ErrMalformed},
		{"digest without algorithm", func(t *testing.T) []byte {
			m := eventGridSample(t)
			target(m)["digest"] = "5e1f2a3b"
			return encode(t, m)
		}, ErrMalformed},
		{"validation without code", func(t *testing.T) []byte {
			return []byte(`{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{}}`)
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent(tt.raw(t))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseEvents(t *testing.T) {
	good := encode(t, eventGridSample(t))
	chart := eventGridSample(t)
	chart["eventType"] = "Microsoft.ContainerRegistry.ChartPushed"
	deleted := encode(t, toCloudEvent(asDeleted(eventGridSample(t))))
	raw := "[" + string(good) + "," + string(encode(t, chart)) + "," + string(deleted) + "]"

	evs, errs := ParseEvents([]byte(raw))
	if len(evs) != 2 || evs[0].Action != ActionPushed || evs[1].Action != ActionDeleted {
		t.Fatalf("events = %+v", evs)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrUnknownType) || !strings.HasPrefix(errs[0].Error(), "event 1:") {
		t.Fatalf("errors = %v", errs)
	}

	evs, errs = ParseEvents(good)
	if len(evs) != 1 || len(errs) != 0 {
		t.Fatalf("single event: %v %v", evs, errs)
	}
	if _, errs = ParseEvents([]byte(`[{]`)); len(errs) != 1 || !errors.Is(errs[0], ErrMalformed) {
		t.Fatalf("bad array: %v", errs)
	}
}
