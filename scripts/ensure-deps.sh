#!/usr/bin/env bash
# Installs what callgate needs and is missing: Debian packages (apt-get) and npm packages (npm ci).
# Idempotent and quick when everything is there. Used by `npm test`, `npm run demo`, `npm run lab`
# and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server: coordination tests; kamailio (+ its WebSocket module): the lab PBX;
# chromium: SDK tests in a real browser; sip-tester (sipp): an independent SIP peer.
packages=(redis-server kamailio kamailio-websocket-modules chromium sip-tester)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "[ensure-deps] installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm packages: install when node_modules is absent or older than the lock file.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "[ensure-deps] npm ci"
  if ! npm ci --no-audit --no-fund --loglevel=error; then
    # A registry mirror that serves only this platform's builds of optional packages (e.g. no
    # @swc/core-darwin-*) yields a lock file npm ci calls incomplete; npm install with the same
    # lock installs the same versions.
    echo "[ensure-deps] npm ci refused the lock file; installing the locked versions with npm install"
    npm install --no-save --no-audit --no-fund --loglevel=error
  fi
fi
