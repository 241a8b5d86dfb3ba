#!/usr/bin/env bash
# Set everything up, idempotently: the virtual environment with the pinned requirements, the library in
# editable mode, and MathJax 3 copied into the book so that equations render without a network.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-nodeps.txt requirements-cluster.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and alone, pinned: nothing may pull a different (CUDA) build afterwards
  .venv/bin/python -m pip install -q "$(grep '^torch==' requirements.txt)"
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
  .venv/bin/python -m pip install -q -r requirements-cluster.txt  # Dask: the optional scale-out engine, tested
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi

# MathJax 3.2.2 from the npm registry, unpacked into a cache and copied into book/_mathjax (not committed).
MJ_VERSION=3.2.2
dest=book/_extra/mathjax
if [ ! -f "$dest/tex-mml-chtml.js" ]; then
  cache=${HEADCOUNT_CACHE:-$HOME/.cache/headcount}/npm-mathjax-$MJ_VERSION
  if [ ! -f "$cache/package/es5/tex-mml-chtml.js" ]; then
    mkdir -p "$cache"
    (cd "$cache" && npm pack --silent "mathjax@$MJ_VERSION" >/dev/null && tar xzf "mathjax-$MJ_VERSION.tgz")
  fi
  mkdir -p "$dest/output/chtml/fonts"
  cp "$cache/package/es5/tex-mml-chtml.js" "$dest/"
  cp -r "$cache/package/es5/output/chtml/fonts/woff-v2" "$dest/output/chtml/fonts/"
fi
mkdir -p book/_extra/figures book/nb

# Headless Chromium for the render test (tests/test_render.py) and `make screenshot`: Debian's package, installed
# where missing and possible (root with apt-get); otherwise the render test is skipped and says why.
if ! command -v chromium >/dev/null 2>&1 && [ "${HEADCOUNT_NO_CHROMIUM:-}" != 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (Debian) for the render test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
      || echo "setup: chromium could not be installed; the render test will be skipped"
  else
    echo "setup: no chromium and no root to install it; the render test will be skipped (install Debian's chromium)"
  fi
fi
echo "setup: ok (.venv, headcount, MathJax $MJ_VERSION)"
