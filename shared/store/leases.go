package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// The leases container is partitioned by /id.

// Lease reads one run lease; the error wraps model.ErrNotFound when there
// is none. Partition: id.
func (s *Store) Lease(ctx context.Context, id string) (*model.Lease, error) {
	return s.db.Leases.Get(ctx, id, id)
}

// UpdateLease is an ETag-guarded read-modify-write of one lease (see
// UpdateFinding): what keeps two runs from holding it at once.
// Partition: id.
func (s *Store) UpdateLease(ctx context.Context, id string, fn func(l *model.Lease, exists bool) error) (l *model.Lease, changed bool, err error) {
	return s.db.Leases.Update(ctx, id, id, fn)
}

// Watermark is how far the job called id has read its log; the zero time
// when it has not yet. Partition: id.
func (s *Store) Watermark(ctx context.Context, id string) (time.Time, error) {
	w, err := s.db.Watermarks.Get(ctx, id, id)
	switch {
	case err == nil:
		return w.Through, nil
	case errors.Is(err, model.ErrNotFound):
		return time.Time{}, nil
	}
	return time.Time{}, fmt.Errorf("read watermark %s: %w", id, err)
}

// SetWatermark records how far the job called id has read. The job is a
// singleton (a timer), so a plain write is enough. Partition: id.
func (s *Store) SetWatermark(ctx context.Context, id string, through time.Time) error {
	if _, err := s.db.Watermarks.Put(ctx, &model.Watermark{ID: id, Through: through.UTC()}); err != nil {
		return fmt.Errorf("write watermark %s: %w", id, err)
	}
	return nil
}
