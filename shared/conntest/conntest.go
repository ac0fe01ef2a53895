// Package conntest proves that an HTTP client's connection pool is
// bounded: a burst of requests far larger than the pool, every one of them
// answered, never more connections open at once than the bound.
package conntest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// CheckBounded sends 4×limit concurrent GETs through client to a test
// server (TLS with a self-signed certificate when tls is set) at
// path+"/<i>", and fails t unless every one is answered 200 with at most
// limit connections open at once. The first limit requests are held until
// all of them have arrived, so the burst really is concurrent.
func CheckBounded(t testing.TB, client *http.Client, tls bool, limit int, path string) {
	t.Helper()
	var open, peak atomic.Int64
	var arrived atomic.Int64
	all := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch k := arrived.Add(1); {
		case k < int64(limit):
			<-all
		case k == int64(limit):
			close(all)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := open.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	defer srv.Close()

	burst := 4 * limit
	errs := make(chan error, burst)
	var done sync.WaitGroup
	for i := range burst {
		done.Add(1)
		go func() {
			defer done.Done()
			url := fmt.Sprintf("%s%s/%d", srv.URL, path, i)
			resp, err := client.Get(url)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
			}
		}()
	}
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := peak.Load(); p > int64(limit) {
		t.Errorf("%d connections open at once for a burst of %d, want at most %d", p, burst, limit)
	}
}
