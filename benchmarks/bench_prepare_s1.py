"""Speed and memory of `sarclear prepare-s1` on a full-size GRD product, one JSON line per output size.

    python benchmarks/bench_prepare_s1.py [--lines 13500] [--samples 13500] [--sizes 2048 10980] [--dem | --border] [--keep DIR]

A GRD product of `--lines` x `--samples` radar pixels (10 m; a genuine IW GRD is about 16,700 x
25,600) is written with the test product's layout, tables and descending geometry
(`tests/data/real-scenes/make_s1_grd.py`), its backscatter a speckled field pattern (ENL 4.4),
strip by strip, its GeoTIFFs uncompressed as in genuine products. Then `sarclear prepare-s1` runs in a child process onto a UTM grid of each
size at 10 m in the middle of the footprint (10980: a whole Sentinel-2 tile). Reported: wall
time of the whole command, output megapixels/s, the child's peak RSS, and the output's share
of pixels with data. With `--dem`, each size runs twice in a row, without and then with a DEM
(`--dem`, terrain correction: a 30 m float32 GeoTIFF in UTM of rolling hills, 0-1200 m, heights
above the ellipsoid), so the two are compared on the same machine at the same time. With
`--border`, the product is a pre-2018 one (IPF 2.72 in its manifest, border-noise strips of
about 200 / 150 px at near / far range and 60 lines at its start and end), and each size runs
twice in a row, `--border-noise keep` and then the default, which finds and masks the strips.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform

ROOT = Path(__file__).resolve().parents[1]
BUILDER = ROOT / "tests" / "data" / "real-scenes" / "make_s1_grd.py"
ENL = 4.4  # equivalent number of looks of IW GRD-HR (ESA Sentinel-1 User Handbook)


def load_builder():
    spec = importlib.util.spec_from_file_location("make_s1_grd", BUILDER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_s1_grd"] = module
    spec.loader.exec_module(module)
    return module


def write_product(folder: Path, lines: int, samples: int, border: bool = False) -> Path:
    builder = load_builder()
    layout = builder.Layout(lines, samples)
    geometry = builder.Geometry(9.0, 45.0, layout)  # the Po plain
    mean = {"vv": 10 ** -1.0, "vh": 10 ** -1.7}

    def sigma_rows(pol: str, rows: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(int(rows[0]) * 2 + (pol == "vh"))
        cols = np.arange(samples)
        fields = 1.0 + 0.5 * np.sign(np.sin(rows[:, None] / 37.0) * np.sin(cols[None, :] / 53.0))
        return mean[pol] * fields * rng.gamma(ENL, 1.0 / ENL, size=(rows.size, samples))

    strips = builder.BorderNoise(near_px=200, far_px=150, top_px=60, bottom_px=60) if border else None
    return builder.write_product(folder / f"{builder.NAME}.SAFE", geometry, sigma_rows, compress=None,  # as genuine products
                                 border=strips, ipf="002.72" if border else None)


def utm_like(folder: Path, product: Path, size: int) -> Path:
    """A one-band uint16 GeoTIFF of `size` x `size` px at 10 m, UTM 32N, centred on the product."""
    with rasterio.open(next((product / "measurement").glob("*vv*.tiff"))) as src:
        gcps, _ = src.gcps
    lon, lat = float(np.mean([g.x for g in gcps])), float(np.mean([g.y for g in gcps]))
    (x,), (y,) = warp_transform("EPSG:4326", "EPSG:32632", [lon], [lat])
    path = folder / f"like_{size}.tif"
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint16", "crs": "EPSG:32632",
               "transform": from_origin(x - size * 5, y + size * 5, 10, 10), "tiled": True, "sparse_ok": True}
    with rasterio.open(path, "w", **profile):
        pass
    return path


def write_dem(folder: Path, like: Path) -> Path:
    """Rolling hills (0-1200 m above the ellipsoid, slopes under 15 degrees) at 30 m over `like` and 2 km around it."""
    with rasterio.open(like) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    margin, res = 2000.0, 30.0
    width, height = int((right - left + 2 * margin) / res), int((top - bottom + 2 * margin) / res)
    x = np.arange(width) * res
    y = np.arange(height)[:, None] * res
    heights = 600.0 + 300.0 * np.sin(x / 2500.0) * np.cos(y / 3100.0) + 300.0 * np.sin((x + y) / 4700.0)
    path = folder / "dem.tif"
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32", "crs": crs,
               "transform": from_origin(left - margin, top + margin, res, res), "tiled": True, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(heights.astype(np.float32)[None])
    return path


def run(product: Path, like: Path, out: Path, dem: Path | None = None, extra: tuple[str, ...] = ()) -> dict[str, float]:
    """The command in a child process; `os.wait4` gives that child's own peak RSS."""
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    terrain = ["--dem", str(dem), "--dem-heights", "ellipsoid"] if dem is not None else []
    child = subprocess.Popen([sys.executable, "-m", "sarclear", "prepare-s1", str(product), "--like", str(like), "--out", str(out),
                              "--quiet", *terrain, *extra], stdout=subprocess.DEVNULL, env=env)  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"prepare-s1 failed with exit code {child.returncode}")
    with rasterio.open(out) as src:
        size = src.width * src.height
        covered = float(np.isfinite(src.read(1, out_shape=(512, 512))).mean())
    return {"seconds": round(seconds, 2), "mp_per_s": round(size / 1e6 / seconds, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "covered": round(covered, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=13500)
    parser.add_argument("--samples", type=int, default=13500)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 10980])
    parser.add_argument("--dem", action="store_true", help="run each size also with a DEM (terrain correction), right after")
    parser.add_argument("--border", action="store_true",
                        help="a pre-2018 product with border noise: each size runs with --border-noise keep, then masking it")
    parser.add_argument("--keep", type=Path, default=None, help="keep the product in this folder (and reuse it)")
    args = parser.parse_args()
    if args.dem and args.border:
        parser.error("--dem and --border are separate comparisons; give one")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        product = folder / "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457.SAFE"
        start = time.perf_counter()
        if not (product / "manifest.safe").is_file():
            write_product(folder, args.lines, args.samples, args.border)
        written = time.perf_counter() - start
        for size in args.sizes:
            like = utm_like(folder, product, size)
            dem = write_dem(Path(tmp), like) if args.dem else None
            for variant in ("keep", "auto") if args.border else (False, True) if args.dem else (False,):
                if args.border:
                    result = run(product, like, Path(tmp) / f"s1_{size}.tif", extra=("--border-noise", variant))
                    label = {"border_noise": variant}
                else:
                    result = run(product, like, Path(tmp) / f"s1_{size}.tif", dem if variant else None)
                    label = {"dem": variant}
                print(json.dumps({"radar_px": [args.lines, args.samples], "output_px": size, **label, **result,
                                  "product_written_s": round(written, 1), "cpu": os.cpu_count()}), flush=True)


if __name__ == "__main__":
    main()
