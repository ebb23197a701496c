#!/usr/bin/env bash
# Wait for a Kubernetes Job to finish: exit 0 once it is Complete, 1 as soon as it is Failed or
# when the timeout passes. `kubectl wait --for=condition=complete` alone would sit until its
# timeout on a Job that has already failed, so both conditions are watched in one loop.
#
# usage: wait-for-job.sh JOB NAMESPACE [TIMEOUT_SECONDS]   (POLL_INTERVAL overrides 5 s)
set -euo pipefail

job="${1:?job name}"
namespace="${2:?namespace}"
timeout="${3:-600}"
interval="${POLL_INTERVAL:-5}"
deadline=$((SECONDS + timeout))

while :; do
  # Types of the conditions that are True, one per line (Complete, Failed, SuccessCriteriaMet,
  # FailureTarget, ...). A transient API error just means "look again".
  conditions="$(kubectl get job "$job" --namespace "$namespace" \
    -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{"\n"}{end}')" \
    || conditions=""
  if grep -qx 'Failed' <<<"$conditions"; then
    echo "job/$job failed" >&2
    exit 1
  fi
  if grep -qx 'Complete' <<<"$conditions"; then
    echo "job/$job complete"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "job/$job did not finish within ${timeout}s" >&2
    exit 1
  fi
  sleep "$interval"
done
