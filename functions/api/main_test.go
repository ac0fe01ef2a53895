package api

import (
	"os"
	"testing"

	"github.com/runtimelink/runtimelink/infra/localstack"
)

// Tests that need the store start the local emulators once per binary.
func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }
