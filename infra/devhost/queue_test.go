package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/runtimelink/runtimelink/infra/localstack"
)

const queueHostJSON = `{
  "version": "2.0",
  "customHandler": {"description": {"defaultExecutablePath": "handler"}, "enableForwardingHttpRequest": true},
  "extensions": {"queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:00:00", "batchSize": 4,
                            "messageEncoding": "base64", "maxPollingInterval": "00:00:00.200"}}
}`

var queueTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

// TestQueueTrigger runs the sync queue trigger against Azurite.
func TestQueueTrigger(t *testing.T) {
	st := localstack.ForTest(t)
	svc, err := azqueue.NewServiceClientFromConnectionString(st.QueueConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	syncQ, poisonQ := svc.NewQueueClient("sync"), svc.NewQueueClient("sync-poison")
	files := map[string]string{
		"host.json":          queueHostJSON,
		"sync/function.json": `{"bindings":[{"type":"queueTrigger","direction":"in","name":"msg","queueName":"sync","connection":"AzureWebJobsStorage"}]}`,
	}
	settings := func(extra ...string) map[string]string {
		m := map[string]string{"AzureWebJobsStorage": st.QueueConnectionString}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	reset := func(t *testing.T) {
		for _, q := range []*azqueue.QueueClient{syncQ, poisonQ} {
			if err := createQueue(ctx, q); err != nil {
				t.Fatal(err)
			}
			if _, err := q.ClearMessages(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue := func(t *testing.T, text string) {
		if _, err := syncQ.EnqueueMessage(ctx, text, nil); err != nil {
			t.Fatal(err)
		}
	}
	const text = `{"Kind":"group","Repository":"acme/app","GroupID":"g-1"}`
	encoded := base64.StdEncoding.EncodeToString([]byte(text))

	t.Run("success deletes the message", func(t *testing.T) {
		reset(t)
		hs := startHost(t, files, settings(), nil)
		enqueue(t, encoded)
		r := hs.waitRecords("/sync", 1, 10*time.Second)[0]
		checkInvocationHeaders(t, r)
		e := decodeEnvelope(t, r)
		// Data.msg: the decoded text, JSON-encoded, sent as a string.
		raw := jsonString(t, e.Data["msg"])
		if raw != mustJSON(t, text) {
			t.Errorf("Data.msg = %s, want the JSON encoding of the message text as a string", e.Data["msg"])
		}
		checkMetadataKeys(t, e, "sync", "DequeueCount", "Id", "PopReceipt", "InsertionTime", "ExpirationTime", "NextVisibleTime")
		if got := string(e.Metadata["DequeueCount"]); got != `"1"` {
			t.Errorf("DequeueCount = %s, want \"1\"", got)
		}
		for _, k := range []string{"Id", "PopReceipt"} {
			inner := jsonString(t, e.Metadata[k])
			if v := jsonString(t, json.RawMessage(inner)); v == "" {
				t.Errorf("%s = %s, want a JSON-encoded non-empty string", k, e.Metadata[k])
			}
		}
		for _, k := range []string{"InsertionTime", "ExpirationTime", "NextVisibleTime"} {
			if v := jsonString(t, e.Metadata[k]); !queueTimeRE.MatchString(v) {
				t.Errorf("%s = %q, want yyyy-mm-ddThh:mm:ss+00:00", k, v)
			}
		}
		waitQueueLen(t, syncQ, 0)
		assertQueueLen(t, poisonQ, 0)
	})

	t.Run("failure is retried with a growing dequeue count", func(t *testing.T) {
		reset(t)
		hs := startHost(t, files, settings("FAKE_FAIL", "sync=2"), nil)
		enqueue(t, encoded)
		rs := hs.waitRecords("/sync", 3, 15*time.Second)
		ids := map[string]bool{}
		for i, r := range rs {
			e := decodeEnvelope(t, r)
			if got, want := string(e.Metadata["DequeueCount"]), mustJSON(t, mustJSON(t, i+1)); got != want {
				t.Errorf("attempt %d DequeueCount = %s, want %s", i+1, got, want)
			}
			ids[string(e.Metadata["Id"])] = true
		}
		if len(ids) != 1 {
			t.Errorf("retries carry %d message ids, want the same message", len(ids))
		}
		waitQueueLen(t, syncQ, 0) // the third attempt succeeded
		assertQueueLen(t, poisonQ, 0)
		if n := len(hs.records("/sync")); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
	})

	t.Run("after maxDequeueCount the message is in sync-poison", func(t *testing.T) {
		reset(t)
		hs := startHost(t, files, settings("FAKE_FAIL", "sync=always"), nil)
		enqueue(t, encoded)
		hs.waitRecords("/sync", 3, 15*time.Second)
		waitQueueLen(t, poisonQ, 1)
		waitQueueLen(t, syncQ, 0)
		assertPoisoned(t, poisonQ, encoded)
		if n := len(hs.records("/sync")); n != 3 {
			t.Errorf("%d attempts, want maxDequeueCount = 3", n)
		}
	})

	t.Run("a message that is not base64 goes to poison unprocessed", func(t *testing.T) {
		reset(t)
		hs := startHost(t, files, settings(), nil)
		enqueue(t, text) // raw JSON: not base64
		waitQueueLen(t, poisonQ, 1)
		waitQueueLen(t, syncQ, 0)
		assertPoisoned(t, poisonQ, text)
		if rs := hs.records("/sync"); len(rs) != 0 {
			t.Errorf("the handler was invoked %d times for an undecodable message", len(rs))
		}
	})
}

func queueLen(t *testing.T, q *azqueue.QueueClient) int32 {
	t.Helper()
	p, err := q.GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.ApproximateMessagesCount == nil {
		return 0
	}
	return *p.ApproximateMessagesCount // counts invisible (in-flight) messages too
}

func waitQueueLen(t *testing.T, q *azqueue.QueueClient, n int32) {
	t.Helper()
	waitUntil(t, "queue length "+q.URL(), 15*time.Second, func() bool { return queueLen(t, q) == n })
}

func assertQueueLen(t *testing.T, q *azqueue.QueueClient, n int32) {
	t.Helper()
	if got := queueLen(t, q); got != n {
		t.Errorf("%s holds %d messages, want %d", q.URL(), got, n)
	}
}

// assertPoisoned checks the poison queue holds the message exactly as it was stored.
func assertPoisoned(t *testing.T, q *azqueue.QueueClient, want string) {
	t.Helper()
	resp, err := q.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: ptr(int32(32))})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Messages) != 1 || deref(resp.Messages[0].MessageText) != want {
		t.Fatalf("poison queue = %+v, want one message %q", resp.Messages, want)
	}
}
