// Package store is the one place that knows which Cosmos DB queries and
// writes runtimelink runs, and on which partition. It sits on top of
// shared/cosmos (typed containers, ETag-guarded updates, paging) and offers
// operations named for what they answer: FindingsOnDigest,
// WorkloadsRunning, ArtifactsBuiltFrom, ...
//
// Every operation says its partition in its doc comment, in one of two
// forms:
//
//   - "Partition: <param>": a point operation or a single-partition query
//     on the partition key that parameter holds (cheap).
//   - "Cross-partition": the query fans out over every partition; the doc
//     says why that is needed and what bounds it.
//
// Domain packages never import this package: they declare the small
// interfaces they use (triage.Runtime, ...) and the wiring in shared/app
// hands them a *Store. One file per concern: artifacts.go, workloads.go,
// findings.go, groups.go, ...
//
// Documents of a container are the model types (model.Finding,
// model.Workload, ...); errors wrap model.ErrNotFound,
// model.ErrPreconditionFailed and honour model.ErrSkip from update
// callbacks, so callers test them with errors.Is without importing
// shared/cosmos.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/runtimelink/runtimelink/shared/cosmos"
)

// Store is runtimelink's state, as typed operations.
type Store struct {
	db *cosmos.Store
}

var stores sync.Map // *cosmos.Store → *Store

// New wraps an open Cosmos DB store. It returns the same *Store for the
// same db, so whatever keys on the *Store (triage's process-wide runtime
// cache) sees one store however many adapters wrap it.
func New(db *cosmos.Store) *Store {
	if s, ok := stores.Load(db); ok {
		return s.(*Store)
	}
	s, _ := stores.LoadOrStore(db, &Store{db: db})
	return s.(*Store)
}

// Ping checks that the database answers (health endpoint).
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// digestChunk bounds the array parameter of one query: a list of digests
// longer than this is asked for in several queries.
const digestChunk = 100

var errEnough = errors.New("enough")

// collect runs q and returns every result.
func collect[T any](ctx context.Context, c *cosmos.Container[T], q cosmos.Query) ([]T, error) {
	var out []T
	err := c.Query(ctx, q, func(doc *T) error {
		out = append(out, *doc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// collectBounded runs q and returns at most limit results; complete is
// false when there were more. limit <= 0 means no limit. An error says
// what was asked ("load artifacts of octo/app").
func collectBounded[T any](ctx context.Context, c *cosmos.Container[T], q cosmos.Query, limit int, what string) (out []T, complete bool, err error) {
	if limit <= 0 {
		out, err = collect(ctx, c, q)
	} else {
		complete = true
		err = c.Query(ctx, q, func(doc *T) error {
			if len(out) >= limit {
				complete = false
				return errEnough
			}
			out = append(out, *doc)
			return nil
		})
	}
	if err != nil && !errors.Is(err, errEnough) {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	return out, complete || limit <= 0, nil
}

// nonNil keeps an array parameter an array: a nil slice would be sent as
// null, and ARRAY_CONTAINS(null, x) is no match but an error on some
// engines.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
