package invocation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// binding is one entry of a function.json bindings array.
type binding struct {
	Type          string   `json:"type"`
	Direction     string   `json:"direction"`
	Name          string   `json:"name"`
	AuthLevel     string   `json:"authLevel"`
	Methods       []string `json:"methods"`
	Route         string   `json:"route"`
	EventHubName  string   `json:"eventHubName"`
	ConsumerGroup string   `json:"consumerGroup"`
	Connection    string   `json:"connection"`
	Cardinality   string   `json:"cardinality"`
	DataType      string   `json:"dataType"`
	QueueName     string   `json:"queueName"`
	Schedule      string   `json:"schedule"`
	RunOnStartup  *bool    `json:"runOnStartup"`
	UseMonitor    *bool    `json:"useMonitor"`
}

type functionJSON struct {
	Bindings []binding `json:"bindings"`
	Retry    *struct {
		Strategy      string `json:"strategy"`
		MaxRetryCount int    `json:"maxRetryCount"`
	} `json:"retry"`
}

// TestFunctionJSONFiles checks every function.json against what the Go
// handlers register: the trigger type and binding names they read (events,
// event, msg, timer; req/res for forwarded HTTP) and the HTTP routes behind
// their ServeMux patterns.
func TestFunctionJSONFiles(t *testing.T) {
	const root = "../.."
	type httpWant struct{ auth, methods, route string } // methods comma-separated
	want := map[string]struct {
		trigger, name string
		http          *httpWant
		check         func(t *testing.T, fj functionJSON)
	}{
		// host.json's routePrefix is "": every route spells its "api/".
		"github_webhook": {"httpTrigger", "req", &httpWant{"anonymous", "post", "api/github/webhook"}, nil},
		"deployments": {"httpTrigger", "req",
			&httpWant{"anonymous", "get,post", "api/orgs/{org}/artifacts/{*rest}"}, nil},
		// A GitHub Enterprise Server style base URL (.../api/v3) and a base
		// URL without /api reach the handler, which answers a JSON 404
		// naming the right one (the host's own 404 is bare, and
		// deployment-tracker reads a bare 404 as "no artifact").
		"deployments_v3":       {"httpTrigger", "req", &httpWant{"anonymous", "get,post", "api/v3/{*rest}"}, nil},
		"deployments_noprefix": {"httpTrigger", "req", &httpWant{"anonymous", "get,post", "orgs/{org}/artifacts/{*rest}"}, nil},
		"api":                  {"httpTrigger", "req", &httpWant{"function", "get", "api/{*path}"}, nil},
		"defender_export": {"eventHubTrigger", "events", nil, func(t *testing.T, fj functionJSON) {
			b := fj.Bindings[0]
			if b.Cardinality != "many" || b.DataType != "string" || b.Connection != "EventHubConnection" ||
				b.EventHubName != "%EVENTHUB_NAME%" || b.ConsumerGroup != "%EVENTHUB_CONSUMER_GROUP%" {
				t.Errorf("event hub binding = %+v", b)
			}
			// Without a retry policy the Event Hubs trigger checkpoints a failed batch.
			if fj.Retry == nil || fj.Retry.MaxRetryCount != -1 {
				t.Errorf("retry = %+v, want an unbounded retry policy", fj.Retry)
			}
		}},
		"registry_events": {"eventGridTrigger", "event", nil, nil},
		"sync": {"queueTrigger", "msg", nil, func(t *testing.T, fj functionJSON) {
			if b := fj.Bindings[0]; b.QueueName != "sync" || b.Connection != "AzureWebJobsStorage" {
				t.Errorf("queue binding = %+v", b)
			}
		}},
		// Its schedule is an app setting (RUNTIMELINK_REDELIVER_SCHEDULE);
		// no retry policy: the next run, minutes later, is the retry.
		"redeliver": {"timerTrigger", "timer", nil, func(t *testing.T, fj functionJSON) {
			b := fj.Bindings[0]
			if b.Schedule != "%RUNTIMELINK_REDELIVER_SCHEDULE%" || b.RunOnStartup == nil || *b.RunOnStartup || b.UseMonitor == nil || !*b.UseMonitor || fj.Retry != nil {
				t.Errorf("timer binding = %+v, retry %+v", b, fj.Retry)
			}
		}},
		"reprioritize": {"timerTrigger", "timer", nil, func(t *testing.T, fj functionJSON) {
			b := fj.Bindings[0]
			if b.Schedule != "0 0 2 * * *" || b.RunOnStartup == nil || *b.RunOnStartup || b.UseMonitor == nil || !*b.UseMonitor {
				t.Errorf("timer binding = %+v", b)
			}
		}},
	}

	files, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, f := range files {
		found = append(found, filepath.Base(filepath.Dir(f)))
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(found)
	slices.Sort(names)
	if !slices.Equal(found, names) {
		t.Fatalf("functions with a function.json = %v, want %v", found, names)
	}

	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			var fj functionJSON
			readJSON(t, filepath.Join(root, "functions", name, "function.json"), &fj)
			if len(fj.Bindings) == 0 {
				t.Fatal("no bindings")
			}
			trig := fj.Bindings[0]
			if trig.Type != w.trigger || trig.Name != w.name || trig.Direction != "in" {
				t.Errorf("trigger = %s %q (%s), want %s %q (in)", trig.Type, trig.Name, trig.Direction, w.trigger, w.name)
			}
			if w.http == nil {
				// Non-HTTP functions are invoked as POST /<name> with the envelope.
				if len(fj.Bindings) != 1 {
					t.Errorf("bindings = %+v, want only the trigger", fj.Bindings)
				}
			} else {
				// Forwarding needs exactly an HTTP trigger and an HTTP output
				// (the host's IsHttpInAndOutFunction), or the request arrives as an envelope.
				if len(fj.Bindings) != 2 || fj.Bindings[1].Type != "http" || fj.Bindings[1].Direction != "out" || fj.Bindings[1].Name != "res" {
					t.Errorf("bindings = %+v, want the trigger and http out \"res\"", fj.Bindings)
				}
				if trig.AuthLevel != w.http.auth || !slices.Equal(trig.Methods, strings.Split(w.http.methods, ",")) || trig.Route != w.http.route {
					t.Errorf("http trigger = %s %v %q, want %s [%s] %q", trig.AuthLevel, trig.Methods, trig.Route, w.http.auth, w.http.methods, w.http.route)
				}
			}
			if w.check != nil {
				w.check(t, fj)
			}
		})
	}
}

