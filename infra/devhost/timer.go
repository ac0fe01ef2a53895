package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a timer trigger schedule: a 6-field NCRONTAB expression
// ({second} {minute} {hour} {day} {month} {day-of-week}) or a TimeSpan
// interval ("hh:mm:ss"), the two forms the host accepts.
type Schedule struct {
	expr                                        string
	second, minute, hour, day, month, dayOfWeek []bool
	interval                                    time.Duration
}

type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var cronFields = [6]cronField{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{name: "day-of-week", min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// ParseSchedule parses a timer trigger schedule.
func ParseSchedule(expr string) (*Schedule, error) {
	fields := strings.Fields(expr)
	if len(fields) == 1 && strings.Contains(expr, ":") {
		d, err := parseTimeSpan(expr)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("schedule %q: interval must be positive", expr)
		}
		return &Schedule{expr: expr, interval: d}, nil
	}
	if len(fields) != 6 {
		return nil, fmt.Errorf("schedule %q: want 6 fields {second} {minute} {hour} {day} {month} {day-of-week}, got %d", expr, len(fields))
	}
	s := &Schedule{expr: expr}
	sets := []*[]bool{&s.second, &s.minute, &s.hour, &s.day, &s.month, &s.dayOfWeek}
	for i, f := range fields {
		set, err := parseCronField(f, cronFields[i])
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
		*sets[i] = set
	}
	return s, nil
}

// parseCronField parses one field: "*", "n", "a-b", lists "a,b,c" and steps
// "*/n", "a-b/n", "a/n" (from a to the field's maximum).
func parseCronField(f string, spec cronField) ([]bool, error) {
	set := make([]bool, spec.max+1)
	for _, part := range strings.Split(f, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%s field %q: step %q must be a positive number", spec.name, f, stepStr)
			}
			step = n
		}
		lo, hi := spec.min, spec.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = cronValue(a, spec); err != nil {
				return nil, fmt.Errorf("%s field %q: %w", spec.name, f, err)
			}
			if hi, err = cronValue(b, spec); err != nil {
				return nil, fmt.Errorf("%s field %q: %w", spec.name, f, err)
			}
			if lo > hi {
				return nil, fmt.Errorf("%s field %q: range %d-%d is backwards", spec.name, f, lo, hi)
			}
		default:
			v, err := cronValue(rng, spec)
			if err != nil {
				return nil, fmt.Errorf("%s field %q: %w", spec.name, f, err)
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			set[v] = true
		}
	}
	return set, nil
}

func cronValue(s string, spec cronField) (int, error) {
	if v, ok := spec.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < spec.min || v > spec.max {
		return 0, fmt.Errorf("%d is outside %d-%d", v, spec.min, spec.max)
	}
	return v, nil
}

// Next returns the first occurrence strictly after t, in t's location.
// Day and day-of-week must both match (NCRONTAB semantics, unlike Vixie
// cron's "either"). The zero time means no occurrence within five years.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.interval > 0 {
		return t.Add(s.interval)
	}
	loc := t.Location()
	t = t.Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case !s.month[t.Month()]:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.day[t.Day()] || !s.dayOfWeek[t.Weekday()]:
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case !s.hour[t.Hour()]:
			// Add, not time.Date: during a DST fall-back the wall clock
			// repeats and time.Date would step back into the first pass.
			t = t.Add(time.Hour - time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second)
		case !s.minute[t.Minute()]:
			t = t.Add(time.Minute - time.Duration(t.Second())*time.Second)
		case !s.second[t.Second()]:
			t = t.Add(time.Second)
		default:
			return t
		}
	}
	return time.Time{}
}

func (s *Schedule) String() string { return s.expr }

// timerInfo is the TimerInfo the host serialises into Data.<binding>.
type timerInfo struct {
	Schedule struct {
		AdjustForDST bool `json:"AdjustForDST"`
	} `json:"Schedule"`
	ScheduleStatus *scheduleStatus `json:"ScheduleStatus"`
	IsPastDue      bool            `json:"IsPastDue"`
}

type scheduleStatus struct {
	Last        string `json:"Last"`
	Next        string `json:"Next"`
	LastUpdated string `json:"LastUpdated"`
}

func newTimerInfo(status *scheduleStatus, pastDue bool) timerInfo {
	var ti timerInfo
	ti.Schedule.AdjustForDST = true
	ti.ScheduleStatus = status
	ti.IsPastDue = pastDue
	return ti
}

// runTimer fires a timer function on its schedule until ctx ends. Runs of
// one function never overlap: the next occurrence is computed after the
// previous invocation returns, as the host's timer listener does.
func (h *Host) runTimer(ctx context.Context, fn *Function, sched *Schedule) {
	var last time.Time // zero until the first run: the host reports 0001-01-01
	if fn.Trigger.RunOnStartup {
		now := h.now()
		h.fireTimer(context.WithoutCancel(ctx), fn, sched, last, now, "timer fired at startup (runOnStartup)")
		last = now
	}
	for {
		next := sched.Next(h.now())
		if next.IsZero() {
			h.log.Error("timer schedule has no future occurrence", "function", fn.Name, "schedule", sched.String())
			return
		}
		h.log.Info("timer scheduled", "function", fn.Name, "schedule", sched.String(), "next", next.Format(time.RFC3339))
		wait := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		// A run that has started finishes even when shutdown begins.
		h.fireTimer(context.WithoutCancel(ctx), fn, sched, last, next, "timer fired")
		last = next
	}
}

func (h *Host) fireTimer(ctx context.Context, fn *Function, sched *Schedule, last, scheduled time.Time, reason string) {
	now := h.now()
	status := &scheduleStatus{
		Last:        hostDateTime(last),
		Next:        hostDateTime(sched.Next(scheduled)),
		LastUpdated: hostDateTime(now),
	}
	info := newTimerInfo(status, now.Sub(scheduled) > time.Minute)
	_, _ = h.invokeTimer(ctx, fn, info, reason)
}

// invokeTimer sends a timer invocation: Data.<binding> is the TimerInfo
// object; Metadata holds only sys.
func (h *Host) invokeTimer(ctx context.Context, fn *Function, info timerInfo, reason string) (*invocationResult, error) {
	data := map[string]any{fn.Trigger.Name: info}
	return h.invoke(ctx, fn, data, map[string]any{"sys": h.sysMetadata(fn)}, reason)
}

// hostDateTime formats a DateTime the way the host's serializer writes a
// local DateTime; the zero time is .NET's default(DateTime).
func hostDateTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.Format("2006-01-02T15:04:05.9999999-07:00")
}
