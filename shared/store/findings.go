package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The findings container is partitioned by /repository, as the finding's
// source spells it (GitHub's full_name casing, lower case for image CVEs).
const (
	sqlAllFindings          = "SELECT * FROM c"
	sqlFindingsOnDigest     = "SELECT * FROM c WHERE ARRAY_CONTAINS(c.digests, @digest)"
	sqlFindingsOfGroup      = "SELECT * FROM c WHERE c.repository = @repo AND c.groupId = @group"
	sqlFindingsByID         = "SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)"
	sqlFindingsOfRepository = "SELECT * FROM c WHERE c.repository = @repo"
	sqlFindingsIn           = "SELECT * FROM c WHERE c.repository = @partition AND ARRAY_CONTAINS(@ids, c.id)"
	sqlOpenFindings         = "SELECT * FROM c WHERE ARRAY_CONTAINS(@states, c.state)"
	sqlFindingsOfImages     = "SELECT * FROM c WHERE ARRAY_CONTAINS(@images, c.image) " +
		"OR EXISTS(SELECT VALUE d FROM d IN c.digests WHERE ARRAY_CONTAINS(@digests, d))"
	// A Defender CVE names its vulnerability by CVE id; a Dependabot
	// alert by CVE or GHSA id.
	sqlFindingsNamingCVE     = "SELECT * FROM c WHERE c.repository = @repo AND c.source = @source AND ARRAY_CONTAINS(@ids, c.cve)"
	sqlFindingsNamingCVEGHSA = "SELECT * FROM c WHERE c.repository = @repo AND c.source = @source AND (ARRAY_CONTAINS(@ids, c.cve) OR ARRAY_CONTAINS(@ids, c.ghsa))"
)

// Finding reads one finding; the error wraps model.ErrNotFound when there
// is none. Partition: repository.
func (s *Store) Finding(ctx context.Context, repository, id string) (*model.Finding, error) {
	return s.db.Findings.Get(ctx, repository, id)
}

// UpdateFinding is an ETag-guarded read-modify-write of one finding: fn
// gets the stored finding (a zero value and exists=false when there is
// none) and changes it in place, or returns model.ErrSkip to write
// nothing; a write that loses to another writer is retried from a fresh
// read. changed reports whether it was written. Partition: repository.
func (s *Store) UpdateFinding(ctx context.Context, repository, id string, fn func(f *model.Finding, exists bool) error) (f *model.Finding, changed bool, err error) {
	return s.db.Findings.Update(ctx, repository, id, fn)
}

// batchChunk bounds the ids of one batch read: a batch asks for at most
// this many documents of one partition per query, in one page.
const batchChunk = 1000

// FindingsIn reads the findings of repository whose id is one of ids
// (those that exist), a query per thousand ids: the read half of a
// batch's read-modify-writes, which SaveFinding completes. Partition:
// repository.
func (s *Store) FindingsIn(ctx context.Context, repository string, ids []string) ([]model.Finding, error) {
	return in(ctx, s.db.Findings, sqlFindingsIn, repository, ids)
}

// in runs a batch read (sql with @partition, the partition key value,
// and @ids) on one partition, a query per batchChunk ids.
func in[T any](ctx context.Context, c *cosmos.Container[T], sql, partition string, ids []string) ([]T, error) {
	var out []T
	for chunk := range slices.Chunk(ids, batchChunk) {
		q := cosmos.Query{SQL: sql, PartitionKey: partition, PageSize: len(chunk),
			Params: map[string]any{"@partition": partition, "@ids": chunk}}
		docs, err := collect(ctx, c, q)
		if err != nil {
			return nil, fmt.Errorf("read %d %s of %s: %w", len(chunk), c.Name(), partition, err)
		}
		out = append(out, docs...)
	}
	return out, nil
}

// SaveFinding writes a finding read by FindingsIn (exists) or new, unless
// its content is what was read; an existing one is replaced under the ETag
// it was read with. The error wraps model.ErrPreconditionFailed when
// another writer got there first. Partition: f.Repository.
func (s *Store) SaveFinding(ctx context.Context, f *model.Finding, exists bool) (written bool, err error) {
	return s.db.Findings.Save(ctx, f, exists)
}

// FindingsOnDigest lists the findings seen on an image digest, at most
// limit (limit <= 0: all); complete is false when there were more.
// Cross-partition: an image's findings are stored under the repository it
// maps to, which the digest does not say.
func (s *Store) FindingsOnDigest(ctx context.Context, digest string, limit int) (fs []model.Finding, complete bool, err error) {
	q := cosmos.Query{SQL: sqlFindingsOnDigest, Params: map[string]any{"@digest": digest}}
	return collectBounded(ctx, s.db.Findings, q, limit, "findings on "+digest)
}

