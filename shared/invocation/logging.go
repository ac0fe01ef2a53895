package invocation

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

type loggerKey struct{}

// WithLogger returns a context carrying l, for Logger to find.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the invocation- or request-scoped logger in ctx, or
// slog.Default() when there is none.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}

// maxLogLines caps the lines returned to the host in Logs, so a chatty batch
// cannot bloat the answer; every line still goes to stdout.
const maxLogLines = 500

// logLines collects the JSON lines of one invocation. slog's JSON handler
// writes each record with a single Write call, so a Write is a line.
type logLines struct {
	mu      sync.Mutex
	buf     []string
	dropped int
}

func (c *logLines) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) >= maxLogLines {
		c.dropped++
		return len(p), nil
	}
	c.buf = append(c.buf, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (c *logLines) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.buf), len(c.buf)+1)
	copy(out, c.buf)
	if c.dropped > 0 {
		out = append(out, fmt.Sprintf("%d more log lines not returned; see the handler's stdout", c.dropped))
	}
	return out
}

// invocationLogger logs to base and, from Info up, into lines.
func invocationLogger(base *slog.Logger, lines *logLines, id, function string) *slog.Logger {
	capture := slog.NewJSONHandler(lines, &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(slog.NewMultiHandler(base.Handler(), capture)).
		With("invocationId", id, "function", function)
}
