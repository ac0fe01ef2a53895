#!/usr/bin/env bash
# The performance benchmarks, one after another, each headed by the time and
# the machine's load (figures on a shared machine mean little without it).
# Not part of `make test`: they take minutes. `scripts/bench.sh NAME...` runs
# only the named ones; BENCHMARKS.md has the results and what they mean.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A benches=(
  # One process per rate: each peak RSS is that rate's alone.
  [webhooks-100]="go test -count=1 -timeout 30m -run TestWebhookLoad -v ./functions/github_webhook/ -args -load -load.rate=100 -load.duration=30s"
  [webhooks-300]="go test -count=1 -timeout 30m -run TestWebhookLoad -v ./functions/github_webhook/ -args -load -load.rate=300 -load.duration=30s"
  [webhooks-1000]="go test -count=1 -timeout 30m -run TestWebhookLoad -v ./functions/github_webhook/ -args -load -load.rate=1000 -load.duration=30s"
  [unsigned-flood]="go test -count=1 -timeout 10m -run ^\$ -bench BenchmarkUnsignedFlood -benchtime 3x ./functions/github_webhook/"
  # Defender export: batches of 500 per kind, direct and 5 ms away; 20 batches
  # (10,000 records) complete in minutes on the emulator, which slows as its
  # containers grow; RUNTIMELINK_BENCH_EXPORT_BATCHES=200 is the 100,000.
  [export]="go test -count=1 -timeout 240m -run ^\$ -bench BenchmarkDefenderExport -benchtime=${RUNTIMELINK_BENCH_EXPORT_BATCHES:-20}x ./functions/defender_export/"
  [reprioritize]="go test -count=1 -run ^\$ -bench ^BenchmarkReprioritize\$ -benchtime 3x -timeout 60m ./shared/triage/"
  # One size per process: peak-rss-MB is the process's high-water mark.
  [reprioritize-100k]="env RUNTIMELINK_BENCH_MEM_SIZES=100000 go test -count=1 -run ^\$ -bench ^BenchmarkReprioritizeInProcess\$ -benchtime 2x -timeout 60m ./shared/triage/"
  [reprioritize-1m]="env RUNTIMELINK_BENCH_MEM_SIZES=1000000 go test -count=1 -run ^\$ -bench ^BenchmarkReprioritizeInProcess\$ -benchtime 2x -timeout 60m ./shared/triage/"
)
order=(webhooks-100 webhooks-300 webhooks-1000 unsigned-flood export reprioritize reprioritize-100k reprioritize-1m)

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${order[@]}")
for name in "${names[@]}"; do
  cmd=${benches[$name]:-}
  if [ "$name" = help ]; then
    echo "benchmarks: ${order[*]}"
    exit 0
  fi
  if [ -z "$cmd" ]; then
    echo "bench: unknown benchmark $name (known: ${order[*]})" >&2
    exit 2
  fi
  echo "== $name — $(date -u +%FT%TZ) — $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "\$ $cmd"
  $cmd
done
