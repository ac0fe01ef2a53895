package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The deliveries container is partitioned by /id (the X-GitHub-Delivery
// id) and forgets a delivery after cosmos.DeliveriesTTL.

// Delivered reports whether the webhook delivery id was processed
// already. Partition: id.
func (s *Store) Delivered(ctx context.Context, id string) (bool, error) {
	_, err := s.db.Deliveries.Get(ctx, id, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, model.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("check delivery %s: %w", id, err)
}

// RecordDelivery remembers that a delivery of event was processed at at,
// for as long as GitHub may redeliver it; recording it twice is not an
// error. Partition: id.
func (s *Store) RecordDelivery(ctx context.Context, id, event string, at time.Time) error {
	d := &model.Delivery{ID: id, Event: event, At: at, TTL: int(cosmos.DeliveriesTTL / time.Second)}
	if _, err := s.db.Deliveries.Create(ctx, d); err != nil {
		return fmt.Errorf("record delivery %s: %w", id, err)
	}
	return nil
}

// UpdateRedelivery is an ETag-guarded read-modify-write of what was asked
// of GitHub for the deliveries of guid (see UpdateFinding): two runs that
// race for one guid see each other's attempt. The document expires with
// the deliveries. Partition: model.RedeliveryID(guid).
func (s *Store) UpdateRedelivery(ctx context.Context, guid string, fn func(r *model.Redelivery, exists bool) error) (*model.Redelivery, bool, error) {
	id := model.RedeliveryID(guid)
	r, changed, err := s.db.Redeliveries.Update(ctx, id, id, func(r *model.Redelivery, exists bool) error {
		if err := fn(r, exists); err != nil {
			return err
		}
		r.ID, r.GUID, r.TTL = id, guid, int(cosmos.DeliveriesTTL/time.Second)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("update redelivery of %s: %w", guid, err)
	}
	return r, changed, nil
}
