package redelivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// fakeLog is the delivery log: newest first, pages of perPage; Redeliver
// records the ids asked for and fails as told.
type fakeLog struct {
	log     []Delivery // newest first
	perPage int
	asked   []int64
	fail    map[int64]error
	reads   int
}

func (l *fakeLog) Deliveries(_ context.Context, cursor string) ([]Delivery, string, error) {
	l.reads++
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	end := min(start+l.perPage, len(l.log))
	next := ""
	if end < len(l.log) {
		next = strconv.Itoa(end)
	}
	return l.log[start:end], next, nil
}

func (l *fakeLog) Redeliver(_ context.Context, id int64) error {
	l.asked = append(l.asked, id)
	return l.fail[id]
}

// fakeState is the store: processed guids, redelivery records, watermark.
type fakeState struct {
	delivered map[string]bool
	records   map[string]*model.Redelivery
	mark      time.Time
}

func (s *fakeState) Delivered(_ context.Context, guid string) (bool, error) {
	return s.delivered[guid], nil
}

func (s *fakeState) UpdateRedelivery(_ context.Context, guid string, fn func(*model.Redelivery, bool) error) (*model.Redelivery, bool, error) {
	cur, ok := s.records[guid]
	r := &model.Redelivery{GUID: guid}
	if ok {
		c := *cur
		c.Attempts = slices.Clone(cur.Attempts)
		r = &c
	}
	if err := fn(r, ok); err != nil {
		if errors.Is(err, model.ErrSkip) {
			return cur, false, nil
		}
		return nil, false, err
	}
	s.records[guid] = r
	return r, true, nil
}

func (s *fakeState) Watermark(context.Context, string) (time.Time, error) { return s.mark, nil }

func (s *fakeState) SetWatermark(_ context.Context, _ string, t time.Time) error {
	s.mark = t
	return nil
}

func delivery(id int64, guid string, status int, ago time.Duration) Delivery {
	return Delivery{ID: id, GUID: guid, StatusCode: status, DeliveredAt: t0.Add(-ago), Event: "issues"}
}

