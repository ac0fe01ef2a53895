// Command devhost is a local stand-in for the Azure Functions host, for
// running the runtimelink custom handler offline. It reads host.json and
// every function.json, starts the handler with FUNCTIONS_CUSTOMHANDLER_PORT,
// forwards HTTP routes (queued, and refused with 429, past host.json's
// extensions.http maxConcurrentRequests / maxOutstandingRequests), fires
// timers on their NCRONTAB schedule (and on POST /admin/functions/<name>), polls Azurite queues with dequeue count
// and poison queue, and accepts Event Hub (POST /admin/eventhub/<name>)
// and Event Grid (POST /runtime/webhooks/eventgrid?functionName=<name>)
// events, all through the envelopes the real host sends. It builds those
// envelopes itself, never through the handler's own decoding package, so
// it is an independent check of the handler.
//
//	go run ./infra/devhost -app dist/app            # deploy layout: <app>/<function>/function.json
//	go run ./infra/devhost -app . -handler ./handler # repo layout: functions/<function>/function.json
//
// DEVHOST_FUNCTION_KEY, when set, is the key function- and admin-level
// routes require (x-functions-key header or code query parameter).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devhost:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devhost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	appDir := fs.String("app", ".", "app directory holding host.json and the function folders (dist/app or the repo root)")
	addr := fs.String("addr", "127.0.0.1:7071", "address to listen on")
	handler := fs.String("handler", "", "handler executable (default: host.json customHandler.description.defaultExecutablePath)")
	settings := fs.String("settings", "", "local.settings.json to read Values from (default: <app>/local.settings.json when present)")
	ehBatch := fs.Int("eventhub-batch", 0, "Event Hub batch size (default: host.json extensions.eventHubs.maxEventBatchSize, else 100)")
	debug := fs.Bool("debug", false, "log debug lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	app, err := LoadApp(LoadOptions{Dir: *appDir, SettingsFile: *settings, Environ: os.Environ()})
	if err != nil {
		return err
	}
	h, err := New(Options{
		App:           app,
		Addr:          *addr,
		HandlerPath:   *handler,
		FunctionKey:   os.Getenv("DEVHOST_FUNCTION_KEY"),
		EventHubBatch: *ehBatch,
		Stdout:        stdout,
		Stderr:        stderr,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	return h.Run(ctx)
}
