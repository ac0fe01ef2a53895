// Command stack runs the local emulators (Cosmos DB emulator and Azurite
// queues) on free ports until it is interrupted, and writes the settings
// that reach them to an env file that scripts source (make run, make demo).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
)

func main() {
	envFile := flag.String("env", "", "write the settings of the running stack to this file (shell syntax)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *envFile); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, envFile string) error {
	start, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	st, err := localstack.Start(start)
	if err != nil {
		return err
	}
	defer st.Stop()
	env := fmt.Sprintf("COSMOS_ENDPOINT='%s'\nCOSMOS_KEY='%s'\nCOSMOS_EMULATOR=true\nAzureWebJobsStorage='%s'\n",
		st.CosmosEndpoint, st.CosmosKey, st.QueueConnectionString)
	if envFile != "" {
		tmp := envFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(env), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, envFile); err != nil { // appears whole or not at all
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "stack: Cosmos DB emulator at %s, Azurite queues at %s\n", st.CosmosEndpoint, st.QueueEndpoint)
	<-ctx.Done()
	return nil
}
