package queue_test

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/queue"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

// onAzurite is a client of a new queue name on the test binary's Azurite,
// created, and a plain azqueue client of the same queue to look inside it.
func onAzurite(t *testing.T, ctx context.Context, name string) (*queue.Client, *azqueue.QueueClient) {
	t.Helper()
	st := localstack.ForTest(t)
	c, err := queue.New(queue.Options{ConnectionString: st.QueueConnectionString, Queue: name})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateIfMissing(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := azqueue.NewQueueClientFromConnectionString(st.QueueConnectionString, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, raw
}

func TestEnqueueIsBase64JSONOnAzurite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, raw := onAzurite(t, ctx, "sync-test")
	if err := c.CreateIfMissing(ctx); err != nil {
		t.Fatalf("second create: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	want := queue.SyncRequest{Kind: queue.KindGroup, Repository: "octo-org/app", GroupID: "image:abc"}
	if err := c.EnqueueSync(ctx, want); err != nil {
		t.Fatal(err)
	}
	resp, err := raw.DequeueMessage(ctx, nil)
	if err != nil || len(resp.Messages) != 1 {
		t.Fatalf("dequeue: %v, %d messages", err, len(resp.Messages))
	}
	body, err := base64.StdEncoding.DecodeString(*resp.Messages[0].MessageText)
	if err != nil {
		t.Fatalf("message is not base64 (the host would poison it): %v", err)
	}
	got, err := queue.Decode(body)
	if err != nil || got != want {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, want)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, body := range []string{"", "{", `{"kind":"nope"}`, `[]`} {
		if _, err := queue.Decode([]byte(body)); err == nil {
			t.Errorf("Decode(%q) accepted", body)
		}
	}
}

func TestBadConnectionStringDoesNotLeakKey(t *testing.T) {
	_, err := queue.New(queue.Options{ConnectionString: "AccountKey=supersecret;garbage"})
	if err == nil {
		t.Fatal("accepted a malformed connection string")
	}
	if strings.Contains(err.Error(), "supersecret") {
		t.Fatalf("error leaks the key: %v", err)
	}
}

func TestUseDevelopmentStorageShorthand(t *testing.T) {
	c, err := queue.New(queue.Options{ConnectionString: "UseDevelopmentStorage=true"})
	if err != nil {
		t.Fatalf("the Functions tooling's shorthand is rejected: %v", err)
	}
	if c == nil {
		t.Fatal("no client")
	}
}

func TestDecodeBackfill(t *testing.T) {
	want := queue.SyncRequest{Kind: queue.KindBackfill, Org: "octo-org"}
	body, err := queue.Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := queue.Decode(raw)
	if err != nil || got != want {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, want)
	}
}

func TestEnqueueAfterHidesTheMessageOnAzurite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, raw := onAzurite(t, ctx, "sync-delayed")
	req := queue.SyncRequest{Kind: queue.KindGroup, Repository: "octo-org/app", GroupID: "image:later"}
	if err := c.EnqueueSyncAfter(ctx, req, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if resp, err := raw.DequeueMessage(ctx, nil); err != nil || len(resp.Messages) != 0 {
		t.Fatalf("dequeue at once: %v, %d messages; want none yet", err, len(resp.Messages))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := raw.DequeueMessage(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Messages) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delayed message never became visible")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
