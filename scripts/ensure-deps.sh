#!/usr/bin/env bash
# Installs what callgate needs and is missing: Debian packages (apt-get) and npm packages (npm ci).
# Idempotent and quick when everything is there. Used by `npm test`, `npm run demo`, `npm run lab`
# and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server: coordination tests; kamailio (+ its WebSocket module): the lab PBX;
# chromium: SDK tests in a real browser; sip-tester (sipp): an independent SIP peer;
# the field lab profile: TLS and auth_ephemeral Kamailio modules, rtpengine, baresip, coturn.
packages=(redis-server kamailio kamailio-websocket-modules kamailio-tls-modules kamailio-autheph-modules
  chromium sip-tester rtpengine-daemon baresip-core coturn)
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
  # The lock file lists every platform's optional packages (checked by scripts/check-lock.js),
  # so npm ci is the only install path.
  npm ci --no-audit --no-fund --loglevel=error
fi
