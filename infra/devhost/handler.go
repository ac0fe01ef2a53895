package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// handlerProcess is the custom handler the dev host runs, as the Functions
// host does: a child process told its port through the environment.
type handlerProcess struct {
	cmd    *exec.Cmd
	port   int
	base   string        // http://127.0.0.1:<port>
	exited chan struct{} // closed when the process has exited
	err    error         // the exit status, valid once exited is closed
}

// startHandler starts the handler on a free loopback port.
func startHandler(app *App, handlerPath string, stdout, stderr io.Writer, log *slog.Logger) (*handlerProcess, error) {
	path := handlerPath
	if path == "" {
		if app.Host.Handler == "" {
			return nil, errors.New("host.json has no customHandler.description.defaultExecutablePath and no -handler was given")
		}
		path = app.Host.Handler
		if !filepath.IsAbs(path) {
			path = filepath.Join(app.Dir, path)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, app.Host.HandlerArgs...)
	cmd.Dir = app.Dir
	if wd := app.Host.HandlerWorkDir; wd != "" {
		if !filepath.IsAbs(wd) {
			wd = filepath.Join(app.Dir, wd)
		}
		cmd.Dir = wd
	}
	p := strconv.Itoa(port)
	cmd.Env = append(app.Settings.Environ(),
		"FUNCTIONS_CUSTOMHANDLER_PORT="+p,
		"FUNCTIONS_HTTPWORKER_PORT="+p,
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID=devhost",
		"FUNCTIONS_HTTPWORKER_ID=devhost",
		"AzureWebJobsScriptRoot="+app.Dir,
	)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// Its own process group: a Ctrl-C in the terminal reaches only the dev
	// host, which then stops the handler with SIGTERM like the real host.
	// Pdeathsig: the handler dies with the dev host even if that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start handler %s: %w", path, err)
	}
	log.Info("handler started", "path", path, "pid", cmd.Process.Pid, "port", port)
	h := &handlerProcess{cmd: cmd, port: port, base: "http://127.0.0.1:" + p, exited: make(chan struct{})}
	go func() {
		h.err = cmd.Wait()
		close(h.exited)
	}()
	return h, nil
}

// waitReady polls GET / until the handler answers anything, as the host
// does before it sends work (the host gives up after 60 s).
func (h *handlerProcess) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-h.exited:
			return fmt.Errorf("handler exited before answering GET /: %v", exitReason(h.err))
		case <-ctx.Done():
			return fmt.Errorf("handler did not answer GET / on port %d within %s", h.port, timeout)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits for the handler to finish its in-flight
// work; after grace it is killed.
func (h *handlerProcess) stop(grace time.Duration) error {
	select {
	case <-h.exited:
		return h.err
	default:
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
	case <-time.After(grace):
		_ = h.cmd.Process.Kill()
		<-h.exited
		return fmt.Errorf("handler did not stop within %s after SIGTERM; killed", grace)
	}
	var exitErr *exec.ExitError
	if errors.As(h.err, &exitErr) && exitErr.Exited() {
		return h.err // a non-zero exit code on SIGTERM is the handler's bug
	}
	return nil // exited 0, or died of our SIGTERM
}

func exitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for the handler: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
