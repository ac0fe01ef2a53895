package invocation

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a custom handler process: TestMain
// runs a server like functions/main.go does instead of the tests.
const helperEnv = "INVOCATION_TEST_HANDLER_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHandlerProcess())
	}
	os.Exit(m.Run())
}

func runHandlerProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	srv := NewServer(logger)
	srv.HandleTrigger("sync", func(context.Context, *Invocation) error { return nil })
	if err := srv.ListenAndServe(ctx); err != nil {
		logger.Error("custom handler", "error", err)
		return 1
	}
	return 0
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startHandlerProcess execs the handler process and measures the time from
// exec to the first 200 on GET /, polling as the host does (but tighter).
func startHandlerProcess(t testing.TB) (ready time.Duration, cmd *exec.Cmd) {
	t.Helper()
	port := freePort(t)
	cmd = exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1", PortEnv+"="+port)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://127.0.0.1:" + port + "/"

	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start handler process: %v", err)
	}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), cmd
			}
		}
		if time.Since(start) > 30*time.Second {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("handler not ready after 30s (last error %v)", err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// stopHandlerProcess sends SIGTERM, as the platform does, and requires a
// clean exit.
func stopHandlerProcess(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal handler process: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("handler process did not exit cleanly on SIGTERM: %v", err)
	}
}

func TestStartupToReady(t *testing.T) {
	if testing.Short() {
		t.Skip("execs a process")
	}
	ready, cmd := startHandlerProcess(t)
	stopHandlerProcess(t, cmd)
	t.Logf("exec to first 200 on GET /: %v (the host allows 60s)", ready)
	// Only a sanity bound; the figure itself comes from BenchmarkStartupToReady.
	if ready > 30*time.Second {
		t.Errorf("startup took %v", ready)
	}
}

func BenchmarkStartupToReady(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		ready, cmd := startHandlerProcess(b)
		total += ready
		b.StopTimer()
		stopHandlerProcess(b, cmd)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-ready/op")
}
