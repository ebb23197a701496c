#!/usr/bin/env bash
# Smoke-test a running Itemsense over HTTP: readiness (retried while the service starts), one
# prediction, and, with --items, an item written and read back (needs SMOKE_API_KEY, sent as
# the X-API-Key header). Used by CI against the built image and by the deploy pipeline against
# the cluster, so both prove the same thing.
#
# usage: smoke-test.sh BASE_URL [--items]
#   SMOKE_ATTEMPTS (default 30) x SMOKE_INTERVAL (default 2 s) bound the readiness wait.
set -euo pipefail

base="${1:?base URL, e.g. http://127.0.0.1:8000}"
base="${base%/}"
check_items="${2:-}"
attempts="${SMOKE_ATTEMPTS:-30}"
interval="${SMOKE_INTERVAL:-2}"
curl_opts=(--silent --show-error --max-time 10)

ready=""
for ((i = 1; i <= attempts; i++)); do
  if curl "${curl_opts[@]}" --fail --output /dev/null "$base/health/ready"; then
    ready="yes"
    break
  fi
  echo "waiting for $base/health/ready ($i/$attempts)"
  sleep "$interval"
done
if [[ -z "$ready" ]]; then
  echo "FAIL: $base/health/ready never answered 2xx" >&2
  curl "${curl_opts[@]}" "$base/health" >&2 || true
  exit 1
fi
echo "ok: /health/ready"

prediction="$(curl "${curl_opts[@]}" --fail-with-body -X POST "$base/predict" \
  -H 'Content-Type: application/json' \
  --data '{"text": "Absolutely love it, works perfectly and arrived early."}')"
if ! jq -e '.label | type == "string" and length > 0' >/dev/null <<<"$prediction"; then
  echo "FAIL: /predict answered without a label: $prediction" >&2
  exit 1
fi
echo "ok: /predict -> $(jq -c '.label' <<<"$prediction")"

if [[ "$check_items" == "--items" ]]; then
  : "${SMOKE_API_KEY:?--items needs SMOKE_API_KEY}"
  name="smoke-$(date +%s)-$$"
  created="$(curl "${curl_opts[@]}" --fail-with-body -X POST "$base/items" \
    -H 'Content-Type: application/json' -H "X-API-Key: $SMOKE_API_KEY" \
    --data "$(jq -nc --arg name "$name" '{name: $name, price: "1.50"}')")"
  id="$(jq -er '.id' <<<"$created")"
  fetched="$(curl "${curl_opts[@]}" --fail-with-body "$base/items/$id")"
  if [[ "$(jq -r '.name' <<<"$fetched")" != "$name" ]]; then
    echo "FAIL: GET /items/$id returned $fetched, expected name $name" >&2
    exit 1
  fi
  listed="$(curl "${curl_opts[@]}" --fail-with-body "$base/items?limit=100")"
  if ! jq -e --argjson id "$id" '[.. | objects | select(.id? == $id)] | length > 0' \
    >/dev/null <<<"$listed"; then
    echo "FAIL: GET /items does not list item $id" >&2
    exit 1
  fi
  echo "ok: POST /items -> $id, GET /items/$id, GET /items"
fi
echo "smoke test passed for $base"
