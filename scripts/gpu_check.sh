#!/usr/bin/env bash
# The device check: a reduced paper-tier slice of each engine (synthetic stack at T = 128, the ViT at h in {1, 8}
# on two canvases, one MS MARCO row) trained on the CPU and on the GPU with the same code, compared within the
# tolerances stated in lib/headcount/book/gpucheck.py, with throughput. Sets up first (idempotent). Without a
# GPU it runs the CPU half and says so. Figures also go to ${OUT:-.}/gpu_check.json.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
exec .venv/bin/python -m headcount.book.gpucheck --json "${OUT:-.}/gpu_check.json" "$@"
