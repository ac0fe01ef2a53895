package inventory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/model"
)

// ApplyStorageRecord stores a storage record posted for org on its
// digest's artifact: one per org, registry URL and repository (as GitHub
// keeps them), updated in place when posted again. The status defaults to
// active, as the API's does. It returns the stored record.
func (i *Inventory) ApplyStorageRecord(ctx context.Context, org string, rec deployrecord.StorageRecord) (model.StorageRecord, error) {
	now := i.now()
	if rec.Status == "" {
		rec.Status = deployrecord.StorageActive
	}
	var out model.StorageRecord
	_, _, err := i.UpdateArtifact(ctx, rec.Digest, func(a *model.Artifact, exists bool) error {
		if !exists {
			a.ID, a.Digest = rec.Digest, rec.Digest
		}
		out = model.StorageRecord{Org: org, Name: rec.Name, Version: rec.Version, ArtifactURL: rec.ArtifactURL, Path: rec.Path,
			RegistryURL: rec.RegistryURL, Repository: rec.Repository, Status: rec.Status, GitHubRepository: rec.GitHubRepository,
			CreatedAt: now, UpdatedAt: now}
		for k, s := range a.StorageRecords {
			if !sameStorage(&s, &out) {
				continue
			}
			out.CreatedAt = s.CreatedAt
			if storageContent(s) == storageContent(out) {
				out.UpdatedAt = s.UpdatedAt
				return model.ErrSkip // unchanged: no write
			}
			a.StorageRecords[k] = out
			return nil
		}
		a.StorageRecords = append(a.StorageRecords, out)
		return nil
	})
	if err != nil {
		return model.StorageRecord{}, fmt.Errorf("store storage record of %s: %w", rec.Digest, err)
	}
	return out, nil
}

func sameStorage(a, b *model.StorageRecord) bool {
	return strings.EqualFold(a.Org, b.Org) && a.RegistryURL == b.RegistryURL && a.Repository == b.Repository
}

// storageContent is a record without its times.
func storageContent(s model.StorageRecord) model.StorageRecord {
	s.CreatedAt, s.UpdatedAt = time.Time{}, time.Time{}
	return s
}

// StoredStorage is the answer GitHub's API gives for a stored storage
// record of digest; the id is a stable number derived from its identity.
func StoredStorage(digest string, s *model.StorageRecord) deployrecord.StoredStorage {
	return deployrecord.StoredStorage{
		ID:          NumericID(strings.ToLower(s.Org) + "|" + digest + "|" + s.RegistryURL + "|" + s.Repository),
		Name:        s.Name,
		Digest:      digest,
		ArtifactURL: nullable(s.ArtifactURL),
		RegistryURL: s.RegistryURL,
		Repository:  nullable(s.Repository),
		Status:      s.Status,
		CreatedAt:   s.CreatedAt.UTC().Format(time.RFC3339),
		UpdatedAt:   s.UpdatedAt.UTC().Format(time.RFC3339),
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
