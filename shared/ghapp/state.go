package ghapp

import (
	"context"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// What the App's handlers read and write, one interface per handler;
// shared/store's *store.Store is the one implementation in the app (its doc
// comments say the query and the partition behind each method). Errors
// wrap model.ErrNotFound for a missing document; an update callback
// returns model.ErrSkip to write nothing.

// IssueGroups is what the issues handler moves: the groups of an issue.
type IssueGroups interface {
	GroupsOfIssue(ctx context.Context, repository string, number int) ([]model.Group, error)
	// GroupsOfMovedIssue finds the groups of other repositories whose
	// issue was transferred to repository as number.
	GroupsOfMovedIssue(ctx context.Context, repository string, number int) ([]model.Group, error)
	UpdateGroup(ctx context.Context, repository, id string, fn func(g *model.Group, exists bool) error) (*model.Group, bool, error)
}

// ArtifactEvidence is where build evidence is recorded: artifacts by digest.
type ArtifactEvidence interface {
	UpdateArtifact(ctx context.Context, digest string, fn func(a *model.Artifact, exists bool) error) (*model.Artifact, bool, error)
	ArtifactsOfCommit(ctx context.Context, commit string, fn func(a *model.Artifact) error) error
}

// InstallationState is the installations container: the App's
// installation per org (and a backfill's saved cursors).
type InstallationState interface {
	UpdateInstallation(ctx context.Context, org string, fn func(in *model.Installation, exists bool) error) (*model.Installation, bool, error)
}

// DeliveryLog remembers which webhook deliveries were processed.
type DeliveryLog interface {
	Delivered(ctx context.Context, id string) (bool, error)
	RecordDelivery(ctx context.Context, id, event string, at time.Time) error
}

// Store is everything the App's handlers keep their state in.
type Store interface {
	IssueGroups
	ArtifactEvidence
	InstallationState
	DeliveryLog
}
