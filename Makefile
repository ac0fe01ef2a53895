# runtimelink — build, run and test offline.
#   make demo   local stack + app + the main job on the bundled sample data
#   make test   the whole test suite, emulators included
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST := dist
APP := $(DIST)/app
FUNCTIONS := $(notdir $(patsubst %/function.json,%,$(wildcard functions/*/function.json)))
LDFLAGS := -s -w -X github.com/runtimelink/runtimelink/shared/config.Version=$(VERSION)
NPM_STAMP := infra/node_modules/.runtimelink-installed
GOFILES = $(shell find . -name '*.go' -not -path './infra/node_modules/*' -not -path './dist/*')

.PHONY: build package run demo test test-go lint terraform-check deps clean storm bench

## build: the deployable app layout in dist/app (linux/amd64 handler, host.json, one folder per function)
build:
	rm -rf $(APP) && mkdir -p $(APP)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(APP)/handler ./functions
	cp host.json $(APP)/
	for f in $(FUNCTIONS); do mkdir -p $(APP)/$$f && cp functions/$$f/function.json $(APP)/$$f/; done
	@echo "built $(APP) ($(VERSION)): handler host.json $(FUNCTIONS)"

## package: dist/functionapp.zip, the zip-deploy package Terraform deploys
package: build
	rm -f $(DIST)/functionapp.zip
	$(GO) run ./infra/zipapp $(APP) $(DIST)/functionapp.zip
	@echo "wrote $(DIST)/functionapp.zip"

## deps: install the pinned local emulators (npm ci in infra/)
deps: $(NPM_STAMP)
$(NPM_STAMP): infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## run: local stack + dev host + app, until Ctrl-C
run: build deps
	scripts/run.sh

## demo: run the app on the local stack and show its main job on the sample data
demo: build deps
	scripts/demo.sh

## test: lint, every Go test (emulators started by the tests), Terraform checks
test: lint test-go terraform-check

test-go: deps
	scripts/ensure-chromium.sh
	$(GO) test -count=1 -timeout 40m ./...

## storm: 2,000 issues opened at once against GitHub's scaled secondary limits (minutes)
storm: deps
	RUNTIMELINK_STORM_GROUPS=2000 $(GO) test -count=1 -timeout 30m -run TestStorm -v ./shared/groupsync/

## bench: the benchmarks of BENCHMARKS.md, each headed by the machine's load (tens of minutes; not part of make test)
bench: deps
	scripts/bench.sh

## lint: go vet and gofmt
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## terraform-check: terraform fmt/validate (offline, real azurerm schema) and tfsec
terraform-check:
	scripts/terraform-check.sh

clean:
	rm -rf $(DIST)
