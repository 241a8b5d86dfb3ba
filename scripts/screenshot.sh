#!/usr/bin/env bash
# Screenshot built pages the way a reader sees them (headless Chromium, no network), to check that
# equations are typeset and figures show. Usage: scripts/screenshot.sh [page.html ...] (default: every page)
# PNGs land in _build/screenshots/. SHOT_HEIGHT=6000 takes a taller window (long pages); SHOT_WIDTH=390 a
# phone-wide one.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
out=_build/screenshots
mkdir -p "$out"
pages=("$@")
[ ${#pages[@]} -gt 0 ] || mapfile -t pages < <(cd _build/html && ls *.html nb/*.html | grep -v -E '^(genindex|search)\.html$')
profile=$(mktemp -d)
for p in "${pages[@]}"; do
  name=$(echo "$p" | tr '/' '_' | sed 's/\.html$//')
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --disable-quic --user-data-dir="$profile" --window-size=${SHOT_WIDTH:-1100},${SHOT_HEIGHT:-2000} \
    --virtual-time-budget=5000 --screenshot="$out/$name.png" "file://$PWD/_build/html/$p" >/dev/null 2>&1
  echo "$out/$name.png"
done
rm -rf "$profile"
