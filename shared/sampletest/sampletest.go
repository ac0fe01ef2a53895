// Package sampletest names what the repository's sample payloads
// (testdata/) are about: the checkout-api image of octo-org, pushed to the
// octoacr registry and running on the AKS cluster aks-prod-eus in one
// subscription. Tests use these names rather than repeat the literals, so
// that a test about "the sample's image" says so, and all of them agree.
package sampletest

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
