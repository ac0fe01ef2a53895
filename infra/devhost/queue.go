package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// Azurite's well-known development account, which UseDevelopmentStorage=true stands for.
const devStorageConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"

const (
	// How long a dequeued message stays invisible while it is processed
	// (the host's default, visible in its NextVisibleTime metadata).
	processingVisibility = 10 * time.Minute
	minPollInterval      = 100 * time.Millisecond
)

// queueTarget is a queue trigger's queue and its poison queue.
type queueTarget struct {
	name   string
	queue  *azqueue.QueueClient
	poison *azqueue.QueueClient
	opts   QueueOptions

	poisonOnce sync.Once
	poisonErr  error
}

func newQueueTarget(app *App, fn *Function) (*queueTarget, error) {
	name := strings.ToLower(fn.Trigger.QueueName)
	if name == "" {
		return nil, fmt.Errorf("queueTrigger %q has no queueName", fn.Trigger.Name)
	}
	conn, err := storageConnection(app.Settings, fn.Trigger.Connection)
	if err != nil {
		return nil, err
	}
	svc, err := azqueue.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		return nil, fmt.Errorf("queue %s: connection string: %w", name, err)
	}
	return &queueTarget{
		name:   name,
		queue:  svc.NewQueueClient(name),
		poison: svc.NewQueueClient(name + "-poison"),
		opts:   app.Host.Queues,
	}, nil
}

// storageConnection resolves a binding's "connection" the way the host
// does: the named setting, or AzureWebJobs<name>, default AzureWebJobsStorage.
func storageConnection(s Settings, name string) (string, error) {
	if name == "" {
		name = "AzureWebJobsStorage"
	}
	for _, n := range []string{name, "AzureWebJobs" + name} {
		if v, ok := s.Get(n); ok && v != "" {
			if strings.EqualFold(strings.TrimSpace(v), "UseDevelopmentStorage=true") {
				return devStorageConnectionString, nil
			}
			return v, nil
		}
	}
	if _, ok := s.Get(name + "__queueServiceUri"); ok {
		return "", fmt.Errorf("setting %s__queueServiceUri (managed identity) is not supported by the dev host: set %s to a connection string", name, name)
	}
	return "", fmt.Errorf("storage connection setting %s is not set", name)
}

func createQueue(ctx context.Context, q *azqueue.QueueClient) error {
	_, err := q.Create(ctx, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return err
	}
	return nil
}

// pollQueue feeds a queue trigger: dequeue a batch, invoke for each message
// in parallel, delete on success, release or poison on failure; back off
// (doubling up to maxPollingInterval) while the queue is empty.
func (h *Host) pollQueue(ctx context.Context, fn *Function, q *queueTarget) {
	interval := minPollInterval
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(interval):
			interval = min(interval*2, max(q.opts.MaxPollingInterval, minPollInterval))
			return true
		}
	}
	for ctx.Err() == nil {
		if err := createQueue(ctx, q.queue); err != nil {
			h.log.Error("create queue", "function", fn.Name, "queue", q.name, "error", err.Error())
			if !wait() {
				return
			}
			continue
		}
		break
	}
	for ctx.Err() == nil {
		resp, err := q.queue.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
			NumberOfMessages:  ptr(int32(q.opts.BatchSize)),
			VisibilityTimeout: ptr(int32(processingVisibility / time.Second)),
		})
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("dequeue", "function", fn.Name, "queue", q.name, "error", err.Error())
			}
			if !wait() {
				return
			}
			continue
		}
		if len(resp.Messages) == 0 {
			if !wait() {
				return
			}
			continue
		}
		interval = minPollInterval
		var batch sync.WaitGroup
		for _, m := range resp.Messages {
			batch.Go(func() {
				// A message already taken is finished even when shutdown begins.
				h.processMessage(context.WithoutCancel(ctx), fn, q, m)
			})
		}
		batch.Wait()
	}
}

