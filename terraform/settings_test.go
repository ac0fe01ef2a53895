// Package terraform_test checks that the Terraform module deploys what the
// code needs: every setting shared/config reads is set by the module's app
// settings, every function the module refers to exists under functions/ (and
// every function there is watched by the module), and every permission and
// event of the GitHub App manifest is justified in the README.
package terraform_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/config"
)

const (
	moduleDir    = "."
	functionsDir = "../functions"
)

// platformSetting reports whether an app setting is read by the Functions
// platform or host rather than by the handler (so config need not know it).
func platformSetting(name string) bool {
	for _, prefix := range []string{"WEBSITE_", "FUNCTIONS_", "APPLICATIONINSIGHTS_", "AzureWebJobs"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// terraformSettings returns the app settings the module sets: the keys of
// local.app_settings plus the provider-managed ones of
// local.provider_managed_settings, after checking that the function app
// really sets the argument each provider-managed setting comes from.
func terraformSettings(t *testing.T) (appSettings []string, providerManaged map[string]string) {
	t.Helper()
	files, err := loadModule(moduleDir)
	if err != nil {
		t.Fatalf("read module: %v", err)
	}

	expr, file, err := findLocal(files, "app_settings")
	if err != nil {
		t.Fatal(err)
	}
	if file != "app_settings.tf" {
		t.Errorf("local.app_settings is defined in %s; keep it in app_settings.tf", file)
	}
	_, appSettings, err = objectKeys(expr)
	if err != nil {
		t.Fatalf("%s: local.app_settings: %v", file, err)
	}
	if len(appSettings) == 0 {
		t.Fatalf("%s: local.app_settings has no object literal keys", file)
	}

	expr, file, err = findLocal(files, "provider_managed_settings")
	if err != nil {
		t.Fatal(err)
	}
	values, names, err := objectKeys(expr)
	if err != nil {
		t.Fatalf("%s: local.provider_managed_settings: %v", file, err)
	}
	var fnApp *tfFile
	for i := range files {
		if files[i].name == "function_app.tf" {
			fnApp = &files[i]
		}
	}
	if fnApp == nil {
		t.Fatal("function_app.tf is missing")
	}
	args := arguments(*fnApp)
	providerManaged = map[string]string{}
	for _, name := range names {
		v := values[name]
		if len(v) == 0 || v[0].kind != tokString {
			t.Errorf("provider_managed_settings.%s: want the argument name as a string", name)
			continue
		}
		arg := v[0].text
		providerManaged[name] = arg
		uses := args[arg]
		if len(uses) == 0 {
			t.Errorf("%s comes from argument %s, which function_app.tf does not set", name, arg)
			continue
		}
		for _, u := range uses {
			if len(u) > 0 && (u[0].is(tokIdent, "false") || u[0].is(tokIdent, "null")) {
				t.Errorf("%s comes from argument %s, which function_app.tf sets to %s", name, arg, u[0].text)
			}
		}
		if slices.Contains(appSettings, name) {
			t.Errorf("%s is provider-managed (from %s) and must not be in app_settings too: every plan would show a diff", name, arg)
		}
	}
	return appSettings, providerManaged
}

func TestTerraformSetsEverySettingTheHandlerReads(t *testing.T) {
	appSettings, providerManaged := terraformSettings(t)
	set := map[string]bool{}
	for _, n := range appSettings {
		set[n] = true
	}
	for n := range providerManaged {
		set[n] = true
	}

	groups := map[string][]string{} // alternatives of which one suffices
	var missing []string
	for _, s := range config.Settings() {
		switch {
		case s.LocalOnly:
			if set[s.Name] {
				t.Errorf("%s is local-only (a key, the emulator switch or a platform value) and must not be set by Terraform", s.Name)
			}
		case s.Group != "":
			groups[s.Group] = append(groups[s.Group], s.Name)
		case !set[s.Name]:
			missing = append(missing, s.Name)
		}
	}
	for group, names := range groups {
		if !slices.ContainsFunc(names, func(n string) bool { return set[n] }) {
			missing = append(missing, "one of "+strings.Join(names, "/")+" ("+group+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("the handler reads %s but terraform/app_settings.tf does not set it", m)
	}

	// The other direction catches typos: a setting nobody reads.
	read := map[string]bool{}
	for _, n := range config.Names() {
		read[n] = true
	}
	for _, n := range appSettings {
		if !read[n] && !platformSetting(n) && !bindingSetting(t, n) {
			t.Errorf("app_settings.tf sets %s, which neither the handler, the platform nor a function binding reads", n)
		}
	}
}

// binding is the part of a function.json binding that names settings.
type binding map[string]any

type functionJSON struct {
	Bindings []binding `json:"bindings"`
}

var percentSetting = regexp.MustCompile(`%([A-Za-z0-9_]+)%`)

// functionBindings reads functions/*/function.json.
func functionBindings(t *testing.T) map[string][]binding {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(functionsDir, "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]binding{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var fj functionJSON
		if err := json.Unmarshal(data, &fj); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(filepath.Dir(p))] = fj.Bindings
	}
	return out
}

// bindingSetting reports whether some function binding names setting n as
// its connection (prefix before "__") or as a %n% expression.
func bindingSetting(t *testing.T, n string) bool {
	for _, bindings := range functionBindings(t) {
		for _, b := range bindings {
			for key, v := range b {
				s, ok := v.(string)
				if !ok {
					continue
				}
				if key == "connection" && (n == s || strings.HasPrefix(n, s+"__")) {
					return true
				}
				for _, m := range percentSetting.FindAllStringSubmatch(s, -1) {
					if m[1] == n {
						return true
					}
				}
			}
		}
	}
	return false
}

func TestTerraformSetsEverySettingTheBindingsRead(t *testing.T) {
	appSettings, providerManaged := terraformSettings(t)
	has := func(name string) bool {
		if _, ok := providerManaged[name]; ok {
			return true
		}
		return slices.Contains(appSettings, name)
	}
	hasConnection := func(conn string) bool {
		if has(conn) {
			return true
		}
		for _, n := range appSettings {
			if strings.HasPrefix(n, conn+"__") {
				return true
			}
		}
		for n := range providerManaged {
			if strings.HasPrefix(n, conn+"__") {
				return true
			}
		}
		return false
	}

	all := functionBindings(t)
	if len(all) == 0 {
		t.Fatalf("no %s/*/function.json found", functionsDir)
	}
	for fn, bindings := range all {
		for _, b := range bindings {
			typ, _ := b["type"].(string)
			conn, hasConn := b["connection"].(string)
			if !hasConn && (typ == "queueTrigger" || typ == "queue" || typ == "blobTrigger" || typ == "blob") {
				conn = "AzureWebJobsStorage" // the host's default connection
			}
			if conn != "" && !hasConnection(conn) {
				t.Errorf("functions/%s: binding %q uses connection %s, which Terraform does not set (%s or %s__*)", fn, typ, conn, conn, conn)
			}
			for key, v := range b {
				s, ok := v.(string)
				if !ok {
					continue
				}
				for _, m := range percentSetting.FindAllStringSubmatch(s, -1) {
					if !has(m[1]) {
						t.Errorf("functions/%s: binding %q property %s reads %%%s%%, which Terraform does not set", fn, typ, key, m[1])
					}
				}
			}
		}
	}
}

var functionRef = regexp.MustCompile(`/functions/([A-Za-z0-9_]+)`)

func TestTerraformFunctionsExist(t *testing.T) {
	files, err := loadModule(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	expr, _, err := findLocal(files, "function_names")
	if err != nil {
		t.Fatal(err)
	}
	named, err := listStrings(expr)
	if err != nil {
		t.Fatalf("local.function_names: %v", err)
	}

	// Function ids the module builds ("${app.id}/functions/<name>").
	referenced := map[string]string{}
	for _, name := range named {
		referenced[name] = "local.function_names"
	}
	for _, f := range files {
		for _, tok := range f.toks {
			if tok.kind != tokString && tok.kind != tokHeredoc {
				continue
			}
			for _, m := range functionRef.FindAllStringSubmatch(tok.text, -1) {
				referenced[m[1]] = f.name
			}
		}
	}
	if len(referenced) == 0 {
		t.Fatal("the module references no function")
	}
	for name, where := range referenced {
		if _, err := os.Stat(filepath.Join(functionsDir, name, "function.json")); err != nil {
			t.Errorf("%s references function %s, but functions/%s/function.json does not exist", where, name, name)
		}
	}

	// And every function of the app is watched (alerts, workbook).
	for fn := range functionBindings(t) {
		if !slices.Contains(named, fn) {
			t.Errorf("functions/%s exists but is not in local.function_names (alerts and the workbook would miss it)", fn)
		}
	}
}

func TestGitHubAppManifestIsJustified(t *testing.T) {
	data, err := os.ReadFile("github-app-manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DefaultPermissions map[string]string `json:"default_permissions"`
		DefaultEvents      []string          `json:"default_events"`
		HookAttributes     struct {
			URL string `json:"url"`
		} `json:"hook_attributes"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatalf("github-app-manifest.json: %v", err)
	}
	if len(manifest.DefaultPermissions) == 0 || len(manifest.DefaultEvents) == 0 {
		t.Fatal("github-app-manifest.json: no permissions or no events")
	}
	if !strings.HasSuffix(manifest.HookAttributes.URL, "/api/github/webhook") {
		t.Errorf("hook_attributes.url %q does not point at the github_webhook route", manifest.HookAttributes.URL)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Each permission has a README table row: | `name` | level | why |
	for perm, level := range manifest.DefaultPermissions {
		row := regexp.MustCompile("(?m)^\\|\\s*`" + regexp.QuoteMeta(perm) + "`\\s*\\|\\s*" + regexp.QuoteMeta(level) + "\\s*\\|\\s*\\S")
		if !row.Match(readme) {
			t.Errorf("permission %s: %s has no justification row in README.md (| `%s` | %s | why |)", perm, level, perm, level)
		}
	}
	for _, event := range manifest.DefaultEvents {
		row := regexp.MustCompile("(?m)^\\|\\s*`" + regexp.QuoteMeta(event) + "`\\s*\\|\\s*\\S")
		if !row.Match(readme) {
			t.Errorf("event %s has no justification row in README.md (| `%s` | why |)", event, event)
		}
	}
}

// The README's input and output tables must keep up with the module.
func TestReadmeDocumentsInputsAndOutputs(t *testing.T) {
	files, err := loadModule(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, f := range files {
		for i := 0; i+2 < len(f.toks); i++ {
			kind := f.toks[i]
			if kind.kind != tokIdent || (kind.text != "variable" && kind.text != "output") ||
				f.toks[i+1].kind != tokString || !f.toks[i+2].is(tokPunct, "{") {
				continue
			}
			count++
			name := f.toks[i+1].text
			row := regexp.MustCompile("(?m)^\\|\\s*`" + regexp.QuoteMeta(name) + "`\\s*\\|")
			if !row.Match(readme) {
				t.Errorf("%s %q (%s) has no row in README.md", kind.text, name, f.name)
			}
		}
	}
	if count == 0 {
		t.Fatal("found no variable or output blocks")
	}
}
