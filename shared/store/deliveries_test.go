package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// A guid's redelivery record: created on first use, updated under its
// ETag, an ErrSkip writes nothing; it carries the deliveries' TTL and is
// never read as the guid's processed delivery.
func TestRedeliveries(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	add := func(id int64) func(r *model.Redelivery, exists bool) error {
		return func(r *model.Redelivery, exists bool) error {
			r.Event = "issues"
			r.Attempts = append(r.Attempts, model.RedeliveryAttempt{DeliveryID: id, At: at})
			return nil
		}
	}
	r, changed, err := f.UpdateRedelivery(f.ctx, "guid-1", func(r *model.Redelivery, exists bool) error {
		if exists {
			t.Error("a new guid reported as existing")
		}
		return add(11)(r, exists)
	})
	if err != nil || !changed || r.ID != "redelivery:guid-1" || r.GUID != "guid-1" || len(r.Attempts) != 1 ||
		r.TTL != int(cosmos.DeliveriesTTL/time.Second) {
		t.Fatalf("first UpdateRedelivery = %+v, %v, %v", r, changed, err)
	}
	r, changed, err = f.UpdateRedelivery(f.ctx, "guid-1", func(r *model.Redelivery, exists bool) error {
		if !exists || len(r.Attempts) != 1 || r.Attempts[0].DeliveryID != 11 {
			t.Errorf("stored record read back as %+v (exists %v)", r, exists)
		}
		return add(12)(r, exists)
	})
	if err != nil || !changed || len(r.Attempts) != 2 || r.Attempts[1].DeliveryID != 12 {
		t.Errorf("second UpdateRedelivery = %+v, %v, %v", r, changed, err)
	}
	if _, changed, err := f.UpdateRedelivery(f.ctx, "guid-1", func(*model.Redelivery, bool) error { return model.ErrSkip }); err != nil || changed {
		t.Errorf("skipped UpdateRedelivery = %v, %v", changed, err)
	}
	boom := errors.New("boom")
	if _, _, err := f.UpdateRedelivery(f.ctx, "guid-2", func(*model.Redelivery, bool) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failing callback: %v, want boom", err)
	}
	if seen, err := f.Delivered(f.ctx, "guid-1"); err != nil || seen {
		t.Errorf("Delivered(guid-1) = %v, %v: a redelivery record is no processed delivery", seen, err)
	}
}

func TestWatermark(t *testing.T) {
	f := newFixture(t)
	if w, err := f.Watermark(f.ctx, "redeliver"); err != nil || !w.IsZero() {
		t.Fatalf("Watermark(none) = %v, %v", w, err)
	}
	at := time.Date(2026, 12, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	for _, through := range []time.Time{at, at.Add(time.Minute)} {
		if err := f.SetWatermark(f.ctx, "redeliver", through); err != nil {
			t.Fatal(err)
		}
		if w, err := f.Watermark(f.ctx, "redeliver"); err != nil || !w.Equal(through) {
			t.Errorf("Watermark = %v, %v; want %v", w, err, through)
		}
	}
	if w, err := f.Watermark(f.ctx, "other-job"); err != nil || !w.IsZero() {
		t.Errorf("another job's watermark = %v, %v", w, err)
	}
}
