#!/usr/bin/env bash
# make run: the local stack, the dev host and the app, until Ctrl-C.
. "$(dirname "$0")/lib.sh"
start_stack
start_app "${PORT:-7071}"
echo "runtimelink is running at $BASE_URL (health: $BASE_URL/api/health); Ctrl-C stops it"
tail -f "$STATE/app.log" &
PIDS+=($!)
wait "${PIDS[1]}"
