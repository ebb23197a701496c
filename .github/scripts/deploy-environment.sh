#!/usr/bin/env bash
# Deploy one image, by digest, to one environment's cluster (kubectl already points at it):
#  1. write overlays pinning k8s/migrate and k8s/overlays/ENVIRONMENT to IMAGE@DIGEST;
#  2. replace and run the migration Job, print its logs, stop if it failed;
#  3. apply the application, wait for the rollout, smoke-test it through its load balancer;
#     if the rollout or the smoke test fails, roll back and fail.
# Staging and production run this same script with the same digest (deploy.yml).
#
# usage: deploy-environment.sh ENVIRONMENT IMAGE_NAME DIGEST   (DIGEST: sha256:<64 hex>)
set -euo pipefail

environment="${1:?environment: staging or production}"
image="${2:?image name without tag, e.g. <registry>/itemsense}"
digest="${3:?image digest sha256:...}"
namespace="itemsense"
job="itemsense-migrate"
deployment="itemsense-api"
scripts="$(dirname "$0")"
work="${RUNNER_TEMP:-$(mktemp -d)}/overlays-$environment"

"$scripts/kustomize-overlay.sh" k8s/migrate "$work/migrate" "$image" "$digest"
"$scripts/kustomize-overlay.sh" "k8s/overlays/$environment" "$work/app" "$image" "$digest"

# A Job's pod template is immutable: replace the previous run's Job.
kubectl delete job "$job" --namespace "$namespace" --ignore-not-found --wait=true
kubectl apply -k "$work/migrate"
migrated=0
"$scripts/wait-for-job.sh" "$job" "$namespace" 900 || migrated=$?
kubectl logs --namespace "$namespace" --selector "job-name=$job" --all-containers --prefix \
  --tail=-1 || true
if ((migrated != 0)); then
  kubectl describe job "$job" --namespace "$namespace" || true
  echo "::error::migration failed in $environment; nothing else was changed" >&2
  exit 1
fi

kubectl apply -k "$work/app"

# Through the load balancer, as clients reach it: HTTPS on the Ingress host when there is
# one, else plain HTTP on the ALB's own name (which can take a few minutes to resolve).
smoke() {
  local host address
  host="$(kubectl get ingress "$deployment" --namespace "$namespace" -o jsonpath='{.spec.rules[0].host}')"
  if [[ -n "$host" ]]; then
    SMOKE_ATTEMPTS=90 "$scripts/smoke-test.sh" "https://$host"
  else
    address="$(kubectl get ingress "$deployment" --namespace "$namespace" \
      -o jsonpath='{.status.loadBalancer.ingress[0].hostname}')"
    SMOKE_ATTEMPTS=90 "$scripts/smoke-test.sh" "http://$address"
  fi
}

if kubectl rollout status "deployment/$deployment" --namespace "$namespace" --timeout=10m && smoke; then
  echo "deployed $image@$digest to $environment"
  exit 0
fi
kubectl get pods --namespace "$namespace" --output wide || true
kubectl describe "deployment/$deployment" --namespace "$namespace" || true
kubectl logs --namespace "$namespace" "deployment/$deployment" --all-containers --tail=200 || true
kubectl rollout undo "deployment/$deployment" --namespace "$namespace"
kubectl rollout status "deployment/$deployment" --namespace "$namespace" --timeout=10m
echo "::error::deployment of $digest to $environment failed and was rolled back" >&2
exit 1