func (h *Host) processMessage(ctx context.Context, fn *Function, q *queueTarget, m *azqueue.DequeuedMessage) {
	id, pop, text := deref(m.MessageID), deref(m.PopReceipt), deref(m.MessageText)
	count := int64(0)
	if m.DequeueCount != nil {
		count = *m.DequeueCount
	}
	if count > int64(q.opts.MaxDequeueCount) {
		// Dequeued too often already (e.g. by a host that crashed mid-run).
		h.movePoison(ctx, fn, q, m, fmt.Sprintf("dequeue count %d is over maxDequeueCount %d", count, q.opts.MaxDequeueCount))
		return
	}
	body := text
	if q.opts.MessageEncoding == "base64" {
		decoded, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			// The host's queue client fails to decode such a message and
			// moves it straight to the poison queue, without invoking.
			h.movePoison(ctx, fn, q, m, "message is not valid base64 (host.json extensions.queues.messageEncoding is base64)")
			return
		}
		body = string(decoded)
	}
	data := map[string]any{fn.Trigger.Name: metadataValue(body)}
	metadata := map[string]any{
		"DequeueCount":    metadataValue(count),
		"Id":              metadataValue(id),
		"PopReceipt":      metadataValue(pop),
		"InsertionTime":   queueTime(m.InsertionTime),
		"ExpirationTime":  queueTime(m.ExpirationTime),
		"NextVisibleTime": queueTime(m.TimeNextVisible),
		"sys":             h.sysMetadata(fn),
	}
	_, err := h.invoke(ctx, fn, data, metadata, fmt.Sprintf("New queue message detected on '%s'.", q.name))
	if err == nil {
		if _, err := q.queue.DeleteMessage(ctx, id, pop, nil); err != nil {
			h.log.Error("delete processed message", "function", fn.Name, "queue", q.name, "message", id, "error", err.Error())
		}
		return
	}
	if count >= int64(q.opts.MaxDequeueCount) {
		h.movePoison(ctx, fn, q, m, fmt.Sprintf("failed %d times (maxDequeueCount %d)", count, q.opts.MaxDequeueCount))
		return
	}
	// Release the message: visible again after visibilityTimeout, for a retry.
	vis := int32(q.opts.VisibilityTimeout / time.Second)
	if _, err := q.queue.UpdateMessage(ctx, id, pop, text, &azqueue.UpdateMessageOptions{VisibilityTimeout: &vis}); err != nil {
		h.log.Error("release failed message", "function", fn.Name, "queue", q.name, "message", id, "error", err.Error())
	}
}

// movePoison copies the message, as stored, to <queue>-poison and deletes it.
func (h *Host) movePoison(ctx context.Context, fn *Function, q *queueTarget, m *azqueue.DequeuedMessage, why string) {
	id := deref(m.MessageID)
	q.poisonOnce.Do(func() { q.poisonErr = createQueue(ctx, q.poison) })
	if q.poisonErr != nil {
		h.log.Error("create poison queue", "queue", q.name+"-poison", "error", q.poisonErr.Error())
		return
	}
	if _, err := q.poison.EnqueueMessage(ctx, deref(m.MessageText), &azqueue.EnqueueMessageOptions{TimeToLive: ptr(int32(-1))}); err != nil {
		h.log.Error("move message to poison queue", "function", fn.Name, "queue", q.name, "message", id, "error", err.Error())
		return
	}
	if _, err := q.queue.DeleteMessage(ctx, id, deref(m.PopReceipt), nil); err != nil {
		h.log.Error("delete poisoned message", "function", fn.Name, "queue", q.name, "message", id, "error", err.Error())
	}
	h.log.Warn("message moved to poison queue", "function", fn.Name, "queue", q.name, "poison", q.name+"-poison", "message", id, "reason", why)
}

// queueTime formats a queue timestamp as the host sends it: a plain string
// with a +00:00 offset, e.g. 2022-06-20T06:00:06+00:00.
func queueTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05-07:00")
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
