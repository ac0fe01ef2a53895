package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The installations container is partitioned by /org, the login as GitHub
// spells it; the id is its lower case (model.InstallationDocID).
const (
	sqlInstallationByID    = "SELECT * FROM c WHERE c.id = @id"
	sqlActiveInstallations = "SELECT * FROM c WHERE c.status = @active"
)

// InstallationOf reads the App's installation in org, however org is
// spelled; the error wraps model.ErrNotFound when there is none.
// Partition: org, when spelled as GitHub does (a point read); otherwise
// cross-partition by id, since callers often know the org only from a
// repository name in another casing.
func (s *Store) InstallationOf(ctx context.Context, org string) (*model.Installation, error) {
	id := model.InstallationDocID(org)
	inst, err := s.db.Installations.Get(ctx, org, id)
	if err == nil || !errors.Is(err, model.ErrNotFound) {
		return inst, err
	}
	q := cosmos.Query{SQL: sqlInstallationByID, Params: map[string]any{"@id": id}}
	is, _, err := collectBounded(ctx, s.db.Installations, q, 1, "installation of "+org)
	if err != nil {
		return nil, err
	}
	if len(is) == 0 {
		return nil, fmt.Errorf("installation of %s: %w", org, model.ErrNotFound)
	}
	return &is[0], nil
}

// UpdateInstallation is an ETag-guarded read-modify-write of the
// installation document of org (see UpdateFinding). Partition: org, as
// GitHub spells it.
func (s *Store) UpdateInstallation(ctx context.Context, org string, fn func(in *model.Installation, exists bool) error) (in *model.Installation, changed bool, err error) {
	return s.db.Installations.Update(ctx, org, model.InstallationDocID(org), fn)
}

// ActiveInstallations calls fn with every active installation of the App,
// page by page. Cross-partition: every org.
func (s *Store) ActiveInstallations(ctx context.Context, fn func(in *model.Installation) error) error {
	q := cosmos.Query{SQL: sqlActiveInstallations, Params: map[string]any{"@active": string(model.InstallationActive)}}
	if err := s.db.Installations.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("installed orgs: %w", err)
	}
	return nil
}