func TestHostJSON(t *testing.T) {
	var host struct {
		Version         string
		FunctionTimeout string
		ExtensionBundle struct{ ID, Version string }
		CustomHandler   struct {
			Description struct {
				DefaultExecutablePath string
				WorkingDirectory      *string
				Arguments             []string
			}
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		}
		Extensions struct {
			HTTP struct {
				RoutePrefix            *string
				MaxConcurrentRequests  int
				MaxOutstandingRequests int
			} `json:"http"`
			Queues struct {
				MaxDequeueCount   int
				VisibilityTimeout string
				BatchSize         int
				MessageEncoding   string
			}
		}
	}
	readJSON(t, "../../host.json", &host)
	d := host.CustomHandler.Description
	switch {
	case host.Version != "2.0":
		t.Errorf("version = %q", host.Version)
	case host.FunctionTimeout != "00:10:00":
		t.Errorf("functionTimeout = %q", host.FunctionTimeout)
	case host.ExtensionBundle.ID != "Microsoft.Azure.Functions.ExtensionBundle" || host.ExtensionBundle.Version != "[4.*, 5.0.0)":
		t.Errorf("extensionBundle = %+v", host.ExtensionBundle)
	case d.DefaultExecutablePath != "handler" || d.WorkingDirectory == nil || *d.WorkingDirectory != "" || d.Arguments == nil:
		t.Errorf("customHandler.description = %+v", d)
	case !host.CustomHandler.EnableForwardingHTTPRequest:
		t.Error("customHandler.enableForwardingHttpRequest is not true: webhook HMAC needs the raw request")
	case host.Extensions.HTTP.RoutePrefix == nil || *host.Extensions.HTTP.RoutePrefix != "":
		// "" (not absent, which means "api"): a base URL without /api must
		// reach a function that answers it (deployments_noprefix).
		t.Errorf("http routePrefix = %v, want \"\"", host.Extensions.HTTP.RoutePrefix)
	case host.Extensions.HTTP.MaxConcurrentRequests != DefaultMaxHTTPInFlight:
		// The host's bound and the handler's are one: the host queues and
		// refuses first, the handler's own bound never refuses what the
		// host let through.
		t.Errorf("http maxConcurrentRequests = %d, want the handler's in-flight bound %d",
			host.Extensions.HTTP.MaxConcurrentRequests, DefaultMaxHTTPInFlight)
	case host.Extensions.HTTP.MaxOutstandingRequests <= host.Extensions.HTTP.MaxConcurrentRequests:
		t.Errorf("http maxOutstandingRequests = %d: no room to queue beside %d running",
			host.Extensions.HTTP.MaxOutstandingRequests, host.Extensions.HTTP.MaxConcurrentRequests)
	case host.Extensions.Queues != struct {
		MaxDequeueCount   int
		VisibilityTimeout string
		BatchSize         int
		MessageEncoding   string
	}{5, "00:00:30", 16, "base64"}:
		t.Errorf("queues = %+v", host.Extensions.Queues)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
