package model

import "errors"

// The store's answers that domain code acts on. They live here, with the
// records, so a domain package can tell them apart without importing the
// store; shared/cosmos returns these very values.
var (
	// ErrNotFound: the document does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: an ETag-guarded write kept losing to other writers.
	ErrPreconditionFailed = errors.New("concurrent update: etag precondition failed")
	// ErrSkip, returned by an update callback, means "write nothing".
	ErrSkip = errors.New("skip write")
)
