#!/bin/sh
# wait-for-functions.sh APP_RESOURCE_ID FUNCTION...
#
# Called by Terraform (terraform_data.functions_ready) after the package is
# uploaded. Waits until Azure lists each named function of the Function App,
# so that Event Grid accepts it as an endpoint. While waiting it asks the app
# to sync its triggers, and restarts it once if the host still has not indexed
# the functions (the first start can race the identity's role assignments).
# Needs the Azure CLI, logged in (az login) to the subscription of the app.
set -eu

if [ "$#" -lt 2 ]; then
  echo "usage: $0 APP_RESOURCE_ID FUNCTION..." >&2
  exit 2
fi
app_id=$1
shift

api="api-version=2023-12-01"
interval=10
max_attempts=60 # 10 minutes per function at most

for fn in "$@"; do
  attempt=0
  until az rest --method get --url "${app_id}/functions/${fn}?${api}" --output none 2>/dev/null; do
    attempt=$((attempt + 1))
    if [ "$attempt" -gt "$max_attempts" ]; then
      echo "function ${fn} of ${app_id} did not appear within $((max_attempts * interval)) s." >&2
      echo "Check the app's Log stream / Application Insights for host start-up errors, then run terraform apply again." >&2
      exit 1
    fi
    if [ $((attempt % 6)) -eq 1 ]; then
      echo "waiting for function ${fn}: syncing triggers"
      az rest --method post --url "${app_id}/syncfunctiontriggers?${api}" --output none || true
    fi
    if [ "$attempt" -eq 30 ]; then
      echo "waiting for function ${fn}: restarting the app"
      az rest --method post --url "${app_id}/restart?${api}" --output none || true
    fi
    sleep "$interval"
  done
  echo "function ${fn} is ready"
done
