#!/usr/bin/env bash
# The prepared GPU check: one command, one JSON summary (benchmarks/gpu_check.py says what it runs).
#
#     bash benchmarks/gpu_check.sh [OUT_DIR] [--tiny] [--budget SECONDS] [--parts PREFIX,...]
#
# OUT_DIR defaults to $OUT (the GPU run tool's output folder), else ./gpu-check-out. On the
# offline GPU machine, run `bash benchmarks/gpu_wheels.sh` here first and carry .gpu-wheels.
# Without CUDA it runs the --tiny CPU mode, skipping what needs a GPU. docs/gpu.md has the details.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; print("python", sys.version.replace("\n", " "), "at", sys.executable, flush=True)'
exec "$PYTHON" benchmarks/gpu_check.py "$@"
