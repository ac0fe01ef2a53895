package cosmos

import (
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// emulatorCompat works around a bug of the local emulator
// (@vercel/cosmosdb-server 1.0.1): a point read of a missing document
// crashes its partition check and answers 500 instead of 404. With the
// cross-partition header it skips that check and answers 404 from its
// normal read path, still looking the document up in its partition. Only
// installed when Options.Emulator is set.
type emulatorCompat struct{}

func (emulatorCompat) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/docs/") {
		r.Header.Set("x-ms-documentdb-query-enablecrosspartition", "true")
	}
	return req.Next()
}
