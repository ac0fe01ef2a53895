package model

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSafeInteger is the largest integer every JSON reader keeps exactly:
// Cosmos DB stores numbers as IEEE doubles, so a larger one comes back
// rounded and may no longer fit the Go type it was written from.
const MaxSafeInteger = 1<<53 - 1

// SafeInteger reports whether n survives a round trip through Cosmos DB.
func SafeInteger(n int64) bool { return n >= -MaxSafeInteger && n <= MaxSafeInteger }

// MaxTextBytes is the default cap of one stored text field. Alert and
// record text is untrusted; a Cosmos DB item holds at most 2 MB, and no
// description a person reads needs more than this.
const MaxTextBytes = 16 << 10

// ErrUnsafeInteger: a document holds an integer beyond ±MaxSafeInteger.
var ErrUnsafeInteger = errors.New("integer beyond ±2^53")

// cutMarker ends a text field that was cut; n is the length received.
func cutMarker(n int) string {
	return "\n…[cut by runtimelink: " + strconv.Itoa(n) + " bytes received]"
}

// CutField names one text field LimitDocument cut, and its length before.
type CutField struct {
	Path  string
	Bytes int
}

// LimitDocument caps every string field reachable from doc (a pointer to a
// stored document) in place: at MaxTextBytes, or at the byte count of a
// field's `textcap:"N"` tag; `textcap:"-"` leaves a field to its producer
// (the issue body, bounded by the renderer). A cut field keeps its head,
// cut on a UTF-8 boundary, and ends with a marker saying it was cut, so the
// record is kept and a reader knows text is missing. Capping is idempotent.
// It returns the fields it cut, and ErrUnsafeInteger when an integer field
// is beyond ±MaxSafeInteger (that document must not be written).
func LimitDocument(doc any) ([]CutField, error) {
	l := limiter{}
	l.walk(reflect.ValueOf(doc), "", MaxTextBytes)
	return l.cut, l.err
}

type limiter struct {
	cut []CutField
	err error
}

func (l *limiter) walk(v reflect.Value, path string, max int) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			l.walk(v.Elem(), path, max)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Type == reflect.TypeOf(Meta{}) {
				continue
			}
			fmax := max
			switch tag := f.Tag.Get("textcap"); tag {
			case "":
			case "-":
				fmax = -1
			default:
				if n, err := strconv.Atoi(tag); err == nil && n > 0 {
					fmax = n
				}
			}
			l.walk(v.Field(i), joinPath(path, f), fmax)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // raw JSON / bytes: bounded by whoever produced them
		}
		for i := 0; i < v.Len(); i++ {
			l.walk(v.Index(i), path+"["+strconv.Itoa(i)+"]", max)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			s := iter.Value().String()
			if c, ok := capText(s, max); ok {
				v.SetMapIndex(iter.Key(), reflect.ValueOf(c).Convert(v.Type().Elem()))
				l.cut = append(l.cut, CutField{Path: path + "." + fmt.Sprint(iter.Key()), Bytes: len(s)})
			}
		}
	case reflect.String:
		s := v.String()
		if c, ok := capText(s, max); ok && v.CanSet() {
			v.SetString(c)
			l.cut = append(l.cut, CutField{Path: path, Bytes: len(s)})
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !SafeInteger(v.Int()) && l.err == nil {
			l.err = fmt.Errorf("%w: %s is %d", ErrUnsafeInteger, path, v.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if v.Uint() > MaxSafeInteger && l.err == nil {
			l.err = fmt.Errorf("%w: %s is %d", ErrUnsafeInteger, path, v.Uint())
		}
	}
}

func joinPath(path string, f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		name = f.Name
	}
	if f.Anonymous && f.Tag.Get("json") == "" {
		return path
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

// capText returns s cut to max bytes with the cut marker, and true, when s
// is longer than max (max < 0: never).
func capText(s string, max int) (string, bool) {
	if max < 0 || len(s) <= max {
		return s, false
	}
	marker := cutMarker(len(s))
	keep := max - len(marker)
	if keep < 0 {
		keep = 0
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + marker, true
}
