#!/usr/bin/env bash
# The gateway's production folder, built as deploy/Dockerfile builds its image (the Dockerfile runs
# this script; test/production-image.test.ts runs it into a temporary folder, so the two cannot
# drift):
#   1. build in the repository (needs the dev tools: swc, esbuild): the gateway, the libs, the SDK;
#   2. a clean folder with package.json and package-lock.json, `npm ci --omit=dev` there;
#   3. the built gateway, libs and SDK copied in, with the demo config.
# Start it with: node <dir>/dist/apps/gateway/src/main.js
#   bash scripts/production-install.sh <dir>
set -euo pipefail
dest="${1:?usage: production-install.sh <dir>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
cd "$root"

echo "[production-install] build in $root"
# Its own build folder, so a developer's dist/ is left alone.
build="$(mktemp -d "${TMPDIR:-/tmp}/callgate-build-XXXXXX")"
trap 'rm -rf "$build"' EXIT
npx swc apps/gateway libs -d "$build/dist" --ignore "**/*.spec.ts" --quiet
node scripts/build-sdk.js --outdir "$build/dist/embed" >/dev/null

echo "[production-install] npm ci --omit=dev in $dest"
cp package.json package-lock.json "$dest/"
(cd "$dest" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)

rm -rf "$dest/dist" "$dest/config"
cp -r "$build/dist" "$dest/dist"
cp -r config "$dest/config"
echo "[production-install] ready: node $dest/dist/apps/gateway/src/main.js"
