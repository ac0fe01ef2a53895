package main

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST case needs a zone database even where the system has none
)

func TestScheduleNext(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr string
		from string
		want []string // successive occurrences
	}{
		{"* * * * * *", "2024-05-01T10:00:00Z", []string{"2024-05-01T10:00:01Z", "2024-05-01T10:00:02Z"}},
		{"0 * * * * *", "2024-05-01T10:00:00Z", []string{"2024-05-01T10:01:00Z", "2024-05-01T10:02:00Z"}},
		{"0 0 2 * * *", "2024-05-01T10:00:00Z", []string{"2024-05-02T02:00:00Z", "2024-05-03T02:00:00Z"}},
		{"0 0 2 * * *", "2024-05-01T01:59:59Z", []string{"2024-05-01T02:00:00Z"}},
		{"0 */5 * * * *", "2024-05-01T10:03:10Z", []string{"2024-05-01T10:05:00Z", "2024-05-01T10:10:00Z"}},
		{"0 5/20 * * * *", "2024-05-01T10:06:00Z", []string{"2024-05-01T10:25:00Z", "2024-05-01T10:45:00Z", "2024-05-01T11:05:00Z"}},
		{"0 10-20/5 * * * *", "2024-05-01T10:12:00Z", []string{"2024-05-01T10:15:00Z", "2024-05-01T10:20:00Z", "2024-05-01T11:10:00Z"}},
		{"30 15 9,17 * * *", "2024-05-01T09:15:30Z", []string{"2024-05-01T17:15:30Z", "2024-05-02T09:15:30Z"}},
		{"0 0 9 * * 1-5", "2024-05-03T10:00:00Z", []string{"2024-05-06T09:00:00Z", "2024-05-07T09:00:00Z"}}, // Fri → Mon
		{"0 0 9 * * Mon,Wed", "2024-05-01T10:00:00Z", []string{"2024-05-06T09:00:00Z", "2024-05-08T09:00:00Z"}},
		{"0 0 0 1 Jan *", "2024-05-01T00:00:00Z", []string{"2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
		{"0 0 0 31 * *", "2024-01-31T00:00:00Z", []string{"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z"}}, // skips short months
		{"0 0 0 29 2 *", "2024-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},                         // next leap day
		// Day and day-of-week must both match (NCRONTAB): the 13th that is a Friday.
		{"0 0 0 13 * 5", "2024-01-01T00:00:00Z", []string{"2024-09-13T00:00:00Z", "2024-12-13T00:00:00Z"}},
		{"0 0 0 * * 0", "2024-05-04T23:59:59Z", []string{"2024-05-05T00:00:00Z"}}, // Sunday is 0
		{"00:05:00", "2024-05-01T10:00:07Z", []string{"2024-05-01T10:05:07Z", "2024-05-01T10:10:07Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr+"@"+tt.from, func(t *testing.T) {
			s, err := ParseSchedule(tt.expr)
			if err != nil {
				t.Fatalf("ParseSchedule: %v", err)
			}
			at := utc(tt.from)
			for _, w := range tt.want {
				at = s.Next(at)
				if !at.Equal(utc(w)) {
					t.Fatalf("next = %s, want %s", at.Format(time.RFC3339), w)
				}
			}
		})
	}
}

func TestScheduleNextAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchedule("0 */30 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	// 2024-11-03: 01:00-02:00 happens twice. Every step must move forward
	// and land on :00 or :30, through both passes.
	at := time.Date(2024, 11, 3, 0, 0, 0, 0, ny)
	end := time.Date(2024, 11, 3, 4, 0, 0, 0, ny)
	steps := 0
	for at.Before(end) {
		next := s.Next(at)
		if !next.After(at) {
			t.Fatalf("Next(%s) = %s does not move forward", at, next)
		}
		if m := next.Minute(); (m != 0 && m != 30) || next.Second() != 0 {
			t.Fatalf("Next(%s) = %s is off schedule", at, next)
		}
		at = next
		steps++
	}
	if steps != 10 { // 00:30 … 04:00 is 4 wall hours plus the repeated hour = 5 real hours
		t.Fatalf("%d occurrences in 5 real hours, want 10", steps)
	}
	// Spring forward: 2024-03-10 02:00-03:00 does not exist.
	d, err := ParseSchedule("0 0 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	got := d.Next(time.Date(2024, 3, 9, 12, 0, 0, 0, ny))
	if !got.After(time.Date(2024, 3, 9, 12, 0, 0, 0, ny)) || got.After(time.Date(2024, 3, 11, 2, 0, 0, 0, ny)) {
		t.Fatalf("Next across spring-forward = %s", got)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "want 6 fields"},
		{"* * * * *", "want 6 fields"}, // 5-field cron is not NCRONTAB
		{"60 * * * * *", "second field"},
		{"* 60 * * * *", "minute field"},
		{"* * 24 * * *", "hour field"},
		{"* * * 0 * *", "day field"},
		{"* * * 32 * *", "day field"},
		{"* * * * 13 *", "month field"},
		{"* * * * * 7", "day-of-week field"},
		{"* * * * Foo *", "month field"},
		{"*/0 * * * * *", "step"},
		{"5-1 * * * * *", "backwards"},
		{"a * * * * *", "not a number"},
		{"25:00:00", "TimeSpan"},
		{"00:00:00", "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseSchedule(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseSchedule(%q) error = %v, want it to mention %q", tt.expr, err, tt.want)
			}
		})
	}
}

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:00:30", 30 * time.Second, true},
		{"00:10:00", 10 * time.Minute, true},
		{"01:02:03", time.Hour + 2*time.Minute + 3*time.Second, true},
		{"1.02:00:00", 26 * time.Hour, true},
		{"00:00:00.5", 500 * time.Millisecond, true},
		{"00:00:00.0000001", 100 * time.Nanosecond, true},
		{"00:05", 5 * time.Minute, true},
		{"24:00:00", 0, false},
		{"00:60:00", 0, false},
		{"30s", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseTimeSpan(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseTimeSpan(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestHostDateTime(t *testing.T) {
	if got := hostDateTime(time.Time{}); got != "0001-01-01T00:00:00" {
		t.Errorf("zero = %q", got)
	}
	at := time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)
	if got := hostDateTime(at); got != "2024-05-01T02:00:00+00:00" {
		t.Errorf("hostDateTime = %q", got)
	}
}

// TestAppTimers loads the repo's own function.json files with the sample
// settings, as `make run` does: the timers are the nightly reprioritize and
// the redeliver run, whose schedule comes from
// RUNTIMELINK_REDELIVER_SCHEDULE (every 10 minutes in the sample).
func TestAppTimers(t *testing.T) {
	app, err := LoadApp(LoadOptions{Dir: "../..", SettingsFile: "../../local.settings.sample.json",
		Environ: []string{"EVENTHUB_NAME=x", "EVENTHUB_CONSUMER_GROUP=y"}})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 4, 10, 3, 0, 0, time.UTC)
	want := map[string]time.Time{
		"reprioritize": time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC),
		"redeliver":    time.Date(2026, 12, 4, 10, 10, 0, 0, time.UTC),
	}
	got := map[string]time.Time{}
	for _, f := range app.Functions {
		if f.Kind() != triggerTimer {
			continue
		}
		s, err := ParseSchedule(f.Trigger.Schedule)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got[f.Name] = s.Next(from)
	}
	if len(got) != len(want) {
		t.Errorf("timers = %v, want %v", got, want)
	}
	for name, next := range want {
		if !got[name].Equal(next) {
			t.Errorf("%s next after %s = %s, want %s", name, from, got[name], next)
		}
	}
}
