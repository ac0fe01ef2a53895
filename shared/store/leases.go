package store

import (
	"context"

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
