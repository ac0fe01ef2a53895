// The import rule of DESIGN.md, checked on every `make test`: the domain
// packages import no adapter, directly or through another package.
package runtimelink_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/runtimelink/runtimelink"

// domain are the packages that hold runtimelink's rules.
var domain = []string{
	"shared/model", "shared/scoring", "shared/mapping", "shared/codeowners", "shared/alerts",
	"shared/triage", "shared/inventory", "shared/remediation", "shared/runtimeview", "shared/riskreport",
	"shared/redelivery",
}

// adapters are what a domain package must not reach: the Azure SDK
// clients, runtimelink's own adapters and the HTTP stack. A path matches
// itself and everything under it.
var adapters = []string{
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos",
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue",
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets",
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity",
	module + "/shared/cosmos",
	module + "/shared/queue",
	module + "/shared/app",
	module + "/shared/keyvault",
	module + "/shared/github",
	module + "/shared/store",
	"net/http",
}

func isAdapter(path string) bool {
	for _, a := range adapters {
		if path == a || strings.HasPrefix(path, a+"/") {
			return true
		}
	}
	return false
}

func TestDomainImportsNoAdapter(t *testing.T) {
	for _, pkg := range domain {
		t.Run(pkg, func(t *testing.T) {
			imports := goListDeps(t, "./"+pkg)
			root := module + "/" + pkg
			for _, chain := range adapterChains(root, imports) {
				t.Errorf("%s imports an adapter: %s", pkg, strings.Join(chain, " → "))
			}
		})
	}
}

// goListDeps maps each package in the dependency closure of pkg (tests
// excluded, as in the build) to its imports.
func goListDeps(t *testing.T, pkg string) map[string][]string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
	}
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 {
			imports[fields[0]] = fields[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return imports
}

// adapterChains gives, for each adapter package reached first on some
// path from root, the shortest import chain to it (root first).
func adapterChains(root string, imports map[string][]string) [][]string {
	parent := map[string]string{root: ""}
	queue := []string{root}
	var chains [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range imports[p] {
			if _, seen := parent[imp]; seen {
				continue
			}
			parent[imp] = p
			if isAdapter(imp) {
				var chain []string
				for n := imp; n != ""; n = parent[n] {
					chain = append([]string{n}, chain...)
				}
				chains = append(chains, chain)
				continue // what the adapter imports is its own business
			}
			queue = append(queue, imp)
		}
	}
	return chains
}

// The check itself must be able to fail: a made-up graph with an adapter
// two steps down is reported with its chain.
func TestAdapterChainsNamesTheChain(t *testing.T) {
	imports := map[string][]string{
		module + "/shared/triage":   {"context", module + "/shared/defender"},
		module + "/shared/defender": {"encoding/json", "net/http"},
		"net/http":                  {"crypto/tls"},
	}
	chains := adapterChains(module+"/shared/triage", imports)
	if len(chains) != 1 || strings.Join(chains[0], " ") != module+"/shared/triage "+module+"/shared/defender net/http" {
		t.Errorf("chains = %v", chains)
	}
	if got := adapterChains(module+"/shared/model", map[string][]string{module + "/shared/model": {"time"}}); len(got) != 0 {
		t.Errorf("a clean package reports %v", got)
	}
}
