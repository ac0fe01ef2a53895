#!/usr/bin/env bash
# Part of `make demo`: replay the sample GitHub webhooks (testdata/github),
# signed with $GITHUB_WEBHOOK_SECRET as GitHub signs them, into the running
# app at $BASE_URL, then print the findings it holds (read from Cosmos DB
# with COSMOS_ENDPOINT / COSMOS_KEY / COSMOS_EMULATOR, as lib.sh exports
# them). The replay runs twice: the second time every delivery id is one
# the app has seen, so it answers "duplicate delivery" and changes nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${BASE_URL:?BASE_URL is not set: start the app first (scripts/lib.sh start_app)}"
: "${GITHUB_WEBHOOK_SECRET:?GITHUB_WEBHOOK_SECRET is not set}"
: "${COSMOS_ENDPOINT:?COSMOS_ENDPOINT is not set: start the stack first (scripts/lib.sh start_stack)}"

# Run it as a command, not sourced: it sets no traps and leaves lib.sh's
# cleanup alone either way. The binary goes into lib.sh's state dir when
# there is one (removed on exit), else a temp dir removed at the end.
bin_dir=${STATE:-}
[ -n "$bin_dir" ] || bin_dir=$(mktemp -d "${TMPDIR:-/tmp}/runtimelink-replay.XXXXXX")
replay_bin="$bin_dir/replay"
(cd "$ROOT" && go build -o "$replay_bin" ./infra/replay)

echo "==> replaying the sample GitHub webhooks into $BASE_URL/api/github/webhook"
"$replay_bin" -url "$BASE_URL/api/github/webhook" -dir "$ROOT/testdata/github" -findings=false
echo "==> the same deliveries again (GitHub redelivering): recognised, nothing changes"
"$replay_bin" -url "$BASE_URL/api/github/webhook" -dir "$ROOT/testdata/github"
[ -n "${STATE:-}" ] || rm -rf "$bin_dir"
