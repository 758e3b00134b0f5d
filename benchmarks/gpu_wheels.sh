#!/usr/bin/env bash
# Download, on a machine with a package index, the wheels that the offline GPU machine lacks.
#
#     bash benchmarks/gpu_wheels.sh            # for Python 3.12 (the GPU image's, as last seen)
#     GPU_PYTHON=3.11 bash benchmarks/gpu_wheels.sh
#
# The GPU image (benchmarks/gpu_image_packages.txt) has torch, numpy, matplotlib, onnxruntime,
# pytest, scikit-image, requests, click and ~200 more, but no rasterio, s2cloudless or LightGBM.
# benchmarks/gpu_wheel_list.py finds what those two need that the image lacks, from the installed
# metadata; two tiers go into .gpu-wheels/ (ignored by git; the run tool carries it):
#   rasterio: rasterio and what it needs. Needed by everything that reads a GeoTIFF.
#   clouds:   s2cloudless, LightGBM, sentinelhub (imported by s2cloudless) and what they need.
# Versions are those of this checkout's .venv, so the GPU machine runs what CI runs. Binary wheels
# are repacked with LZMA (benchmarks/gpu_repack_wheel.py): a run carries 64 MiB in all, working
# tree included, and one rasterio wheel is 35.7 MB deflated. That is also why only one Python
# version fits: each version needs its own rasterio, pyproj and shapely. If the clouds tier does
# not fit it is left out and said so; gpu_check.sh then reports the tests that need s2cloudless.
set -euo pipefail
cd "$(dirname "$0")/.."
PY_VERSION="${GPU_PYTHON:-3.12}"
DEST="${GPU_WHEELS:-.gpu-wheels}"
# Downloads and repacked wheels are kept here (outside what travels), so a second run is quick.
CACHE="${GPU_WHEELS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sarclear-gpu-wheels/py$PY_VERSION}"
LIMIT=$((64 * 1024 * 1024))
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    echo "gpu_wheels: no .venv here: create it first (README, Quick start), so the wheels are the versions CI runs" >&2
    exit 1
fi
# TIER NAME==VERSION ...: what rasterio and s2cloudless need, less what the GPU image has.
TIER_LINES=$("$PY" benchmarks/gpu_wheel_list.py)

download() {  # TIER NAME==VERSION...; prints the folder that holds exactly these wheels
    local tier="$1"; shift
    local specs="$*" dir
    # One folder per exact list of versions: a cache shared with an older checkout must not add a
    # second rasterio to what travels (pip then refuses the whole install, and it no longer fits).
    dir="$CACHE/$tier-$(printf '%s\n' "$specs" | sha256sum | cut -c1-12)"
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
        -d "$dir" $specs >&2
    for wheel in "$dir"/*.whl; do
        case "$wheel" in *-none-any.whl) ;; *) "$PY" benchmarks/gpu_repack_wheel.py "$wheel" >&2 ;; esac
    done
    echo "$dir"
}

bytes_of() { du -cb "$@" 2>/dev/null | tail -1 | cut -f1; }

# shellcheck disable=SC2046
RASTERIO_DIR=$(download $(grep '^rasterio ' <<<"$TIER_LINES"))
# shellcheck disable=SC2046
CLOUDS_DIR=$(download $(grep '^clouds ' <<<"$TIER_LINES"))
rm -rf "$DEST"

# What travels besides the wheels: tracked files and untracked files git does not ignore.
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | awk '$2 == "total" {s += $1} END {print s + 0}')
rasterio=$(bytes_of "$RASTERIO_DIR"/*.whl)
clouds=$(bytes_of "$CLOUDS_DIR"/*.whl)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "working tree $(mib "$tree"), rasterio tier $(mib "$rasterio"), clouds tier $(mib "$clouds"), limit $(mib $LIMIT)"
if [ $((tree + rasterio)) -gt $LIMIT ]; then
    echo "gpu_wheels: even the rasterio tier does not fit in 64 MiB beside the working tree" >&2
    exit 1
fi
mkdir -p "$DEST"
cp "$RASTERIO_DIR"/*.whl "$DEST"/
tiers="rasterio"
if [ $((tree + rasterio + clouds)) -le $LIMIT ]; then
    cp "$CLOUDS_DIR"/*.whl "$DEST"/
    tiers="rasterio clouds"
else
    echo "gpu_wheels: clouds tier left out ($(mib $((tree + rasterio + clouds - LIMIT))) over); s2cloudless tests will fail there" >&2
fi
{
    echo "python=$PY_VERSION"
    echo "tiers=$tiers"
    (cd "$DEST" && ls -1 ./*.whl | sed 's|^\./||')
} > "$DEST/WHEELS.txt"
echo "wheels for Python $PY_VERSION ($tiers) in $DEST: $(mib "$(bytes_of "$DEST")"); carry it: run(carry=[\"$DEST\"])"
