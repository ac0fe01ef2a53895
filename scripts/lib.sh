# Shared by run.sh and demo.sh: start the local stack and the dev host with
# the app, and stop them again on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$(mktemp -d "${TMPDIR:-/tmp}/runtimelink.XXXXXX")
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$STATE"
}
trap cleanup EXIT INT TERM

free_port() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start_stack() {
	(cd "$ROOT" && go build -o "$STATE/stack" ./infra/stack && go build -o "$STATE/devhost" ./infra/devhost)
	"$STATE/stack" -env "$STATE/stack.env" 2>"$STATE/stack.log" &
	PIDS+=($!)
	for _ in $(seq 1 600); do
		[ -f "$STATE/stack.env" ] && break
		kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$STATE/stack.log" >&2; echo "local stack failed to start" >&2; exit 1; }
		sleep 0.2
	done
	set -a
	# shellcheck disable=SC1091
	. "$STATE/stack.env"
	set +a
}

# start_app [port]: dev host on the built app (dist/app) with local settings.
start_app() {
	local port=${1:-$(free_port)}
	export DEVHOST_ADDR="127.0.0.1:$port"
	export BASE_URL="http://$DEVHOST_ADDR"
	export GITHUB_WEBHOOK_SECRET=${GITHUB_WEBHOOK_SECRET:-local-webhook-secret}
	export DEPLOYMENTS_TOKEN=${DEPLOYMENTS_TOKEN:-local-deployments-token}
	# Plan every write to GitHub and Defender, make none (see GET /api/plan).
	export RUNTIMELINK_DRY_RUN=${RUNTIMELINK_DRY_RUN:-true}
	# Referenced as %EVENTHUB_NAME% / %EVENTHUB_CONSUMER_GROUP% by defender_export/function.json.
	export EVENTHUB_NAME=${EVENTHUB_NAME:-defender-export} EVENTHUB_CONSUMER_GROUP=${EVENTHUB_CONSUMER_GROUP:-runtimelink}
	# Referenced as %RUNTIMELINK_REDELIVER_SCHEDULE% by redeliver/function.json.
	export RUNTIMELINK_REDELIVER_SCHEDULE=${RUNTIMELINK_REDELIVER_SCHEDULE:-"0 */10 * * * *"}
	"$STATE/devhost" -app "$ROOT/dist/app" -addr "$DEVHOST_ADDR" >"$STATE/app.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 300); do
		curl -fsS "$BASE_URL/api/health" >/dev/null 2>&1 && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || { tail -30 "$STATE/app.log" >&2; echo "the app failed to start" >&2; exit 1; }
		sleep 0.2
	done
	tail -30 "$STATE/app.log" >&2
	echo "the app did not become healthy" >&2
	exit 1
}
