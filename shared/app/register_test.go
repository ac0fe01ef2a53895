package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/invocation"
)

// post invokes the non-HTTP function as the host does and returns the status.
func post(srv *invocation.Server, function string) int {
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+function, strings.NewReader(`{"Data":{},"Metadata":{}}`)))
	return rec.Code
}

func TestRegisterTrigger(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	srv := invocation.NewServer(logger)
	called := false
	RegisterTrigger(srv, logger, "ok_fn", func(context.Context, *invocation.Invocation) error {
		called = true
		return nil
	}, nil)
	RegisterTrigger(srv, logger, "broken_fn", func(context.Context, *invocation.Invocation) error {
		t.Error("the handler of a function that failed to build was called")
		return nil
	}, errors.New("no policy"))

	if code := post(srv, "ok_fn"); code != http.StatusOK || !called {
		t.Errorf("ok_fn: status %d, called %v; want 200 and the handler called", code, called)
	}
	if code := post(srv, "broken_fn"); code != http.StatusInternalServerError {
		t.Errorf("broken_fn: status %d, want 500 so the host retries", code)
	}
	for _, want := range []string{`"msg":"broken_fn disabled"`, `"error":"no policy"`, `broken_fn: no policy`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}
