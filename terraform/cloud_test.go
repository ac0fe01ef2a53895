package terraform_test

import (
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/mapping"
)

// The module spells the Event Hub host itself, so it needs the cloud the
// handler runs in; its tables must know every cloud the handler knows, with
// the same Resource Manager hosts, or a sovereign deployment would point
// the trigger at a public-cloud host.
func TestTerraformKnowsEveryCloudTheHandlerKnows(t *testing.T) {
	files, err := loadModule(moduleDir)
	if err != nil {
		t.Fatalf("read module: %v", err)
	}
	strValues := func(local string) map[string]string {
		t.Helper()
		expr, _, err := findLocal(files, local)
		if err != nil {
			t.Fatal(err)
		}
		vals, _, err := objectKeys(expr)
		if err != nil {
			t.Fatalf("local.%s: %v", local, err)
		}
		out := map[string]string{}
		for k, v := range vals {
			if len(v) != 1 || v[0].kind != tokString {
				t.Fatalf("local.%s: %s is not a string literal", local, k)
			}
			out[k] = v[0].text
		}
		return out
	}
	byHost := strValues("cloud_of_arm_host")
	suffix := strValues("servicebus_suffix_of_cloud")
	if len(byHost) != len(mapping.KnownClouds) || len(suffix) != len(mapping.KnownClouds) {
		t.Errorf("cloud tables have %d ARM hosts and %d Event Hub suffixes; the handler knows %d clouds", len(byHost), len(suffix), len(mapping.KnownClouds))
	}
	for _, c := range mapping.KnownClouds {
		if got := byHost[c.ARMHost]; got != c.Name {
			t.Errorf("local.cloud_of_arm_host[%q] = %q, want %q", c.ARMHost, got, c.Name)
		}
		if s := suffix[c.Name]; !strings.HasPrefix(s, "servicebus.") {
			t.Errorf("local.servicebus_suffix_of_cloud[%q] = %q, want the cloud's servicebus.* suffix", c.Name, s)
		}
	}

	settings, _, err := findLocal(files, "app_settings")
	if err != nil {
		t.Fatal(err)
	}
	vals, _, err := objectKeys(settings)
	if err != nil {
		t.Fatal(err)
	}
	var ns strings.Builder
	for _, tok := range vals["EventHubConnection__fullyQualifiedNamespace"] {
		ns.WriteString(tok.text)
	}
	if !strings.Contains(ns.String(), "local.servicebus_suffix") {
		t.Errorf("EventHubConnection__fullyQualifiedNamespace = %s; want the host in the configured cloud (local.servicebus_suffix)", ns.String())
	}
}
