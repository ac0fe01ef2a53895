package github

import (
	"net/http"
	"testing"

	"github.com/runtimelink/runtimelink/shared/conntest"
)

// The transport every GitHub client shares keeps at most MaxConnsPerHost
// connections to GitHub however many requests are made at once.
func TestTransportBoundsConnections(t *testing.T) {
	client := &http.Client{Transport: NewTransport(nil, TransportOptions{})}
	conntest.CheckBounded(t, client, false, MaxConnsPerHost, "/repos/octo-org/app/issues")
}
