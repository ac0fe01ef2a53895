// Package sampletest names what the repository's sample payloads
// (testdata/) are about: the checkout-api image of octo-org, pushed to the
// octoacr registry and running on the AKS cluster aks-prod-eus in one
// subscription. Tests use these names rather than repeat the literals, so
// that a test about "the sample's image" says so, and all of them agree.
package sampletest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

const (
	// Org is the GitHub organisation of the samples.
	Org = "octo-org"
	// Repo is the repository that builds the sample image.
	Repo = Org + "/checkout-api"
	// Image is the sample image's name (registry/repository).
	Image = "octoacr.azurecr.io/checkout-api"
	// Digest is the sample image's digest, as the Defender export, Event
	// Grid and deployment-record samples give it.
	Digest = "sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
	// Subscription is the Azure subscription of the samples.
	Subscription = "6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
	// ClusterID is the ARM id, lower-cased as runtimelink keys it, of the
	// AKS cluster the sample image runs on.
	ClusterID = "/subscriptions/" + Subscription + "/resourcegroups/rg-octo-prod/providers/microsoft.containerservice/managedclusters/aks-prod-eus"
)

// Testdata reads a file of the repository's testdata folder, e.g.
// Testdata(t, "defender", "assessment-risk.json").
func Testdata(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{Root(t), "testdata"}, parts...)...))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// DeploymentRecords are the sample deployment-record bodies of
// testdata/defender/deployment-records.json, by name ("single", "cluster").
func DeploymentRecords(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	var records map[string]json.RawMessage
	if err := json.Unmarshal(Testdata(t, "defender", "deployment-records.json"), &records); err != nil {
		t.Fatal(err)
	}
	return records
}

// Root is the module root, found by walking up to go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
