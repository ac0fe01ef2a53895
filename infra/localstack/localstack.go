// Package localstack installs and runs the local emulators runtimelink is
// developed and tested against: the Cosmos DB emulator
// (@vercel/cosmosdb-server) and Azurite's queue service, both pinned in
// infra/package.json. Tests start one stack per test binary (RunTests +
// ForTest); the scripts in infra/ do the same for `make run` and `make demo`.
package localstack

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The emulators' well-known development credentials. They are public
// constants of the emulators, not secrets.
const (
	CosmosKey       = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
	QueueAccount    = "devstoreaccount1"
	QueueAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Stack is a running set of emulators.
type Stack struct {
	CosmosEndpoint        string // https://127.0.0.1:<port>/
	CosmosKey             string
	QueueEndpoint         string // http://127.0.0.1:<port>/devstoreaccount1
	QueueConnectionString string

	Cosmos *Process
	Queue  *Process
}

// Process is one emulator process.
type Process struct {
	Name string
	Port int
	cmd  *exec.Cmd
	done chan struct{}
	log  *tailBuffer
}

// Start installs the emulators when needed and starts both on free ports.
func Start(ctx context.Context) (*Stack, error) {
	cosmos, err := StartCosmos(ctx)
	if err != nil {
		return nil, err
	}
	queue, err := StartQueue(ctx)
	if err != nil {
		cosmos.Stop()
		return nil, err
	}
	return &Stack{
		CosmosEndpoint:        CosmosEndpoint(cosmos.Port),
		CosmosKey:             CosmosKey,
		QueueEndpoint:         queueEndpoint(queue.Port),
		QueueConnectionString: QueueConnectionString(queue.Port),
		Cosmos:                cosmos,
		Queue:                 queue,
	}, nil
}

// Stop stops every emulator of the stack.
func (s *Stack) Stop() {
	if s == nil {
		return
	}
	s.Cosmos.Stop()
	s.Queue.Stop()
}

// CosmosEndpoint is the endpoint of a Cosmos emulator on port.
func CosmosEndpoint(port int) string { return fmt.Sprintf("https://127.0.0.1:%d/", port) }

func queueEndpoint(port int) string {
	return fmt.Sprintf("http://127.0.0.1:%d/%s", port, QueueAccount)
}

// QueueConnectionString is the Azurite connection string for a queue service on port.
func QueueConnectionString(port int) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;QueueEndpoint=%s;",
		QueueAccount, QueueAccountKey, queueEndpoint(port))
}

// StartCosmos starts one Cosmos DB emulator on a free port and waits until
// it answers. It runs through infra/cosmosdb-server.js, which turns on the
// emulator's HTTP keep-alive (as real Cosmos DB keeps connections).
func StartCosmos(ctx context.Context) (*Process, error) {
	return startProcess(ctx, "node", func(port int) []string {
		return []string{"cosmosdb-server.js", "--host", "127.0.0.1", "-p", fmt.Sprint(port)}
	}, func(ctx context.Context, port int) error {
		return httpReady(ctx, CosmosEndpoint(port), true)
	})
}

// StartQueue starts Azurite's queue service (in memory) on a free port and waits until it answers.
func StartQueue(ctx context.Context) (*Process, error) {
	return startProcess(ctx, "azurite-queue", func(port int) []string {
		return []string{"--queueHost", "127.0.0.1", "--queuePort", fmt.Sprint(port),
			"--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"}
	}, func(ctx context.Context, port int) error {
		return httpReady(ctx, queueEndpoint(port)+"?comp=list", false)
	})
}

func startProcess(ctx context.Context, bin string, args func(port int) []string, ready func(context.Context, int) error) (*Process, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	if err := Install(ctx); err != nil {
		return nil, err
	}
	// A free port can be taken between the probe and the bind; try a few.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		p := &Process{Name: bin, Port: port, done: make(chan struct{}), log: &tailBuffer{max: 8 << 10}}
		path := bin
		if bin != "node" {
			path = filepath.Join(dir, "node_modules", ".bin", bin)
		}
		p.cmd = exec.Command(path, args(port)...)
		p.cmd.Dir = dir
		p.cmd.Stdout = p.log
		p.cmd.Stderr = p.log
		// Own process group, and die with the parent: an aborted test run
		// must not leave emulators behind.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := p.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		go func() { _ = p.cmd.Wait(); close(p.done) }()
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = waitReady(rctx, p, ready)
		cancel()
		if err == nil {
			return p, nil
		}
		p.Stop()
		lastErr = fmt.Errorf("%s on port %d: %w; output: %s", bin, port, err, p.log.String())
	}
	return nil, lastErr
}

func waitReady(ctx context.Context, p *Process, ready func(context.Context, int) error) error {
	for {
		select {
		case <-p.done:
			return errors.New("exited before it was ready")
		default:
		}
		if err := ready(ctx, p.Port); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-p.done:
			return errors.New("exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func httpReady(ctx context.Context, url string, insecure bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
	if insecure {
		// Readiness probe of the local emulator only; it serves a self-signed certificate.
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil // any HTTP answer means it is serving
}

// Stop kills the process group (SIGKILL, as a crash would) and waits for it
// to exit.
func (p *Process) Stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// Output returns the tail of the process output, for test failure messages.
func (p *Process) Output() string { return p.log.String() }

// FreePort asks the kernel for a free TCP port on the loopback interface.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Dir is the infra/ directory holding package.json.
func Dir() (string, error) {
	if d := os.Getenv("RUNTIMELINK_INFRA_DIR"); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("localstack: cannot locate infra directory")
	}
	return filepath.Dir(filepath.Dir(file)), nil
}

var installMu sync.Mutex

// Install runs `npm ci` in infra/ when node_modules is missing or older than
// the lockfile. Concurrent test binaries serialise on a lock file.
func Install(ctx context.Context) error {
	installMu.Lock()
	defer installMu.Unlock()
	dir, err := Dir()
	if err != nil {
		return err
	}
	if installed(dir) {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".npm-install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("install emulators: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("install emulators: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if installed(dir) {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w: %s", dir, err, lastLines(string(out), 20))
	}
	return os.WriteFile(filepath.Join(dir, "node_modules", ".runtimelink-installed"), nil, 0o644)
}

func installed(dir string) bool {
	stamp, err := os.Stat(filepath.Join(dir, "node_modules", ".runtimelink-installed"))
	if err != nil {
		return false
	}
	lockfile, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false
	}
	return !stamp.ModTime().Before(lockfile.ModTime())
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
