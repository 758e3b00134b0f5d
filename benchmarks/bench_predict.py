"""Speed and memory of `sarclear predict` on synthetic whole scenes, one JSON line per scene size.

    python benchmarks/bench_predict.py [--sizes 2048 8192] [--overlap PX] [--batch-size N] [--precision auto]
                                       [--inputs geotiff band-folder offset-folder] [--samples 1 4 8]

For each size a synthetic 13-band L1C scene and its S1 scene are written (block row by block row,
so making an 8192 x 8192 scene needs no more memory than a 2048 one), then `sarclear predict` runs
in a child process with the default 54M-parameter generator (random weights: speed does not
depend on them). Reported: wall time of the whole command (model load, reading, inference,
blending, COG with overviews), megapixels/s, the child's peak RSS, and the achieved GFLOP/s
(windows x FLOPs of one window, counted once with torch.utils.flop_counter.FlopCounterMode).
A one-window scene is run first; its time is the fixed cost (imports, model load), and
`steady_mp_per_s` is the rate without it, which a long scene approaches.

`--inputs` runs the same scene in other input formats, one after the other in the same run:
`geotiff` (the 13-band stack), `band-folder` (one GeoTIFF per band at its native 10 / 20 / 60 m,
as SSL4EO-S12 or Major-TOM hold them, read through the stacking VRT of `io.sources`) and
`offset-folder` (the same folder with +1000 DN and an `_N0400_` product name, so the radiometric
offset is removed on read).

`--scenes DIR` keeps the written scenes in DIR and reuses them on the next run (`--write-only`
just writes them), so a timed GPU run need not spend its minutes writing a 10980 x 10980 scene.
On CUDA (`--device cuda`, or the default when a GPU is present) the child also reports its peak
GPU memory (`peak_cuda_mb`, torch's allocator).

`--norm-mode window running` runs it in both batch-norm modes (window: each window's statistics,
not foldable; running: folded into the convolutions). `--samples` runs the same scene once per value: 1 is the plain prediction, N > 1 adds
`--uncertainty` with N stochastic passes (`samples` and `seconds` in each line give its cost).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.transform import from_origin
from rasterio.windows import Window
from torch.utils.flop_counter import FlopCounterMode

from sarclear.inference.tiling import WindowGrid
from sarclear.models.checkpoint import save_generator
from sarclear.models.spec import ModelSpec
from sarclear.predict.defaults import DEFAULT_BATCH_SIZE, default_overlap

BLOCK = 512
#: A one-window scene: its run time is the fixed cost every scene pays.
FIXED_COST_SIZE = 256
#: Typical L1C DN of vegetated land, B1..B12 (the synthetic scene's mean spectrum).
LAND = np.array([1300, 1000, 900, 700, 1000, 2000, 2400, 2500, 2700, 800, 15, 1800, 1000], dtype=np.float32)


def write_scene(folder: Path, size: int, seed: int = 0) -> tuple[Path, Path]:
    """S1 (2 x float32 dB) and S2 (13 x uint16 DN) of `size` x `size` px, written one block row at a time."""
    rng = np.random.default_rng(seed)
    common = {"driver": "GTiff", "width": size, "height": size, "crs": "EPSG:32631", "transform": from_origin(500000, 5000000, 10, 10),
              "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate", "zlevel": 1, "BIGTIFF": "IF_SAFER"}  # fmt: skip
    s1_path, s2_path = folder / "s1.tif", folder / "s2.tif"
    x = np.arange(size, dtype=np.float32)
    with rasterio.open(s1_path, "w", count=2, dtype="float32", **common) as s1, rasterio.open(s2_path, "w", count=13, dtype="uint16", **common) as s2:
        for top in range(0, size, BLOCK):
            rows = min(BLOCK, size - top)
            y = np.arange(top, top + rows, dtype=np.float32)[:, None]
            field = 0.5 + 0.25 * np.sin(x / 37.0) * np.cos(y / 53.0)  # smooth "land cover" pattern
            noise = rng.normal(1.0, 0.05, (rows, size)).astype(np.float32)
            vv = -18 + 10 * field * noise
            s1.write(np.stack([vv, vv - 7]).astype(np.float32), window=Window(0, top, size, rows))
            s2.write((LAND[:, None, None] * (0.6 + field) * noise).astype(np.uint16), window=Window(0, top, size, rows))
    return s1_path, s2_path


#: Native resolution (multiple of 10 m) of each band, B1..B12 in SEN12MS-CR order.
NATIVE_STEP = (6, 1, 1, 1, 2, 2, 2, 1, 2, 6, 6, 2, 2)
BAND_NAMES = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")


def write_band_folder(s2_path: Path, folder: Path, offset: int = 0) -> Path:
    """One GeoTIFF per band of the stack at `s2_path`, at its native resolution (every k-th pixel), plus `offset` DN."""
    folder.mkdir()
    with rasterio.open(s2_path) as src:
        for index, (name, step) in enumerate(zip(BAND_NAMES, NATIVE_STEP, strict=True), start=1):
            width, height = -(-src.width // step), -(-src.height // step)
            t = src.transform
            profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "uint16", "crs": src.crs,
                       "transform": from_origin(t.c, t.f, t.a * step, -t.e * step), "tiled": True, "blockxsize": BLOCK,
                       "blockysize": BLOCK, "compress": "deflate", "zlevel": 1, "BIGTIFF": "IF_SAFER"}  # fmt: skip
            with rasterio.open(folder / f"{name}.tif", "w", **profile) as dst:
                for top in range(0, src.height, BLOCK * step):
                    rows = min(BLOCK * step, src.height - top)
                    data = src.read(index, window=Window(0, top, src.width, rows))[::step, ::step]
                    if offset:
                        data = np.where(data > 0, data.astype(np.int32) + offset, 0).astype(np.uint16)
                    dst.write(data, 1, window=Window(0, top // step, data.shape[1], data.shape[0]))
    return folder


def window_gflop(spec: ModelSpec) -> float:
    model = spec.build().eval()
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, spec.in_channels, spec.tile_size, spec.tile_size))
    return counter.get_total_flops() / 1e9


#: Runs `sarclear predict` (argv[2:]) and writes torch's peak CUDA memory in MB to the file argv[1].
CHILD = (
    "import sys, torch\n"
    "from sarclear.cli import main\n"
    "code = main(sys.argv[2:])\n"
    "dev = sys.argv[sys.argv.index('--device') + 1] if '--device' in sys.argv else 'cuda'\n"
    "cuda = torch.cuda.is_available() and dev.startswith('cuda')\n"
    "peak = torch.cuda.max_memory_allocated(torch.device(dev)) / 2**20 if cuda else 0.0  # the device predict ran on\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "raise SystemExit(code)\n"
)


def scene_paths(folder: Path, size: int, seed: int = 0) -> tuple[Path, Path]:
    """The scene of `size` px in `folder`, written unless an earlier run left it there."""
    s1, s2 = folder / f"s1_{size}.tif", folder / f"s2_{size}.tif"
    if not (s1.is_file() and s2.is_file()):
        sub = folder / f"writing_{size}"
        sub.mkdir(parents=True, exist_ok=True)
        written = write_scene(sub, size, seed)
        for path, final in zip(written, (s1, s2)):
            path.replace(final)  # complete files only: a killed write leaves no scene to reuse
        sub.rmdir()
    return s1, s2


def run_child(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"predict failed: {' '.join(command)}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--overlap", type=int, help="default: predict's own (an eighth of the tile)")
    parser.add_argument("--batch-size", type=int, help="default: predict's own")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--workdir", type=Path, help="where scenes are written (default: a temporary folder)")
    parser.add_argument("--inputs", nargs="+", choices=("geotiff", "band-folder", "offset-folder"), default=["geotiff"],
                        help="input formats of the same scene, run one after the other (default: geotiff)")
    parser.add_argument("--scenes", type=Path, help="keep the scenes in this folder and reuse them on the next run")
    parser.add_argument("--write-only", action="store_true", help="write the scenes into --scenes, predict nothing")
    parser.add_argument("--device", help="predict's --device (default: cuda when present, else cpu)")
    parser.add_argument("--ngf", type=int, default=64, help="generator width (64: the default 54M-parameter model)")
    parser.add_argument("--norm-mode", nargs="+", default=["window"], choices=("window", "running"),
                        help="batch-norm modes to run the same scene with (default: window, predict's default)")
    parser.add_argument("--samples", type=int, nargs="+", default=[1],
                        help="1: plain prediction; N > 1: with --uncertainty and N stochastic passes (default: 1)")
    args = parser.parse_args()
    if args.write_only:
        if args.scenes is None:
            parser.error("--write-only needs --scenes DIR")
        for size in args.sizes:  # the one-window scene is written by the timed run (it takes no time)
            scene_paths(args.scenes, size)
        return
    spec = ModelSpec(ngf=args.ngf)
    args.overlap = default_overlap(spec.tile_size) if args.overlap is None else args.overlap
    args.batch_size = args.batch_size or DEFAULT_BATCH_SIZE
    gflop = window_gflop(spec)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        folder = Path(tmp)
        checkpoint = save_generator(folder / "generator.safetensors", spec.build(), spec)
        fixed = None
        for size in [FIXED_COST_SIZE, *args.sizes]:
            s1, s2 = scene_paths(args.scenes or folder, size)
            runs = [(k, n, m) for k in args.inputs for m in args.norm_mode for n in args.samples] if fixed is not None else [("geotiff", 1, args.norm_mode[0])]
            for kind, samples, norm in runs:
                load_before = os.getloadavg()[0]
                seconds, cpu_seconds, peak_mb, peak_cuda_mb = predict_once(kind, s1, s2, folder, checkpoint, args, samples, norm)
                if fixed is None:  # one window: what every run pays (imports, model load, COG set-up)
                    fixed = seconds
                    continue
                windows = WindowGrid(size, size, spec.tile_size, args.overlap).n_windows
                megapixels = size * size / 1e6
                print(json.dumps({
                    "size": size, "input": kind, "samples": samples, "norm_mode": norm, "megapixels": megapixels, "seconds": round(seconds, 1),
                    "cpu_seconds": round(cpu_seconds, 1), "mp_per_s": round(megapixels / seconds, 3), "peak_rss_mb": round(peak_mb),
                    "windows": windows, "gflop_per_window": round(gflop, 2), "gflop_per_s": round(windows * gflop / seconds, 1),
                    # the same without the fixed cost of a one-window run (the rate a long scene approaches)
                    "fixed_seconds": round(fixed, 1),
                    "steady_mp_per_s": round(megapixels / (seconds - fixed), 3) if seconds > fixed else None,
                    "overlap": args.overlap, "batch_size": args.batch_size, "precision": args.precision,
                    "threads": torch.get_num_threads(), "device": args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
                    "ngf": args.ngf, "peak_cuda_mb": round(peak_cuda_mb, 1) if peak_cuda_mb else None,
                    # other processes on the machine compete for the same cores: the 1-minute load average
                    # before and after the run says how much of the machine this figure had, and
                    # cpu_seconds / threads is what the wall time would be with the cores to itself
                    "loadavg_before": round(load_before, 2), "loadavg_after": round(os.getloadavg()[0], 2),
                }), flush=True)  # fmt: skip
            if args.scenes is None:
                for path in (s1, s2):
                    path.unlink()


def predict_once(
    kind: str, s1: Path, s2: Path, folder: Path, checkpoint: Path, args: argparse.Namespace, samples: int = 1, norm: str = "window"
) -> tuple[float, float, float, float | None]:
    """`sarclear predict` on the scene (`s1`, `s2`) given in the input format `kind`, with `--uncertainty`
    and `samples` passes when `samples` > 1: `run_child`'s figures and the child's peak CUDA memory in MB
    (None without CUDA)."""
    s2_input = s2
    if kind != "geotiff":
        name = "S2A_MSIL1C_20230101T000000_N0509_R001_T31TCJ_20230101T120000" if kind == "offset-folder" else "bands"
        s2_input = write_band_folder(s2, folder / name, offset=1000 if kind == "offset-folder" else 0)
    out, peak_file, std = folder / "out.tif", folder / "peak_cuda_mb", folder / "std.tif"
    command = [sys.executable, "-c", CHILD, str(peak_file), "predict", "--checkpoint", str(checkpoint), "--s1", str(s1),
               "--s2", str(s2_input), "--out", str(out), "--overlap", str(args.overlap), "--batch-size", str(args.batch_size),
               "--precision", args.precision, "--norm-mode", norm, "--quiet", *(["--device", args.device] if args.device else [])]  # fmt: skip
    if samples > 1:
        command += ["--uncertainty", str(std), "--samples", str(samples)]
    try:
        seconds, cpu_seconds, peak_mb = run_child(command)
        peak_cuda_mb = float(peak_file.read_text()) if peak_file.is_file() else None
        return seconds, cpu_seconds, peak_mb, peak_cuda_mb or None
    finally:
        out.unlink(missing_ok=True)
        peak_file.unlink(missing_ok=True)
        std.unlink(missing_ok=True)
        if s2_input != s2:
            shutil.rmtree(s2_input)

if __name__ == "__main__":
    main()
