package logtest

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
)

func TestBufferConcurrentWritersAndLines(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("wrote", "i", i)
			_ = b.String()
		}()
	}
	wg.Wait()
	fmt.Fprintln(&b, "plain output, not JSON")
	lines := b.Lines()
	if len(lines) != 20 {
		t.Fatalf("got %d JSON lines, want 20:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if l["msg"] != "wrote" {
			t.Fatalf("line %v: msg %v", l, l["msg"])
		}
	}
	if (&Buffer{}).Lines() != nil {
		t.Fatal("an empty buffer has no lines")
	}
}
