package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/runtimelink/runtimelink/shared/cosmos"
)

// One stack per test binary, started by the first test that asks for it.
var (
	shared struct {
		once  sync.Once
		stack *Stack
		err   error
	}
	dbSeq atomic.Int64
)

// RunTests runs a package's tests and stops the stack afterwards. Use it
// from TestMain: `func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }`.
func RunTests(m *testing.M) int {
	code := m.Run()
	if shared.stack != nil {
		shared.stack.Stop()
	}
	return code
}

// ForTest returns the test binary's stack, starting it on first use.
// Under -short the test is skipped: store tests need the emulators.
func ForTest(t testing.TB) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local emulators (not under -short)")
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		shared.stack, shared.err = Start(ctx)
	})
	if shared.err != nil {
		t.Fatalf("local stack: %v", shared.err)
	}
	return shared.stack
}

// Store opens a store on a fresh database of the shared emulator, dropped
// when the test ends, so tests never see each other's documents.
func Store(t testing.TB) *cosmos.Store {
	t.Helper()
	st := ForTest(t)
	return OpenStore(t, st.CosmosEndpoint, DatabaseName(t))
}

// DatabaseName is a database name unique to this test within the binary.
func DatabaseName(t testing.TB) string {
	sum := sha256.Sum256([]byte(t.Name()))
	return fmt.Sprintf("t%d-%d-%s", os.Getpid(), dbSeq.Add(1), hex.EncodeToString(sum[:4]))
}

// StoreThrough is Store with every request to the emulator sent through
// transport: a counter, or a transport that fails or alters requests.
func StoreThrough(t testing.TB, transport policy.Transporter) *cosmos.Store {
	t.Helper()
	st := ForTest(t)
	return openStore(t, st.CosmosEndpoint, DatabaseName(t), transport)
}

// OpenStore opens (creating) a database on the emulator at endpoint and
// drops it at the end of the test.
func OpenStore(t testing.TB, endpoint, database string) *cosmos.Store {
	t.Helper()
	return openStore(t, endpoint, database, nil)
}

func openStore(t testing.TB, endpoint, database string, transport policy.Transporter) *cosmos.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := cosmos.Open(ctx, cosmos.Options{
		Endpoint: endpoint, Key: CosmosKey, Database: database,
		Emulator: true, CreateIfMissing: true, Transport: transport,
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.DropDatabase(ctx)
	})
	return s
}
