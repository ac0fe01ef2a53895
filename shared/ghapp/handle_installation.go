package ghapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
)

// Installation events this package handles.
const (
	EventInstallation             = "installation"
	EventInstallationRepositories = "installation_repositories"
)

// Installations keeps the installations container in step with installation
// and installation_repositories events, and asks for a backfill of the
// org's existing alerts when the App is installed (or unsuspended: alerts
// changed while it heard nothing). The backfill calls GitHub, so it is
// queued, never run here.
type Installations struct {
	Store InstallationState
	Sync  queue.Sync
	Now   func() time.Time
}

// Handles implements Handler.
func (h *Installations) Handles() []string {
	return []string{EventInstallation, EventInstallationRepositories}
}

type installationPayload struct {
	Action       string `json:"action"`
	Installation *struct {
		ID      int64 `json:"id"`
		Account *struct {
			Login string `json:"login"`
			Type  string `json:"type"`
		} `json:"account"`
		RepositorySelection string            `json:"repository_selection"`
		Permissions         map[string]string `json:"permissions"`
		Events              []string          `json:"events"`
		UpdatedAt           flexTime          `json:"updated_at"`
		SuspendedAt         flexTime          `json:"suspended_at"`
	} `json:"installation"`
	// installation created: the repositories when the selection is "selected".
	Repositories []repoRef `json:"repositories"`
	// installation_repositories.
	RepositorySelection string    `json:"repository_selection"`
	RepositoriesAdded   []repoRef `json:"repositories_added"`
	RepositoriesRemoved []repoRef `json:"repositories_removed"`
}

type repoRef struct {
	FullName string `json:"full_name"`
}

var installationActions = map[string]map[string]bool{
	EventInstallation: {"created": true, "deleted": true, "suspend": true, "unsuspend": true,
		"new_permissions_accepted": true},
	EventInstallationRepositories: {"added": true, "removed": true},
}

// Handle records the installation's new state.
func (h *Installations) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var p installationPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, eventType, err)
	}
	if p.Action == "" {
		return malformed(eventType, "action is missing")
	}
	if !installationActions[eventType][p.Action] {
		return &alerts.UnknownActionError{Event: eventType, Action: p.Action}
	}
	in := p.Installation
	switch {
	case in == nil:
		return malformed(eventType, "installation is missing")
	case in.ID <= 0:
		return malformed(eventType, "installation.id is missing")
	case in.Account == nil || strings.TrimSpace(in.Account.Login) == "":
		return malformed(eventType, "installation.account.login is missing")
	}
	org := strings.TrimSpace(in.Account.Login)
	at := now(h.Now)
	if t := latestTime(in.UpdatedAt.t, in.SuspendedAt.t); !t.IsZero() {
		at = t
	}
	log := invocation.Logger(ctx).With("org", org, "installationId", in.ID, "action", p.Action)

	applied := false
	doc, changed, err := h.Store.UpdateInstallation(ctx, org, func(d *model.Installation, exists bool) error {
		applied = false
		if exists {
			switch {
			case d.InstallationID > in.ID:
				log.Info("event of an older installation of the org: ignored", "currentInstallationId", d.InstallationID)
				return model.ErrSkip
			case d.InstallationID == in.ID && d.Status == model.InstallationDeleted:
				// Deleting ends an installation; a reinstall gets a new id.
				log.Info("event for a deleted installation: ignored")
				return model.ErrSkip
			case d.InstallationID == in.ID && eventType == EventInstallation && p.Action != "deleted" && at.Before(d.UpdatedAt):
				log.Info("installation event older than the stored state: ignored", "storedUpdatedAt", d.UpdatedAt)
				return model.ErrSkip
			}
		}
		if !exists || d.InstallationID != in.ID {
			// A new installation of the org starts from scratch.
			*d = model.Installation{Meta: d.Meta, ID: model.InstallationDocID(org), Org: org,
				InstallationID: in.ID, Status: model.InstallationActive}
		}
		d.AccountType = alerts.FirstNonBlank(in.Account.Type, d.AccountType)
		if in.Permissions != nil {
			d.Permissions = in.Permissions
		}
		if in.Events != nil {
			d.Events = slices.Sorted(slices.Values(in.Events))
		}
		if at.After(d.UpdatedAt) {
			d.UpdatedAt = at
		}
		if eventType == EventInstallationRepositories {
			applyRepositories(d, alerts.FirstNonBlank(p.RepositorySelection, in.RepositorySelection), p.RepositoriesAdded, p.RepositoriesRemoved)
		} else {
			switch p.Action {
			case "created":
				d.Status = model.InstallationActive
				d.RepositorySelection = in.RepositorySelection
				d.Repositories = nil
				applyRepositories(d, in.RepositorySelection, p.Repositories, nil)
			case "deleted":
				d.Status = model.InstallationDeleted
			case "suspend":
				d.Status = model.InstallationSuspended
			case "unsuspend":
				d.Status = model.InstallationActive
			case "new_permissions_accepted":
				if in.RepositorySelection != "" {
					d.RepositorySelection = in.RepositorySelection
				}
			}
		}
		applied = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("update installation of %s: %w", org, err)
	}
	log.Info("installation event applied", "status", doc.Status, "changed", changed, "applied", applied)
	// Queued even when nothing changed: this may be the retry of a delivery
	// whose enqueue failed after the write. A duplicate backfill request is
	// harmless (the backfill is idempotent and resumes from its cursors).
	if applied && eventType == EventInstallation && (p.Action == "created" || p.Action == "unsuspend") {
		if err := h.Sync.EnqueueSync(ctx, queue.SyncRequest{Kind: queue.KindBackfill, Org: org}); err != nil {
			return fmt.Errorf("queue backfill of %s: %w", org, err)
		}
		log.Info("backfill queued")
	}
	return nil
}

// applyRepositories updates the selected repositories (lower-case
// owner/name, sorted); under "all" the list is not kept.
func applyRepositories(d *model.Installation, selection string, added, removed []repoRef) {
	if selection != "" {
		d.RepositorySelection = selection
	}
	if d.RepositorySelection == "all" {
		d.Repositories = nil
		return
	}
	set := map[string]bool{}
	for _, r := range d.Repositories {
		set[r] = true
	}
	for _, r := range added {
		if n := mapping.NormalizeRepository(r.FullName, ""); n != "" {
			set[n] = true
		}
	}
	for _, r := range removed {
		delete(set, mapping.NormalizeRepository(r.FullName, ""))
	}
	d.Repositories = nil
	for r := range set {
		d.Repositories = append(d.Repositories, r)
	}
	slices.Sort(d.Repositories)
}

// flexTime is a GitHub time that some payloads send as an RFC 3339 string
// and others (installation objects) as Unix seconds; null is unset.
type flexTime struct{ t time.Time }

func (f *flexTime) UnmarshalJSON(b []byte) error {
	f.t = time.Time{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("time %q: %w", s, err)
		}
		f.t = t.UTC()
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return errors.New("time is neither a string nor a number")
	}
	f.t = time.Unix(int64(secs), 0).UTC()
	return nil
}

func latestTime(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
