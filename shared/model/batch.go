package model

// FindingMerge is one record's change to a finding in a batch write
// (triage.Triage.UpsertBatch). Merge gets the finding as stored, or as the
// batch's earlier merges of the same finding left it (exists is false
// until one of them created it), and changes it in place; it returns
// ErrSkip, before changing anything, to leave the finding as it is.
type FindingMerge struct {
	Repository string
	ID         string
	Merge      func(f *Finding, exists bool) error
}

// FindingMerged is what became of one FindingMerge of a batch.
type FindingMerged struct {
	// Found: the finding existed when the merge ran.
	Found bool
	// Applied: the merge did not skip.
	Applied bool
	// Written: the batch wrote the finding (the same for every merge of
	// one finding: it is written once, after all of them).
	Written bool
	// Finding is the finding after the batch; nil when it does not exist.
	Finding *Finding
}
