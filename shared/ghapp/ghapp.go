// Package ghapp is runtimelink's GitHub App: it routes webhook events, by
// their X-GitHub-Event name, to handlers that turn them into state — GHAS
// alerts into findings, installations into the installations container,
// published images and workflow runs into artifact evidence, issue closes
// and reopens into group status — and it backfills an org's existing alerts.
// Handlers know nothing of HTTP (as in palantir/go-githubapp), so the same
// ones serve the webhook function, replays in tests and the backfill; they
// only update state, and anything that must call GitHub goes to the sync
// queue.
package ghapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Handler handles the webhook events it names. Handle must be idempotent:
// a delivery can be processed twice (a redelivery racing the first
// attempt, a retry after a failure) and must then change nothing more.
type Handler interface {
	Handles() []string
	Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error
}

var (
	// ErrMalformed: the payload is not what GitHub sends for the event
	// (not JSON, truncated, required fields missing). Answer 400. It is
	// alerts.ErrMalformed, so every decoder's errors test true for it.
	ErrMalformed = alerts.ErrMalformed
	// ErrIgnored: a well-formed event that needs no work (an action that
	// changes nothing, the app's own bot, an issue of no group). Answer
	// 202; the error says why.
	ErrIgnored = errors.New("webhook event ignored")
	// ErrUnhandledEvent: no handler is registered for the event. Answer 202.
	ErrUnhandledEvent = errors.New("unhandled webhook event")
)

// IsIgnored reports whether err means "acknowledge and do nothing": an
// event or action runtimelink does not handle, a package that is not a
// container image, or a handler's decision to ignore the event.
func IsIgnored(err error) bool {
	return errors.Is(err, ErrIgnored) || errors.Is(err, ErrUnhandledEvent) ||
		errors.Is(err, alerts.ErrUnknownAction) || errors.Is(err, alerts.ErrNotContainer)
}

// IsMalformed reports whether err is the sender's fault (answer 400): a
// decoder refused the payload, or it carries a number (an id) beyond 2^53
// that the store refuses to write because it would not read it back.
func IsMalformed(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, model.ErrUnsafeInteger)
}

// IgnoredError says why a handler ignored an event; errors.Is(err,
// ErrIgnored) holds for it.
type IgnoredError struct {
	Event, Reason string
}

func (e *IgnoredError) Error() string { return e.Event + ": " + e.Reason }

// Is makes errors.Is(err, ErrIgnored) true.
func (e *IgnoredError) Is(target error) bool { return target == ErrIgnored }

func ignored(event, format string, args ...any) error {
	return &IgnoredError{Event: event, Reason: fmt.Sprintf(format, args...)}
}

func malformed(event, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, event, fmt.Sprintf(format, args...))
}
