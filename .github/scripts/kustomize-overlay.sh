#!/usr/bin/env bash
# Write a kustomize overlay in OUT_DIR that renders BASE_DIR with the image `itemsense` replaced
# by NEW_NAME:TAG, or NEW_NAME@DIGEST when given `sha256:<hex>`, so `kubectl apply -k OUT_DIR`
# deploys exactly that build. Tracked files are
# never rewritten (no sed, no `kustomize edit` in the checkout), and kubectl's built-in kustomize
# does the substitution, so no extra binary has to be downloaded.
#
# The overlay also leaves out any Namespace object: on EKS the namespace belongs to the platform
# (infra creates it with its Pod Security labels) and the deploy role's access entry is scoped
# to that namespace, so applying a cluster-scoped object would be refused.
#
# usage: kustomize-overlay.sh BASE_DIR OUT_DIR NEW_NAME TAG|sha256:DIGEST
set -euo pipefail

base="${1:?base kustomize directory}"
out="${2:?overlay directory to write}"
new_name="${3:?image name without tag, e.g. <registry>/itemsense}"
tag="${4:?image tag}"

if [[ ! -f "$base/kustomization.yaml" ]]; then
  echo "no kustomization.yaml in $base" >&2
  exit 1
fi
# A digest, or Docker's tag grammar; either keeps anything else out of the generated YAML.
if [[ "$tag" =~ ^sha256:[0-9a-f]{64}$ ]]; then
  pin="digest: \"$tag\""
elif [[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  # Quoted: a commit SHA made only of digits must stay a string.
  pin="newTag: \"$tag\""
else
  echo "invalid image tag: $tag" >&2
  exit 1
fi
if [[ ! "$new_name" =~ ^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$ ]]; then
  echo "invalid image name: $new_name" >&2
  exit 1
fi

mkdir -p "$out"
# kustomize only accepts relative paths to other kustomization directories.
relative_base="$(realpath --relative-to="$out" "$base")"
cat >"$out/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $relative_base
images:
  - name: itemsense
    newName: $new_name
    $pin
patches:
  - target:
      kind: Namespace
    patch: |-
      \$patch: delete
      apiVersion: v1
      kind: Namespace
      metadata:
        name: platform-owned
YAML
echo "overlay $out -> $relative_base with image $new_name ($tag)"