// FindingsOfGroup lists the findings whose groupId is groupID.
// Partition: repository (a group and its findings share it).
func (s *Store) FindingsOfGroup(ctx context.Context, repository, groupID string) ([]model.Finding, error) {
	q := cosmos.Query{SQL: sqlFindingsOfGroup, PartitionKey: repository, Params: map[string]any{"@repo": repository, "@group": groupID}}
	fs, err := collect(ctx, s.db.Findings, q)
	if err != nil {
		return nil, fmt.Errorf("load findings of group %s: %w", groupID, err)
	}
	return fs, nil
}

// FindingsByID reads the findings with one of ids. Cross-partition: the
// ids come from Finding.Related, whose findings may sit under another
// spelling of the repository.
func (s *Store) FindingsByID(ctx context.Context, ids []string) ([]model.Finding, error) {
	q := cosmos.Query{SQL: sqlFindingsByID, Params: map[string]any{"@ids": nonNil(ids)}}
	fs, err := collect(ctx, s.db.Findings, q)
	if err != nil {
		return nil, fmt.Errorf("load findings by id: %w", err)
	}
	return fs, nil
}

// FindingsNamingVulnerability lists the findings of one source that name
// one of ids (matched exactly: pass every spelling) as their CVE, or, for
// Dependabot alerts, their CVE or GHSA. Partition: repository.
func (s *Store) FindingsNamingVulnerability(ctx context.Context, repository string, source model.Source, ids []string) ([]model.Finding, error) {
	sql := sqlFindingsNamingCVE
	if source == model.SourceDependabot {
		sql = sqlFindingsNamingCVEGHSA
	}
	q := cosmos.Query{SQL: sql, PartitionKey: repository, Params: map[string]any{"@repo": repository, "@source": string(source), "@ids": nonNil(ids)}}
	fs, err := collect(ctx, s.db.Findings, q)
	if err != nil {
		return nil, fmt.Errorf("load %s findings of %s naming %v: %w", source, repository, ids, err)
	}
	return fs, nil
}

// FindingsOfImages lists the findings on one of images (normalized names)
// or on one of digests, each once: a query per hundred images and digests,
// however many a caller batches (a cluster request re-scores the findings
// of all its new workloads at once). Cross-partition: image findings are
// stored under the repository they map to.
func (s *Store) FindingsOfImages(ctx context.Context, images, digests []string) ([]model.Finding, error) {
	var out []model.Finding
	seen := map[[2]string]bool{}
	for k := 0; k == 0 || k < len(images) || k < len(digests); k += digestChunk {
		params := map[string]any{"@images": nonNil(window(images, k)), "@digests": nonNil(window(digests, k))}
		err := s.db.Findings.Query(ctx, cosmos.Query{SQL: sqlFindingsOfImages, Params: params}, func(f *model.Finding) error {
			if key := [2]string{f.Repository, f.ID}; !seen[key] {
				seen[key] = true
				out = append(out, *f)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load findings of %d images and %d digests: %w", len(images), len(digests), err)
		}
	}
	return out, nil
}

// window is the k-th digestChunk of xs (nil past its end).
func window(xs []string, k int) []string {
	if k >= len(xs) {
		return nil
	}
	return xs[k:min(len(xs), k+digestChunk)]
}

// FindingsOfRepository calls fn with every finding stored under
// repository, page by page. Partition: repository.
func (s *Store) FindingsOfRepository(ctx context.Context, repository string, fn func(f *model.Finding) error) error {
	q := cosmos.Query{SQL: sqlFindingsOfRepository, PartitionKey: repository, Params: map[string]any{"@repo": repository}}
	if err := s.db.Findings.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("load findings of %s: %w", repository, err)
	}
	return nil
}

// OpenFindings calls fn with every open finding (a finding without a
// state is open), page by page. Cross-partition: every repository.
func (s *Store) OpenFindings(ctx context.Context, fn func(f *model.Finding) error) error {
	q := cosmos.Query{SQL: sqlOpenFindings, Params: map[string]any{"@states": []string{string(model.StateOpen), ""}}}
	if err := s.db.Findings.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("read open findings: %w", err)
	}
	return nil
}

// AllFindings calls fn with every finding, page by page. Cross-partition:
// every repository.
func (s *Store) AllFindings(ctx context.Context, fn func(f *model.Finding) error) error {
	if err := s.db.Findings.Query(ctx, cosmos.Query{SQL: sqlAllFindings}, fn); err != nil {
		return fmt.Errorf("read findings: %w", err)
	}
	return nil
}

// FindingsPage returns one page of every finding, from cursor ("" for the
// first page); next is "" after the last page. A cursor is valid only for
// this operation. Cross-partition: the nightly run walks every repository.
func (s *Store) FindingsPage(ctx context.Context, pageSize int, cursor string) (fs []model.Finding, next string, err error) {
	return s.db.Findings.Page(ctx, cosmos.Query{SQL: sqlAllFindings}, pageSize, cursor)
}
