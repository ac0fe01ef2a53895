package github

import (
	"context"
	"errors"
	"fmt"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/model"
)

// ErrNotInstalled: the org has no active installation of the App (none,
// suspended or deleted).
var ErrNotInstalled = errors.New("the GitHub App has no active installation in the org")

// InstallationStore finds the installation document of an org, however
// the caller spells the org (store.Store.InstallationOf); the error wraps
// model.ErrNotFound when there is none.
type InstallationStore interface {
	InstallationOf(ctx context.Context, org string) (*model.Installation, error)
}

// InstallationClients hands out a client per installation id (*Factory).
type InstallationClients interface {
	Installation(ctx context.Context, installationID int64) (*gh.Client, error)
}

// Installations resolves an org to the App's installation in it and that
// installation's client: the one way every caller (artifact metadata,
// backfill, group sync) finds them.
type Installations struct {
	Store   InstallationStore
	Clients InstallationClients
}

// Active returns the App's active installation in org; the error wraps
// ErrNotInstalled when there is none, and says the status when there is
// one that is not active.
func (r *Installations) Active(ctx context.Context, org string) (*model.Installation, error) {
	inst, err := r.Store.InstallationOf(ctx, org)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return nil, fmt.Errorf("%w: %s (installation: none)", ErrNotInstalled, org)
	case err != nil:
		return nil, fmt.Errorf("installation of %s: %w", org, err)
	case inst.Status != model.InstallationActive || inst.InstallationID <= 0:
		return nil, fmt.Errorf("%w: %s (installation: %s)", ErrNotInstalled, org, inst.Status)
	}
	return inst, nil
}

// Client returns the client of the App's active installation in org.
func (r *Installations) Client(ctx context.Context, org string) (*gh.Client, error) {
	inst, err := r.Active(ctx, org)
	if err != nil {
		return nil, err
	}
	return r.ClientOf(ctx, inst)
}

// ClientOf returns the client of one installation.
func (r *Installations) ClientOf(ctx context.Context, inst *model.Installation) (*gh.Client, error) {
	c, err := r.Clients.Installation(ctx, inst.InstallationID)
	if err != nil {
		return nil, fmt.Errorf("client for %s (installation %d): %w", inst.Org, inst.InstallationID, err)
	}
	return c, nil
}
