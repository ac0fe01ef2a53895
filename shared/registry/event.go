// Package registry reads Azure Container Registry events delivered by Event
// Grid — ImagePushed and ImageDeleted, in the Event Grid schema or the
// CloudEvents 1.0 schema — into one Event shape, and recognizes Event Grid's
// subscription validation event. It knows the wire shapes, not storage.
package registry

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Kind is the event type, as Event Grid names it.
type Kind string

const (
	KindImagePushed            Kind = "Microsoft.ContainerRegistry.ImagePushed"
	KindImageDeleted           Kind = "Microsoft.ContainerRegistry.ImageDeleted"
	KindSubscriptionValidation Kind = "Microsoft.EventGrid.SubscriptionValidationEvent"
)

// Action is what happened to the image.
type Action string

const (
	ActionPushed  Action = "pushed"
	ActionDeleted Action = "deleted"
)

// Schema is the envelope the event came in.
type Schema string

const (
	SchemaEventGrid   Schema = "eventgrid"
	SchemaCloudEvents Schema = "cloudevents"
)

var (
	// ErrUnknownType: a well-formed event of a type runtimelink does not
	// handle (Helm chart events, other sources). Acknowledge and skip it.
	ErrUnknownType = errors.New("unknown event type")
	// ErrMalformed: not an event, or an image event without what it needs.
	ErrMalformed = errors.New("malformed registry event")
)

// Event is one registry event.
type Event struct {
	Kind   Kind
	Schema Schema
	ID     string // the event id (Event Grid retries carry the same one)
	Action Action // empty for the validation event
	// Registry is the login server (octoacr.azurecr.io), lower case: from
	// data.request.host, else the host of data.target.url; "" when the
	// event names neither (the consumer derives it from Topic in its
	// configured cloud: mapping.Cloud.ACRLoginServer).
	Registry   string
	Repository string
	Tag        string // empty when the event names no tag (most deletions)
	Digest     string // sha256:..., lower case
	MediaType  string
	Size       int64
	// Time is when the registry acted (data.timestamp), else when the event
	// was published.
	Time time.Time
	// Topic is the registry's ARM resource id (topic / source).
	Topic   string
	Subject string

	// Validation is set for KindSubscriptionValidation only.
	Validation *Validation
}

// Validation is Event Grid's subscription validation handshake.
type Validation struct {
	Code string
	URL  string
}

// Image is the normalized image name, registry/repository.
func (e Event) Image() string {
	if e.Registry == "" {
		return e.Repository
	}
	return e.Registry + "/" + e.Repository
}

