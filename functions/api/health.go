package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/invocation"
)

// Health is the answer of GET /api/health.
type Health struct {
	Status  string `json:"status"` // ok | unavailable
	Version string `json:"version"`
	// Checks says, per dependency, "ok" or what failed.
	Checks map[string]string `json:"checks"`
	// Unavailable names the dependencies that did not answer.
	Unavailable []string `json:"unavailable,omitempty"`
	// Integrations says which optional integrations are on, and why not.
	Integrations map[string]string `json:"integrations,omitempty"`
}

// healthTimeout bounds each dependency check, so a hung dependency makes
// the answer 503, not slow.
const healthTimeout = 3 * time.Second

func health(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := Health{Status: "ok", Version: config.Version, Checks: map[string]string{}}
		if d.Config != nil {
			h.Integrations = d.Config.Integrations()
		}
		if d.Governance != nil {
			// On in the settings is not working: say what ARM answered.
			if st := d.Governance.Status(); st != "ok" {
				h.Integrations["governance"] = "on, but " + st
			}
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name, p := range d.Checks {
			wg.Add(1)
			go func(name string, p app.Pinger) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
				defer cancel()
				result := "ok"
				if err := p.Ping(ctx); err != nil {
					invocation.Logger(r.Context()).Warn("health check failed", "check", name, "error", err)
					result = "unavailable"
				}
				mu.Lock()
				h.Checks[name] = result
				if result != "ok" {
					h.Unavailable = append(h.Unavailable, name)
				}
				mu.Unlock()
			}(name, p)
		}
		wg.Wait()
		status := http.StatusOK
		if len(h.Unavailable) > 0 {
			sort.Strings(h.Unavailable)
			h.Status = "unavailable"
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, h)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
