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
