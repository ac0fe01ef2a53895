// Package defender reads what Microsoft Defender for Cloud tells runtimelink:
// continuous-export records from Event Hub (assessments, container image CVE
// sub-assessments in both the MDVM and the older format, security alerts in
// either casing) normalized into Records, and attack paths from Azure
// Resource Graph. It knows the wire shapes and nothing about storage.
package defender

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is the kind of an exported record.
type Kind string

const (
	KindAssessment    Kind = "assessment"
	KindSubAssessment Kind = "subAssessment"
	KindAlert         Kind = "alert"
)

// Action is what the export says happened to the record.
type Action string

const (
	// ActionInsert: the record is the current state (new or changed). Records
	// without an enrichment block read as Insert.
	ActionInsert Action = "Insert"
	// ActionDelete: the record is gone (resource deleted, finding removed).
	ActionDelete Action = "Delete"
)

// Record is one exported Defender record, a tagged union: exactly one of
// Assessment, SubAssessment and Alert is set, as Kind says.
type Record struct {
	Kind Kind
	// ID is the record's stable identity: the ARM id for assessments and
	// sub-assessments, the system alert id for alerts (the same alert exported
	// in camelCase and in PascalCase carries the same one).
	ID         string
	Action     Action
	IsSnapshot bool   // part of the weekly snapshot, not a change
	APIVersion string // from the enrichment block, when given
	TenantID   string

	Assessment    *Assessment
	SubAssessment *SubAssessment
	Alert         *Alert
}

// Errors a record can fail with; RecordError wraps them with the position.
var (
	// ErrUnknownType: a well-formed record of a type runtimelink does not
	// read (secure scores, compliance, non-container sub-assessments...).
	// Count and skip it; it is not a fault.
	ErrUnknownType = errors.New("unknown defender record type")
	// ErrMalformed: the record is not JSON, or lacks what its kind needs.
	ErrMalformed = errors.New("malformed defender record")

	errTrailingData = errors.New("data after the JSON value")
)

// RecordError is the error of one record of a message.
type RecordError struct {
	// Index is the record's position in the message (0 for a message that
	// holds a single record). -1 means the message itself could not be read
	// and nothing of it was kept.
	Index int
	Err   error
}

