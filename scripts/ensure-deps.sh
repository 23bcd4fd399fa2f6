#!/usr/bin/env bash
# Installs what callgate needs and is missing: npm packages (npm ci) and Debian packages.
# Idempotent and quick when everything is there. Used by `npm test`, `npm run demo` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: binary to look for -> package that provides it.
declare -A need=(
  [redis-server]=redis-server
  [kamailio]=kamailio
  [chromium]=chromium
  [sipp]=sip-tester
)
missing=()
for bin in "${!need[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${need[$bin]}")
done
# The WebSocket module ships in its own package.
if command -v kamailio >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so /usr/lib/*/kamailio/modules/websocket.so >/dev/null 2>&1; then
  missing+=(kamailio-websocket-modules)
elif [[ " ${missing[*]-} " == *" kamailio "* ]]; then
  missing+=(kamailio-websocket-modules)
fi
if ((${#missing[@]})); then
  echo "[ensure-deps] installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: install when node_modules is absent or older than the lock file.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "[ensure-deps] npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