// envelope holds both schemas' fields; encoding/json matches keys
// case-insensitively, which covers casing drift.
type envelope struct {
	// Event Grid schema.
	EventType string `json:"eventType"`
	EventTime string `json:"eventTime"`
	Topic     string `json:"topic"`
	// CloudEvents 1.0.
	SpecVersion string `json:"specversion"`
	Type        string `json:"type"`
	Source      string `json:"source"`
	Time        string `json:"time"`
	// Both.
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

type imageData struct {
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Action    string `json:"action"`
	Target    struct {
		MediaType  string          `json:"mediaType"`
		Size       json.RawMessage `json:"size"`
		Digest     string          `json:"digest"`
		Length     json.RawMessage `json:"length"`
		Repository string          `json:"repository"`
		Tag        string          `json:"tag"`
		URL        string          `json:"url"`
	} `json:"target"`
	Request struct {
		ID   string `json:"id"`
		Host string `json:"host"`
	} `json:"request"`
}

type validationData struct {
	ValidationCode string `json:"validationCode"`
	ValidationURL  string `json:"validationUrl"`
}

// ParseEvent reads one event in the Event Grid or the CloudEvents schema.
func ParseEvent(raw []byte) (Event, error) {
	var env envelope
	d := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(raw)))
	if err := d.Decode(&env); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Event{}, fmt.Errorf("%w: data after the event", ErrMalformed)
	}
	ev := Event{ID: env.ID, Subject: env.Subject}
	var published string
	switch {
	case env.SpecVersion != "":
		if !strings.HasPrefix(env.SpecVersion, "1.") {
			return Event{}, fmt.Errorf("%w: CloudEvents specversion %q", ErrMalformed, env.SpecVersion)
		}
		ev.Schema, ev.Kind, ev.Topic, published = SchemaCloudEvents, Kind(env.Type), env.Source, env.Time
	case env.EventType != "":
		ev.Schema, ev.Kind, ev.Topic, published = SchemaEventGrid, Kind(env.EventType), env.Topic, env.EventTime
	default:
		return Event{}, fmt.Errorf("%w: neither an Event Grid (eventType) nor a CloudEvents (specversion) event", ErrMalformed)
	}
	ev.Time = parseTime(published)

	switch {
	case strings.EqualFold(string(ev.Kind), string(KindSubscriptionValidation)):
		ev.Kind = KindSubscriptionValidation
		var v validationData
		if err := decodeData(env.Data, &v); err != nil {
			return Event{}, err
		}
		if v.ValidationCode == "" {
			return Event{}, fmt.Errorf("%w: subscription validation event without validationCode", ErrMalformed)
		}
		ev.Validation = &Validation{Code: v.ValidationCode, URL: v.ValidationURL}
		return ev, nil
	case strings.EqualFold(string(ev.Kind), string(KindImagePushed)):
		ev.Kind, ev.Action = KindImagePushed, ActionPushed
	case strings.EqualFold(string(ev.Kind), string(KindImageDeleted)):
		ev.Kind, ev.Action = KindImageDeleted, ActionDeleted
	default:
		return Event{}, fmt.Errorf("%w: %q", ErrUnknownType, ev.Kind)
	}

	var data imageData
	if err := decodeData(env.Data, &data); err != nil {
		return Event{}, err
	}
	t := data.Target
	ev.Repository = t.Repository
	ev.Tag = t.Tag
	ev.Digest = strings.ToLower(t.Digest)
	ev.MediaType = t.MediaType
	ev.Size = firstInt(t.Size, t.Length)
	if ts := parseTime(data.Timestamp); !ts.IsZero() {
		ev.Time = ts
	}
	if ev.Repository == "" || ev.Tag == "" && ev.Digest == "" {
		// The subject names the image too: "repo:tag" or "repo@sha256:...".
		repo, tag, digest := splitSubject(env.Subject)
		ev.Repository = cmp.Or(ev.Repository, repo)
		ev.Tag = cmp.Or(ev.Tag, tag)
		ev.Digest = cmp.Or(ev.Digest, digest)
	}
	ev.Registry = strings.ToLower(cmp.Or(data.Request.Host, urlHost(t.URL)))

	if ev.Repository == "" {
		return Event{}, fmt.Errorf("%w: %s event %s names no repository", ErrMalformed, ev.Kind, ev.ID)
	}
	// A push always names the manifest digest; a deletion names the digest
	// or, for an untag, the tag.
	if ev.Digest == "" && (ev.Action == ActionPushed || ev.Tag == "") {
		return Event{}, fmt.Errorf("%w: %s event %s names no digest", ErrMalformed, ev.Kind, ev.ID)
	}
	if ev.Digest != "" && !strings.Contains(ev.Digest, ":") {
		return Event{}, fmt.Errorf("%w: %s event %s: digest %q has no algorithm", ErrMalformed, ev.Kind, ev.ID, ev.Digest)
	}
	return ev, nil
}

// ParseEvents reads a webhook delivery body: a JSON array of events (Event
// Grid delivers up to its batch size in one POST) or a single event. It
// returns the events it could read and, for the others, an error that names
// the position.
func ParseEvents(raw []byte) ([]Event, []error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		ev, err := ParseEvent(raw)
		if err != nil {
			return nil, []error{fmt.Errorf("event 0: %w", err)}
		}
		return []Event{ev}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, []error{fmt.Errorf("%w: event array: %v", ErrMalformed, err)}
	}
	var (
		evs  []Event
		errs []error
	)
	for i, it := range items {
		ev, err := ParseEvent(it)
		if err != nil {
			errs = append(errs, fmt.Errorf("event %d: %w", i, err))
			continue
		}
		evs = append(evs, ev)
	}
	return evs, errs
}

func decodeData(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return fmt.Errorf("%w: event has no data", ErrMalformed)
	}
	if raw[0] == '"' {
		// data carried as a JSON string (some CloudEvents producers do).
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%w: data: %v", ErrMalformed, err)
		}
		raw = []byte(s)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: data: %v", ErrMalformed, err)
	}
	return nil
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func firstInt(vals ...json.RawMessage) int64 {
	for _, v := range vals {
		var n json.Number
		if json.Unmarshal(v, &n) == nil {
			if i, err := n.Int64(); err == nil {
				return i
			}
		}
	}
	return 0
}

func splitSubject(s string) (repo, tag, digest string) {
	if i := strings.Index(s, "@"); i >= 0 {
		return s[:i], "", strings.ToLower(s[i+1:])
	}
	if i := strings.LastIndex(s, ":"); i >= 0 {
		return s[:i], s[i+1:], ""
	}
	return s, "", ""
}

func urlHost(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Host
}