func TestRun(t *testing.T) {
	throttled := fmt.Errorf("%w: secondary limit", ErrThrottled)
	for _, tc := range []struct {
		name      string
		log       []Delivery // newest first
		delivered []string
		records   map[string][]model.RedeliveryAttempt
		mark      time.Time
		fail      map[int64]error
		wantAsked []int64
		wantMark  time.Time
		check     func(t *testing.T, st Stats)
	}{
		{
			name: "failed and unrecorded are redelivered, oldest first",
			log: []Delivery{delivery(4, "d", 200, time.Minute), delivery(3, "c", 0, 2*time.Minute),
				delivery(2, "b", 200, 3*time.Minute), delivery(1, "a", 503, 4*time.Minute)},
			delivered: []string{"b"},
			wantAsked: []int64{1, 3, 4},
			wantMark:  t0.Add(-time.Minute),
			check: func(t *testing.T, st Stats) {
				if st.Failed != 2 || st.Unrecorded != 1 || st.Redelivered != 3 || !st.Complete {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			// Processed after GitHub gave up waiting; or ignored (202,
			// never recorded); or a later redelivery succeeded.
			name: "recorded, ignored and redelivered guids are done",
			log: []Delivery{delivery(4, "c", 200, time.Minute), delivery(3, "b", 202, 2*time.Minute),
				delivery(2, "c", 503, 3*time.Minute), delivery(1, "a", 0, 4*time.Minute)},
			delivered: []string{"a", "c"},
			wantMark:  t0.Add(-time.Minute),
		},
		{
			// The webhook refused the payload itself; the same bytes
			// would be refused again. A 401 (a secret being rotated) and
			// a 400 followed by a 503 are still redelivered.
			name: "a payload the webhook refused is not redelivered",
			log: []Delivery{delivery(4, "d", 503, time.Minute), delivery(3, "c", 401, 2*time.Minute),
				delivery(2, "b", 413, 3*time.Minute), delivery(1, "a", 400, 4*time.Minute), delivery(0, "d", 400, 5*time.Minute)},
			wantAsked: []int64{3, 4},
			wantMark:  t0.Add(-time.Minute),
			check: func(t *testing.T, st Stats) {
				if st.Refused != 2 || st.Failed != 2 || st.Redelivered != 2 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:      "the newest delivery of a guid is the one redelivered",
			log:       []Delivery{delivery(9, "a", 503, time.Minute), delivery(5, "a", 503, 5*time.Minute)},
			records:   map[string][]model.RedeliveryAttempt{"a": {{DeliveryID: 5}}},
			wantAsked: []int64{9},
			wantMark:  t0.Add(-time.Minute),
		},
		{
			name:     "a delivery already asked for is not asked again",
			log:      []Delivery{delivery(5, "a", 503, time.Minute)},
			records:  map[string][]model.RedeliveryAttempt{"a": {{DeliveryID: 5}}},
			wantMark: t0.Add(-time.Minute),
			check: func(t *testing.T, st Stats) {
				if st.Already != 1 || st.Redelivered != 0 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:     "a guid that failed MaxAttempts times is given up",
			log:      []Delivery{delivery(8, "a", 503, time.Minute)},
			records:  map[string][]model.RedeliveryAttempt{"a": {{DeliveryID: 5}, {DeliveryID: 6}, {DeliveryID: 7}}},
			wantMark: t0.Add(-time.Minute),
			check: func(t *testing.T, st Stats) {
				if st.GaveUp != 1 || st.Errors != 0 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name: "throttled: the run stops and the watermark waits at that delivery",
			log: []Delivery{delivery(3, "c", 503, time.Minute), delivery(2, "b", 503, 2*time.Minute),
				delivery(1, "a", 503, 3*time.Minute)},
			fail:      map[int64]error{2: throttled},
			wantAsked: []int64{1, 2},
			wantMark:  t0.Add(-2 * time.Minute),
			check: func(t *testing.T, st Stats) {
				if st.Redelivered != 1 || st.Errors != 1 || st.Complete {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name: "a refused request does not stop the run but holds the watermark",
			log: []Delivery{delivery(3, "c", 503, time.Minute), delivery(2, "b", 503, 2*time.Minute),
				delivery(1, "a", 503, 3*time.Minute)},
			fail:      map[int64]error{1: errors.New("422 Validation Failed")},
			wantAsked: []int64{1, 2, 3},
			wantMark:  t0.Add(-3 * time.Minute),
		},
		{
			// The overlap window is read again; older entries stop the paging.
			name: "from the watermark less the overlap",
			log: []Delivery{delivery(4, "d", 503, time.Minute), delivery(3, "c", 503, 9*time.Minute),
				delivery(2, "b", 503, 20*time.Minute), delivery(1, "a", 503, 30*time.Minute)},
			mark:      t0.Add(-8 * time.Minute),
			wantAsked: []int64{3, 4},
			wantMark:  t0.Add(-time.Minute),
			check: func(t *testing.T, st Stats) {
				if !st.From.Equal(t0.Add(-10*time.Minute)) || st.Listed != 2 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:      "no watermark: the lookback",
			log:       []Delivery{delivery(2, "b", 503, time.Hour), delivery(1, "a", 503, 3*time.Hour)},
			wantAsked: []int64{2},
			wantMark:  t0.Add(-time.Hour),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{log: tc.log, perPage: 2, fail: tc.fail}
			st := &fakeState{delivered: map[string]bool{}, records: map[string]*model.Redelivery{}, mark: tc.mark}
			for _, g := range tc.delivered {
				st.delivered[g] = true
			}
			for g, as := range tc.records {
				st.records[g] = &model.Redelivery{GUID: g, Attempts: as}
			}
			r := &Redeliverer{Log: log, State: st, Now: func() time.Time { return t0 }}
			stats, err := r.Run(context.Background(), Options{Lookback: 2 * time.Hour})
			if (err != nil) != (tc.fail != nil) {
				t.Errorf("error = %v", err)
			}
			if !slices.Equal(log.asked, tc.wantAsked) {
				t.Errorf("asked to redeliver %v, want %v", log.asked, tc.wantAsked)
			}
			if !st.mark.Equal(tc.wantMark) || !stats.Watermark.Equal(tc.wantMark) {
				t.Errorf("watermark %v (stats %v), want %v", st.mark, stats.Watermark, tc.wantMark)
			}
			for _, id := range tc.wantAsked {
				d := tc.log[slices.IndexFunc(tc.log, func(d Delivery) bool { return d.ID == id })]
				rec := st.records[d.GUID]
				i := slices.IndexFunc(rec.Attempts, func(a model.RedeliveryAttempt) bool { return a.DeliveryID == id })
				switch {
				case errors.Is(tc.fail[id], ErrThrottled):
					if i >= 0 {
						t.Errorf("a throttled request is recorded as an attempt: %+v", rec)
					}
				case i < 0 || (rec.Attempts[i].Error != "") != (tc.fail[id] != nil):
					t.Errorf("record of %s: %+v", d.GUID, rec)
				}
			}
			if tc.check != nil {
				tc.check(t, stats)
			}
		})
	}
}

// A second run over the same log asks nothing, also when the first one's
// redeliveries have not reached the log yet.
func TestRunTwiceAsksOnce(t *testing.T) {
	log := &fakeLog{perPage: 100, log: []Delivery{delivery(2, "b", 503, time.Minute), delivery(1, "a", 0, 2*time.Minute)}}
	st := &fakeState{delivered: map[string]bool{}, records: map[string]*model.Redelivery{}}
	r := &Redeliverer{Log: log, State: st, Now: func() time.Time { return t0 }}
	for range 2 {
		if _, err := r.Run(context.Background(), Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(log.asked, []int64{1, 2}) {
		t.Errorf("asked %v, want each delivery once", log.asked)
	}
}

// A throttled request takes back only its own attempt: an earlier
// refusal of the same delivery still counts towards MaxAttempts, so
// throttling never lets a delivery be asked for more often.
func TestThrottledKeepsEarlierRefusals(t *testing.T) {
	refused := model.RedeliveryAttempt{DeliveryID: 5, At: t0.Add(-time.Hour), Error: "422 Validation Failed"}
	log := &fakeLog{perPage: 100, log: []Delivery{delivery(5, "a", 503, time.Minute)},
		fail: map[int64]error{5: fmt.Errorf("%w: secondary limit", ErrThrottled)}}
	st := &fakeState{delivered: map[string]bool{}, records: map[string]*model.Redelivery{
		"a": {GUID: "a", Attempts: []model.RedeliveryAttempt{refused}}}}
	r := &Redeliverer{Log: log, State: st, Now: func() time.Time { return t0 }}
	if _, err := r.Run(context.Background(), Options{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("error = %v, want throttled", err)
	}
	if got := st.records["a"].Attempts; !slices.Equal(got, []model.RedeliveryAttempt{refused}) {
		t.Errorf("attempts after a throttled retry = %+v, want only the earlier refusal", got)
	}
}
