// Command fakehandler is a custom handler for the dev host's tests. It
// records every request it gets (method, path, query, headers, raw body)
// as a JSON line in $FAKE_RECORD and answers like a handler would.
//
//	FAKE_FAIL=name=N,other=always  fail the first N invocations of /name (500)
//	FAKE_BAD_ANSWER=name           answer /name with 200 and a body that is not JSON
//	GET /api/die                   exit with status 3 at once
//	/api/hold                      wait until the file $FAKE_RELEASE exists, then answer as below
//	other /api/... paths           answer 201, header X-Fake: forwarded, body = request body
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type record struct {
	Event   string              `json:"event,omitempty"`
	Method  string              `json:"method,omitempty"`
	Path    string              `json:"path,omitempty"`
	Query   string              `json:"query,omitempty"`
	Host    string              `json:"host,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    []byte              `json:"body,omitempty"` // base64 in the file: raw bytes survive
}

var (
	mu    sync.Mutex
	calls = map[string]int{}
)

func write(r record) {
	mu.Lock()
	defer mu.Unlock()
	f, err := os.OpenFile(os.Getenv("FAKE_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakehandler: record:", err)
		os.Exit(2)
	}
	defer f.Close()
	line, _ := json.Marshal(r)
	_, _ = f.Write(append(line, '\n'))
}

// failNow counts the call and says whether it must fail.
func failNow(name string) bool {
	mu.Lock()
	defer mu.Unlock()
	calls[name]++
	for _, rule := range strings.Split(os.Getenv("FAKE_FAIL"), ",") {
		fn, n, ok := strings.Cut(rule, "=")
		if !ok || fn != name {
			continue
		}
		if n == "always" {
			return true
		}
		limit, _ := strconv.Atoi(n)
		return calls[name] <= limit
	}
	return false
}

func handle(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	body, _ := io.ReadAll(r.Body)
	write(record{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Headers: r.Header, Body: body})
	if r.URL.Path == "/api/die" {
		os.Exit(3)
	}
	if r.URL.Path == "/api/hold" {
		for {
			if _, err := os.Stat(os.Getenv("FAKE_RELEASE")); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("X-Fake", "forwarded")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if failNow(name) {
		http.Error(w, "fake failure of "+name, http.StatusInternalServerError)
		return
	}
	if os.Getenv("FAKE_BAD_ANSWER") == name {
		_, _ = io.WriteString(w, "this is not the answer you are looking for")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"Outputs":     map[string]any{},
		"Logs":        []string{"fake handled " + name},
		"ReturnValue": nil,
	})
}

func main() {
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), Handler: http.HandlerFunc(handle)}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		write(record{Event: "sigterm"})
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "fakehandler:", err)
		os.Exit(1)
	}
	<-ctx.Done()
}
