// Command handler is runtimelink's Azure Functions custom handler: one
// binary serving every function of the app. The Functions host starts it,
// waits for GET / and then forwards HTTP requests and trigger invocations.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/runtimelink/runtimelink/functions/api"
	defenderexport "github.com/runtimelink/runtimelink/functions/defender_export"
	"github.com/runtimelink/runtimelink/functions/deployments"
	githubwebhook "github.com/runtimelink/runtimelink/functions/github_webhook"
	"github.com/runtimelink/runtimelink/functions/redeliver"
	registryevents "github.com/runtimelink/runtimelink/functions/registry_events"
	"github.com/runtimelink/runtimelink/functions/reprioritize"
	syncfn "github.com/runtimelink/runtimelink/functions/sync"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/invocation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := realMain(ctx, logger); err != nil {
		// One line naming what is wrong; the host shows it in the log stream.
		fmt.Fprintln(os.Stderr, "runtimelink:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, logger *slog.Logger) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	// Listen first: the host's GET / is answered within milliseconds of
	// exec, and invocations wait behind Hold until start-up is done.
	srv := invocation.NewServer(logger)
	ready := make(chan struct{})
	srv.Hold(ready)
	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(serveCtx) }()

	deps, err := app.Build(ctx, cfg, logger)
	if err != nil {
		return err
	}
	register(srv, deps)
	close(ready)
	logger.Info("runtimelink started", "version", config.Version, "port", cfg.Port, "integrations", cfg.Integrations())
	return <-served
}

// register adds every function of the app.
func register(srv *invocation.Server, d *app.Deps) {
	api.Register(srv, d)
	githubwebhook.Register(srv, d)
	reprioritize.Register(srv, d)
	redeliver.Register(srv, d)
	defenderexport.Register(srv, d)
	registryevents.Register(srv, d)
	deployments.Register(srv, d)
	syncfn.Register(srv, d)
}