func (e *RecordError) Error() string {
	if e.Index < 0 {
		return "defender export message: " + e.Err.Error()
	}
	return fmt.Sprintf("defender export record %d: %s", e.Index, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// ParseMessage reads one Event Hub message of the continuous export. A message
// holds one record or a JSON array of records (a `{"records": [...]}` envelope
// and a JSON-string-encoded message are accepted too). It returns every
// record it could read and one *RecordError per record it could not, so the
// caller logs and skips bad ones and keeps the rest. Records are returned in
// message order; a legacy sub-assessment naming several CVEs stays one Record.
func ParseMessage(raw []byte) ([]Record, []error) {
	raw = bytes.TrimSpace(raw)
	// One level of string encoding: some pipelines deliver the JSON text
	// itself as a JSON string.
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, []error{&RecordError{Index: -1, Err: malformed("string-encoded message: %v", err)}}
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	if len(raw) == 0 {
		return nil, []error{&RecordError{Index: -1, Err: malformed("empty message")}}
	}
	if raw[0] == '[' {
		return parseArray(raw)
	}
	var top map[string]any
	if err := decodeJSON(raw, &top); err != nil {
		return nil, []error{&RecordError{Index: 0, Err: malformed("not a JSON object: %v", err)}}
	}
	if recs, ok := envelopeRecords(top); ok {
		return parseList(recs)
	}
	rec, err := parseRecord(fields(top))
	if err != nil {
		return nil, []error{&RecordError{Index: 0, Err: err}}
	}
	return []Record{rec}, nil
}

// envelopeRecords recognizes {"records": [...]} (the Azure Monitor shape).
func envelopeRecords(top map[string]any) ([]any, bool) {
	if len(top) != 1 {
		return nil, false
	}
	for k, v := range top {
		if a, ok := v.([]any); ok && strings.EqualFold(k, "records") {
			return a, true
		}
	}
	return nil, false
}

// parseArray streams the array element by element, so a syntax error late
// in the array keeps the records before it.
func parseArray(raw []byte) ([]Record, []error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if _, err := d.Token(); err != nil { // '['
		return nil, []error{&RecordError{Index: -1, Err: malformed("array: %v", err)}}
	}
	var (
		recs []Record
		errs []error
	)
	for i := 0; d.More(); i++ {
		var v any
		if err := d.Decode(&v); err != nil {
			// The decoder cannot resynchronize after a syntax error: the rest
			// of the message is lost, and said so.
			errs = append(errs, &RecordError{Index: i, Err: malformed("invalid JSON, rest of message unreadable: %v", err)})
			return recs, errs
		}
		rec, err := parseValue(v)
		if err != nil {
			errs = append(errs, &RecordError{Index: i, Err: err})
			continue
		}
		recs = append(recs, rec)
	}
	if _, err := d.Token(); err != nil { // ']'
		errs = append(errs, &RecordError{Index: -1, Err: malformed("array not closed: %v", err)})
	}
	return recs, errs
}

func parseList(list []any) ([]Record, []error) {
	var (
		recs []Record
		errs []error
	)
	for i, v := range list {
		rec, err := parseValue(v)
		if err != nil {
			errs = append(errs, &RecordError{Index: i, Err: err})
			continue
		}
		recs = append(recs, rec)
	}
	return recs, errs
}

func parseValue(v any) (Record, error) {
	f := asFields(v)
	if f == nil {
		return Record{}, malformed("record is %s, not an object", jsonKind(v))
	}
	return parseRecord(f)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// parseRecord dispatches on the record's type, or on its shape when the
// type is missing.
func parseRecord(f fields) (Record, error) {
	kind, err := recordKind(f)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Kind: kind, TenantID: f.str("tenantId", "TenantId")}
	if err := readEnrichment(f, kind, &rec); err != nil {
		return Record{}, err
	}
	switch kind {
	case KindAssessment:
		a, err := parseAssessment(f, rec.Action)
		if err != nil {
			return Record{}, err
		}
		rec.ID, rec.Assessment = a.ID, a
	case KindSubAssessment:
		s, err := parseSubAssessment(f, rec.Action)
		if err != nil {
			return Record{}, err
		}
		rec.ID, rec.SubAssessment = s.ID, s
	case KindAlert:
		a, err := parseAlert(f)
		if err != nil {
			return Record{}, err
		}
		rec.ID, rec.Alert = a.AlertID, a
	}
	return rec, nil
}

const (
	typeAssessments    = "microsoft.security/assessments"
	typeSubAssessments = "microsoft.security/assessments/subassessments"
)

func recordKind(f fields) (Kind, error) {
	typ := strings.ToLower(f.str("type", "Type"))
	switch typ {
	case typeAssessments:
		return KindAssessment, nil
	case typeSubAssessments:
		return KindSubAssessment, nil
	case "microsoft.security/locations/alerts", "microsoft.security/alerts", "securityalert":
		return KindAlert, nil
	case "":
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownType, f.str("type", "Type"))
	}
	// No type: the enrichment block or the shape says what it is.
	switch {
	case f.has("subAssessmentEventDataEnrichment"):
		return KindSubAssessment, nil
	case f.has("assessmentEventDataEnrichment"):
		return KindAssessment, nil
	case f.has("alertEventDataEnrichment", "systemAlertId", "alertDisplayName", "alertName", "alertType") ||
		f.obj("properties").has("systemAlertId", "alertDisplayName", "alertType"):
		return KindAlert, nil
	}
	id := strings.ToLower(f.str("id", "Id"))
	switch {
	case strings.Contains(id, "/providers/microsoft.security/assessments/") && strings.Contains(id, "/subassessments/"):
		return KindSubAssessment, nil
	case strings.Contains(id, "/providers/microsoft.security/assessments/"):
		return KindAssessment, nil
	}
	return "", fmt.Errorf("%w: record has no type and no recognizable shape", ErrUnknownType)
}

// enrichmentKeys lists, per kind, the continuous-export enrichment blocks in
// the order they are trusted. The kind's own block wins; securityEventData-
// Enrichment is the generic one; any other *EventDataEnrichment is a fallback.
var enrichmentKeys = map[Kind][]string{
	KindAssessment:    {"assessmentEventDataEnrichment", "securityEventDataEnrichment"},
	KindSubAssessment: {"subAssessmentEventDataEnrichment", "securityEventDataEnrichment"},
	KindAlert:         {"alertEventDataEnrichment", "securityEventDataEnrichment"},
}

func readEnrichment(f fields, kind Kind, rec *Record) error {
	e := f.obj(enrichmentKeys[kind]...)
	if e == nil {
		for k, v := range f {
			if strings.HasSuffix(strings.ToLower(k), "eventdataenrichment") {
				if e = asFields(v); e != nil {
					break
				}
			}
		}
	}
	rec.Action = ActionInsert
	if e == nil {
		return nil
	}
	switch a := strings.ToLower(e.str("action")); a {
	case "", "insert", "update", "upsert":
	case "delete":
		rec.Action = ActionDelete
	default:
		return malformed("enrichment action %q is neither Insert nor Delete", e.str("action"))
	}
	rec.IsSnapshot = e.boolean("isSnapshot")
	rec.APIVersion = e.str("apiVersion")
	return nil
}

// StatusCode of an assessment or sub-assessment.
type StatusCode string

const (
	StatusHealthy       StatusCode = "Healthy"
	StatusUnhealthy     StatusCode = "Unhealthy"
	StatusNotApplicable StatusCode = "NotApplicable"
)

// parseStatus normalizes the casing of a status code; ok=false when unknown.
// statusOf reads status.code of what ("assessment <id>"): "" when there is
// none, malformed when it is not a status.
func statusOf(st fields, what string) (StatusCode, error) {
	code := st.str("code")
	if code == "" {
		return "", nil
	}
	s, ok := parseStatus(code)
	if !ok {
		return "", malformed("%s: status code %q is not Healthy, Unhealthy or NotApplicable", what, code)
	}
	return s, nil
}

func parseStatus(s string) (StatusCode, bool) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", "")) {
	case "healthy":
		return StatusHealthy, true
	case "unhealthy":
		return StatusUnhealthy, true
	case "notapplicable":
		return StatusNotApplicable, true
	}
	return "", false
}

// normalizeSeverity lower-cases a severity and folds synonyms onto
// critical / high / medium / low; anything else is kept lower-cased.
func normalizeSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "moderate":
		return "medium"
	case "informational", "information", "info":
		return "low"
	}
	return s
}

// armScope returns the part of an ARM id before "/providers/Microsoft.Security/"
// (the assessed resource), or "" when the id has no such part.
func armScope(id string) string {
	i := strings.Index(strings.ToLower(id), "/providers/microsoft.security/")
	if i <= 0 {
		return ""
	}
	return id[:i]
}

// zeroIfBefore1971 drops the placeholder dates (0001-01-01, 1970-01-01) some
// exports carry for "unknown".
func zeroIfBefore1971(t time.Time) time.Time {
	if t.Year() < 1971 {
		return time.Time{}
	}
	return t
}
