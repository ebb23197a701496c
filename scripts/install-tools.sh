#!/usr/bin/env bash
# Installs the system tools the deployment checks need, when they are missing.
# Debian/Ubuntu only; needs root (as in CI). Elsewhere it says what is missing and the
# tests that need a tool fail (under CI=true) or say so.
set -euo pipefail

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v wrk >/dev/null || missing+=(wrk)
# The fault tests run a private PostgreSQL cluster (initdb + pg_ctl), never the shared server.
{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-tools: missing ${missing[*]} (install them with your package manager)" >&2
  exit 0
fi
echo "install-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d stops the prometheus package from starting a server on port 9090.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
