#!/usr/bin/env bash
# make demo: start the local stack and the app, then show what it does with
# the bundled sample data (testdata/).
. "$(dirname "$0")/lib.sh"

echo "==> starting the local stack (Cosmos DB emulator, Azurite)"
start_stack
echo "==> starting the app under the dev host"
start_app
echo "==> GET $BASE_URL/api/health"
curl -sS "$BASE_URL/api/health"
echo
echo "==> replaying the sample GitHub webhooks, signed, twice (the second pass is deduplicated)"
"$ROOT/scripts/demo-github.sh"
echo "==> feeding the sample deployment records, an ACR ImagePushed event and the Defender export"
(cd "$ROOT" && go run ./infra/feed)
echo "==> running the nightly reprioritize now (POST /admin/functions/reprioritize)"
curl -fsS -X POST "$BASE_URL/admin/functions/reprioritize" -H 'Content-Type: application/json' -d '{"input":""}' >/dev/null
for _ in $(seq 1 150); do
	grep -q '"reprioritize summary"' "$STATE/app.log" && break
	sleep 0.2
done
grep -o '"msg":"reprioritize summary".*' "$STATE/app.log" | head -1 || true
echo
echo "==> prioritized findings (raised ▲ / lowered ▼ by runtime context)"
mkdir -p "$ROOT/dist"
(cd "$ROOT" && go run ./infra/report -url "$BASE_URL" -html "$ROOT/dist/report.html")
echo
echo "==> the dry-run plan (RUNTIMELINK_DRY_RUN=true): the issues runtimelink would open, then a close by a person and the runtime verification"
(cd "$ROOT" && go run ./infra/report -url "$BASE_URL" -plan)
echo
echo "==> demo done; the local stack and the app are stopped on exit (make run keeps them up)"
