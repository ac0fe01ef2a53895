package github

import (
	"context"
	"errors"
	"fmt"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/redelivery"
)

// HookDeliveries is the App's webhook delivery log (redelivery.Log):
// GET /app/hook/deliveries and POST /app/hook/deliveries/{id}/attempts,
// both with the App's JWT (GitHub refuses installation tokens there).
// Redeliveries are content-creating calls and are paced by the transport
// like every other write.
type HookDeliveries struct {
	Clients interface {
		App(ctx context.Context) (*gh.Client, error)
	}
}

// hookPage is GitHub's largest page of the delivery log.
const hookPage = 100

// Deliveries returns one page of the log, newest first.
func (h HookDeliveries) Deliveries(ctx context.Context, cursor string) ([]redelivery.Delivery, string, error) {
	c, err := h.Clients.App(ctx)
	if err != nil {
		return nil, "", err
	}
	list, resp, err := c.Apps.ListHookDeliveries(ctx, &gh.ListCursorOptions{PerPage: hookPage, Cursor: cursor})
	if err != nil {
		return nil, "", throttled(err)
	}
	out := make([]redelivery.Delivery, 0, len(list))
	for _, d := range list {
		out = append(out, redelivery.Delivery{
			ID: d.GetID(), GUID: d.GetGUID(), DeliveredAt: d.GetDeliveredAt().Time, Redelivery: d.GetRedelivery(),
			StatusCode: d.GetStatusCode(), Status: d.GetStatus(), Event: d.GetEvent(), Action: d.GetAction(),
			InstallationID: d.GetInstallationID(),
		})
	}
	next := ""
	if resp != nil {
		next = resp.Cursor
	}
	return out, next, nil
}

// Redeliver asks GitHub to send delivery id again; GitHub answers 202.
func (h HookDeliveries) Redeliver(ctx context.Context, id int64) error {
	c, err := h.Clients.App(ctx)
	if err != nil {
		return err
	}
	_, _, err = c.Apps.RedeliverHookDelivery(ctx, id)
	var accepted *gh.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		return nil
	}
	return throttled(err)
}

// throttled marks a rate limit as redelivery.ErrThrottled.
func throttled(err error) error {
	if IsRateLimit(err) {
		return fmt.Errorf("%w: %w", redelivery.ErrThrottled, err)
	}
	return err
}
