package registryevents_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	registryevents "github.com/runtimelink/runtimelink/functions/registry_events"
	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

type env struct{ *inventorytest.Function }

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{inventorytest.Serve(t, registryevents.Register)}
}

func (e *env) deliver(t *testing.T, event []byte) invocationtest.Response {
	t.Helper()
	return invocationtest.Invoke(t, e.Handler, registryevents.Function, "inv-1",
		invocationtest.EventGridEvent(registryevents.Function, registryevents.Binding, event))
}

// cloudEvent is the sample push in the CloudEvents 1.0 schema.
func cloudEvent(t *testing.T, eventType string) []byte {
	t.Helper()
	var eg map[string]any
	_ = json.Unmarshal(sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"), &eg)
	ce := map[string]any{
		"specversion": "1.0", "type": eventType, "source": eg["topic"], "subject": eg["subject"],
		"id": eg["id"], "time": eg["eventTime"], "data": eg["data"],
	}
	b, _ := json.Marshal(ce)
	return b
}

func TestImagePushedBothSchemas(t *testing.T) {
	for name, event := range map[string]func(t *testing.T) []byte{
		"event grid":  func(t *testing.T) []byte { return sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json") },
		"cloudevents": func(t *testing.T) []byte { return cloudEvent(t, "Microsoft.ContainerRegistry.ImagePushed") },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			r := e.deliver(t, event(t))
			if r.Status != http.StatusOK {
				t.Fatalf("status %d %v", r.Status, r.Logs)
			}
			a, err := e.Store.Artifacts.Get(context.Background(), sampletest.Digest, sampletest.Digest)
			if err != nil || a.Image != "octoacr.azurecr.io/checkout-api" || a.Registry != "octoacr.azurecr.io" ||
				!slices.Equal(a.Tags, []string{"1.4.2"}) || a.Deleted {
				t.Fatalf("artifact = %+v, %v", a, err)
			}
			if got := e.Sync.Requests(queue.KindStorage); len(got) != 1 || got[0].Digest != sampletest.Digest {
				t.Errorf("storage syncs = %v", got)
			}
			// Event Grid retries deliver the same event: nothing more happens.
			before := e.Counter.Counts()
			if r := e.deliver(t, event(t)); r.Status != http.StatusOK {
				t.Fatalf("retry status %d", r.Status)
			}
			if d := e.Counter.Counts().Sub(before); d.Writes != 0 || len(e.Sync.Requests("")) != 1 {
				t.Errorf("retry wrote %d, syncs %v", d.Writes, e.Sync.Requests(""))
			}
		})
	}
}

func TestImageDeleted(t *testing.T) {
	e := newEnv(t)
	e.deliver(t, sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"))
	del := strings.Replace(string(cloudEvent(t, "Microsoft.ContainerRegistry.ImageDeleted")), `"tag":"1.4.2",`, "", 1)
	if r := e.deliver(t, []byte(del)); r.Status != http.StatusOK {
		t.Fatalf("status %d %v", r.Status, r.Logs)
	}
	if a, _ := e.Store.Artifacts.Get(context.Background(), sampletest.Digest, sampletest.Digest); !a.Deleted {
		t.Errorf("artifact not marked deleted: %+v", a)
	}
}

func TestSubscriptionValidationIsAnswered(t *testing.T) {
	e := newEnv(t)
	r := e.deliver(t, []byte(`{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/octoacr",`+
		`"subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net/x"},`+
		`"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-11-18T09:30:11Z","metadataVersion":"1","dataVersion":"2"}`))
	if r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	var got map[string]string
	if err := json.Unmarshal(r.ReturnValue, &got); err != nil || got["validationResponse"] != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
		t.Errorf("return value %s (%v)", r.ReturnValue, err)
	}
}

func TestOtherAndBadEventsAreAcknowledged(t *testing.T) {
	e := newEnv(t)
	for name, event := range map[string][]byte{
		"chart pushed": cloudEvent(t, "Microsoft.ContainerRegistry.ChartPushed"),
		"not an event": []byte(`{"hello":"world"}`),
		"no digest":    []byte(strings.Replace(string(cloudEvent(t, "Microsoft.ContainerRegistry.ImagePushed")), `"digest":"`+sampletest.Digest+`",`, "", 1)),
	} {
		if r := e.deliver(t, event); r.Status != http.StatusOK {
			t.Errorf("%s: status %d", name, r.Status)
		}
	}
	if c := e.Counter.Counts(); c.Writes != 0 || len(e.Sync.Requests("")) != 0 {
		t.Errorf("ignored events wrote %d, syncs %v", c.Writes, e.Sync.Requests(""))
	}
}

func TestStorageFailureFailsTheInvocation(t *testing.T) {
	e := newEnv(t)
	e.Counter.Fail(true)
	if r := e.deliver(t, sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json")); r.Status != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", r.Status)
	}
}
