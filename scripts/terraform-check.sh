#!/usr/bin/env bash
# terraform-check.sh — offline checks of terraform/ (called by `make test`).
#
#   1. terraform fmt -check -recursive
#   2. terraform init -backend=false + terraform validate, on the root module
#      and on examples/basic, against the real azurerm 5.2 provider schema
#   3. tfsec: no HIGH or CRITICAL finding unless ignored inline with a reason
#
# The public Terraform registry cannot be reached here, but Terraform, the
# azurerm provider and tfsec are Go modules: they are built with `go install`
# (through the Go module proxy) into a cache outside the repository the first
# time (the provider takes ~15 minutes on 2 cores) and reused afterwards. The
# provider is served from a filesystem mirror named in a CLI config of our
# own, so `terraform init` never goes to the network. Init and validate run on
# a copy of terraform/ in a temporary directory, so no .terraform directory or
# lock file (which would pin the hash of a locally built provider) is written
# into the repository.
#
# Environment:
#   RUNTIMELINK_CACHE   cache root (default $HOME/.cache/runtimelink)
#   TERRAFORM_CHECK_KEEP=1  keep the temporary work directory (for debugging)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tf_src="$repo_root/terraform"

cache="${RUNTIMELINK_CACHE:-$HOME/.cache/runtimelink}"
bin="$cache/tools/bin"
mirror="$cache/terraform-mirror"

# Pinned tool versions.
terraform_module="github.com/hashicorp/terraform"
terraform_version="v1.5.7" # last MPL-licensed release
provider_module="github.com/hashicorp/terraform-provider-azurerm"
provider_pseudo_version="v1.44.1-0.20260824201233-fae580791926" # the azurerm 5.2.x source
# The version the mirror offers the provider as. The module's Go version is a
# pseudo-version (the repository's tags are v1-era), so take the release from
# its CHANGELOG (## 5.2.0) — what versions.tf's "~> 5.2" must accept.
provider_version="5.2.0"
tfsec_module="github.com/aquasecurity/tfsec"
tfsec_version="v1.28.14"

log() { printf 'terraform-check: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

command -v go >/dev/null || die "go is required (it builds terraform, the azurerm provider and tfsec)"

# installed_version BINARY MODULE: the module version a `go install`ed binary
# was built from (empty when the binary is missing or has no build info).
installed_version() {
  [ -x "$1" ] || return 0
  go version -m "$1" 2>/dev/null | awk -v m="$2" '$1 == "mod" && $2 == m { print $3 }'
}

# ensure_tool NAME MODULE PACKAGE VERSION: go install PACKAGE@VERSION into the
# cache unless the binary there was already built from MODULE@VERSION.
ensure_tool() {
  local name=$1 module=$2 package=$3 version=$4
  local have
  have=$(installed_version "$bin/$name" "$module")
  if [ "$have" = "$version" ]; then
    return 0
  fi
  log "installing $package@$version into $bin (first run only${have:+; found $have})"
  mkdir -p "$bin"
  local start=$SECONDS
  GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$package@$version" ||
    die "go install $package@$version failed"
  log "built $name in $((SECONDS - start)) s"
}

ensure_tool terraform "$terraform_module" "$terraform_module" "$terraform_version"
ensure_tool terraform-provider-azurerm "$provider_module" "$provider_module" "$provider_pseudo_version"
ensure_tool tfsec "$tfsec_module" "$tfsec_module/cmd/tfsec" "$tfsec_version"

terraform="$bin/terraform"
tfsec="$bin/tfsec"

# Filesystem mirror (unpacked layout):
#   registry.terraform.io/hashicorp/azurerm/<version>/<os>_<arch>/terraform-provider-azurerm_v<version>
platform="$(go env GOOS)_$(go env GOARCH)"
provider_dir="$mirror/registry.terraform.io/hashicorp/azurerm/$provider_version/$platform"
provider_bin="$provider_dir/terraform-provider-azurerm_v$provider_version"
if ! cmp -s "$bin/terraform-provider-azurerm" "$provider_bin" 2>/dev/null; then
  mkdir -p "$provider_dir"
  rm -f "$provider_bin"
  ln "$bin/terraform-provider-azurerm" "$provider_bin" 2>/dev/null ||
    cp "$bin/terraform-provider-azurerm" "$provider_bin"
fi

# A CLI config of our own: azurerm from the mirror and nothing from the
# network (a provider the module does not declare fails fast, offline).
cli_config="$cache/terraform-check.tfrc"
cat >"$cli_config" <<EOF
disable_checkpoint = true

provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/azurerm"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$cli_config"
export CHECKPOINT_DISABLE=1
export TF_IN_AUTOMATION=1
export TF_INPUT=0
unset TF_DATA_DIR TF_PLUGIN_CACHE_DIR

work=$(mktemp -d "${TMPDIR:-/tmp}/terraform-check.XXXXXX")
cleanup() {
  if [ "${TERRAFORM_CHECK_KEEP:-}" = 1 ]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

log "terraform fmt -check -recursive terraform/"
if ! "$terraform" fmt -check -recursive -diff "$tf_src"; then
  die "terraform fmt: the files above need \`terraform fmt -recursive terraform/\`"
fi

# Copy the module tree without any local Terraform state of a developer's own
# (their .terraform dirs, lock files from the real registry, state files).
tar -C "$tf_src" \
  --exclude='.terraform' --exclude='.terraform.lock.hcl' \
  --exclude='*.tfstate' --exclude='*.tfstate.*' --exclude='*.tfvars' \
  -cf - . | tar -C "$work" -xf -

validate() {
  local dir=$1 label=$2
  log "terraform init -backend=false + validate: $label"
  local out
  if ! out=$("$terraform" -chdir="$dir" init -backend=false -input=false -no-color 2>&1); then
    printf '%s\n' "$out" >&2
    die "terraform init failed in $label"
  fi
  if ! "$terraform" -chdir="$dir" validate -no-color; then
    die "terraform validate failed in $label"
  fi
}

validate "$work" "terraform/"
validate "$work/examples/basic" "terraform/examples/basic"

log "tfsec (minimum severity HIGH)"
if ! "$tfsec" "$tf_src" --minimum-severity HIGH --no-color --no-module-downloads \
  --exclude-path examples --concise-output; then
  die "tfsec found HIGH/CRITICAL issues (fix them, or ignore inline: #tfsec:ignore:<rule> <reason>)"
fi
# examples/basic only wires the module; scan it as the whole deployment too.
if ! "$tfsec" "$tf_src/examples/basic" --minimum-severity HIGH --no-color --no-module-downloads \
  --concise-output; then
  die "tfsec found HIGH/CRITICAL issues in examples/basic"
fi

log "ok: fmt, validate (root, examples/basic) and tfsec passed"
