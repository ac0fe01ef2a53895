package cosmos_test

import (
	"testing"

	"github.com/runtimelink/runtimelink/shared/conntest"
	"github.com/runtimelink/runtimelink/shared/cosmos"
)

// A burst far larger than the pool waits for pooled connections instead
// of opening one (one file descriptor) per request.
func TestHTTPClientBoundsConnections(t *testing.T) {
	// TLS with a self-signed certificate, like the emulator's.
	conntest.CheckBounded(t, cosmos.HTTPClient(true), true, cosmos.MaxConnsPerHost, "/dbs/runtimelink/colls/findings/docs")
}
