package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const minimalHostJSON = `{"version": "2.0", "customHandler": {"description": {"defaultExecutablePath": "handler"}}}`

func TestLoadAppDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"host.json":                    minimalHostJSON,
		"hello/function.json":          `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`,
		"functions/sync/function.json": `{"bindings":[{"type":"queueTrigger","direction":"in","name":"msg","queueName":"sync"}]}`,
	})
	app, err := LoadApp(LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	h := app.Host
	if h.RoutePrefix != "api" || h.ForwardHTTP || h.Handler != "handler" || h.EventHubMaxBatchSize != 100 || h.FunctionTimeout != 30*time.Minute {
		t.Errorf("host defaults = %+v", h)
	}
	if h.HTTPThrottle != (HTTPThrottle{MaxConcurrent: -1, MaxOutstanding: -1}) {
		t.Errorf("HTTP throttle default = %+v, want unbounded", h.HTTPThrottle)
	}
	if q := h.Queues; q.MaxDequeueCount != 5 || q.BatchSize != 16 || q.MessageEncoding != "base64" || q.VisibilityTimeout != 0 || q.MaxPollingInterval != 2*time.Second {
		t.Errorf("queue defaults = %+v", q)
	}
	// Both layouts: <dir>/<name>/ (deploy) and <dir>/functions/<name>/ (repo).
	if len(app.Functions) != 2 || app.Function("hello") == nil || app.Function("SYNC") == nil {
		t.Fatalf("functions = %v", app.Functions)
	}
	if !app.Function("hello").httpInAndOut() || app.Function("sync").Kind() != triggerQueue {
		t.Errorf("trigger kinds wrong: %+v", app.Functions)
	}
}

func TestLoadAppHostOptions(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"host.json": `{
		  "version": "2.0",
		  "functionTimeout": "00:05:00",
		  "customHandler": {"description": {"defaultExecutablePath": "bin/handler", "arguments": ["-v"]}, "enableForwardingHttpRequest": true},
		  "extensions": {
		    "http": {"routePrefix": "/v1/"},
		    "queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:00:30", "batchSize": 4, "messageEncoding": "none", "maxPollingInterval": 500},
		    "eventHubs": {"maxEventBatchSize": 10}
		  }
		}`,
		"local.settings.json":   `{"IsEncrypted": false, "Values": {"SYNC_QUEUE": "sync", "NIGHTLY": "0 0 2 * * *", "FROM_FILE": "file", "BOTH": "file"}}`,
		"sync/function.json":    `{"bindings":[{"type":"queueTrigger","direction":"in","name":"msg","queueName":"%SYNC_QUEUE%"}]}`,
		"nightly/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"%NIGHTLY%"}]}`,
		"off/function.json":     `{"disabled": true, "bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"* * * * * *"}]}`,
	})
	app, err := LoadApp(LoadOptions{Dir: dir, Environ: []string{"BOTH=env", "AzureWebJobs.nightly.Disabled=false"}})
	if err != nil {
		t.Fatal(err)
	}
	h := app.Host
	if h.RoutePrefix != "v1" || !h.ForwardHTTP || h.FunctionTimeout != 5*time.Minute || h.EventHubMaxBatchSize != 10 || len(h.HandlerArgs) != 1 {
		t.Errorf("host = %+v", h)
	}
	if q := h.Queues; q.MaxDequeueCount != 3 || q.BatchSize != 4 || q.MessageEncoding != "none" || q.VisibilityTimeout != 30*time.Second || q.MaxPollingInterval != 500*time.Millisecond {
		t.Errorf("queues = %+v", q)
	}
	if got := app.Function("sync").Trigger.QueueName; got != "sync" {
		t.Errorf("queueName = %q, want %%SYNC_QUEUE%% resolved to sync", got)
	}
	if got := app.Function("nightly").Trigger.Schedule; got != "0 0 2 * * *" {
		t.Errorf("schedule = %q", got)
	}
	if !app.Function("off").Disabled || app.Function("nightly").Disabled {
		t.Error("disabled flags wrong")
	}
	// The environment wins over local.settings.json, like Core Tools.
	if v, _ := app.Settings.Get("BOTH"); v != "env" {
		t.Errorf("BOTH = %q, want env", v)
	}
	env := strings.Join(app.Settings.Environ(), "\n")
	if !strings.Contains(env, "FROM_FILE=file") || !strings.Contains(env, "BOTH=env") || strings.Contains(env, "BOTH=file") {
		t.Errorf("handler environment = %s", env)
	}
}

func TestLoadAppErrors(t *testing.T) {
	fn := `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"* * * * * *"}]}`
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no host.json", map[string]string{"a/function.json": fn}, "host.json"},
		{"no functions", map[string]string{"host.json": minimalHostJSON}, "no function.json"},
		{"bad encoding", map[string]string{"host.json": `{"extensions":{"queues":{"messageEncoding":"utf8"}}}`, "a/function.json": fn}, "messageEncoding"},
		{"bad timespan", map[string]string{"host.json": `{"extensions":{"queues":{"visibilityTimeout":"30s"}}}`, "a/function.json": fn}, "visibilityTimeout"},
		{"zero concurrency", map[string]string{"host.json": `{"extensions":{"http":{"maxConcurrentRequests":0}}}`, "a/function.json": fn}, "maxConcurrentRequests"},
		{"two triggers", map[string]string{"host.json": minimalHostJSON, "a/function.json": `{"bindings":[{"type":"timerTrigger","name":"a"},{"type":"queueTrigger","name":"b"}]}`}, "exactly one trigger"},
		{"duplicate", map[string]string{"host.json": minimalHostJSON, "a/function.json": fn, "functions/a/function.json": fn}, "defined twice"},
		{"missing setting", map[string]string{"host.json": minimalHostJSON, "a/function.json": `{"bindings":[{"type":"queueTrigger","name":"m","queueName":"%NOPE%"}]}`}, "NOPE"},
		{"non-string setting", map[string]string{"host.json": minimalHostJSON, "a/function.json": fn, "local.settings.json": `{"Values":{"N":5}}`}, "Values.N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			_, err := LoadApp(LoadOptions{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestStorageConnection(t *testing.T) {
	s := Settings{env: map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true", "AzureWebJobsOther": "AccountName=x;AccountKey=eQ==", "Ident__queueServiceUri": "https://x"}}
	if got, err := storageConnection(s, ""); err != nil || !strings.Contains(got, "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1") {
		t.Errorf("default connection = %q, %v", got, err)
	}
	if got, err := storageConnection(s, "Other"); err != nil || got != "AccountName=x;AccountKey=eQ==" {
		t.Errorf("AzureWebJobs<name> fallback = %q, %v", got, err)
	}
	if _, err := storageConnection(s, "Ident"); err == nil || !strings.Contains(err.Error(), "managed identity") {
		t.Errorf("identity connection error = %v", err)
	}
	if _, err := storageConnection(s, "Missing"); err == nil || !strings.Contains(err.Error(), "Missing") {
		t.Errorf("missing connection error = %v", err)
	}
}
