"""Throughput of `sarclear curate`: cold (no cache) and incremental (every statistic cached).

Prints one JSON line. What is measured, and how the data is made:

* cold with cloud detection, on **genuine** images: the two SEN12MS-CR triplets of
  `tests/data/sen12mscr-real` are copied (real copies, as the dataset's own uncompressed files) to
  `--cold-clouds` triplets. On those same images, in one run: **s2cloudless alone** (its
  `S2PixelCloudDetector` with the literature's settings, masks of both S2 images of every triplet,
  LightGBM on `--workers` threads: what curation costs at the least if it calls s2cloudless), then
  cold `curate` with `--cloud-method s2cloudless` (the compiled booster) and with
  `s2cloudless-reference`, each with `--workers` processes and an empty cache. `speedup_vs_s2cloudless`
  is curate-with-compiled-clouds triplets/s over s2cloudless-alone triplets/s; the agreement
  figures compare the compiled probabilities and masks with s2cloudless's on the genuine images
  (both S2 of each triplet, and the SEN12MS-CR crop without target).
* cold without cloud detection, 256-px triplets: 16 distinct synthetic triplets (4 seasons, 25% with
  a defect), rewritten uncompressed and pixel-interleaved like the SEN12MS-CR files, copied to
  `--cold` triplets. Runs with `--workers` processes and in one process (`workers=1`), whose CPU
  seconds per triplet (getrusage of this process) do not depend on what else the machine is
  running. The compiled booster is built before timing (it is built once per machine and cached).
  The copies were just written, so they sit in the OS page cache: CPU throughput, not disk reads.
* incremental: `--incremental` triplets made of hard links to 16 tiny (32-px) synthetic triplets
  (each link is a distinct path, hence a distinct cache entry). A cold run fills the cache, then the
  timed run applies new thresholds: stat of every file, cache look-up, rules, manifest, summary,
  figures (the contact sheet reads its few sample thumbnails; no statistic is re-measured).

Usage: .venv/bin/python benchmarks/bench_curate.py [--workers 2] [--cold 400] [--cold-clouds 40] [--incremental 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sarclear.curate.measure import MeasureSettings
from sarclear.curate.rules import Thresholds, parse_season_sigma
from sarclear.curate.run import curate
from sarclear.data import clouds, s2cloudless_fast
from sarclear.data.layout import find_triplets, official_paths
from sarclear.data.synthetic import generate_dataset
from sarclear.io.geotiff import read_raster, write_raster

SEASONS = ("spring", "summer", "fall", "winter")
REPO = Path(__file__).resolve().parents[1]
GENUINE_ROOT = REPO / "tests" / "data" / "sen12mscr-real"
GENUINE_EXTRA = sorted((REPO / "tests" / "data" / "sen12mscr-no-target").glob("*.tif"))


def _base(root: Path, size: int) -> list[dict[str, Path]]:
    """16 synthetic triplets, rewritten uncompressed and untiled as the SEN12MS-CR files are."""
    generate_dataset(root, scenes=1, patches=4, size=size, seasons=SEASONS, seed=7, bad_fraction=0.25, progress=False)
    triplets = [{"s1": t.s1_path, "s2_cloudy": t.s2_cloudy_path, "s2": t.s2_path} for t in find_triplets(root)]
    for paths in triplets:
        for path in paths.values():
            array, info = read_raster(path)
            write_raster(path, array, crs=info.crs, transform=info.transform, compress="none", tiled=False)
    return triplets


def _cpu_seconds() -> float:
    """User + system CPU time of this process (meaningful for workers=1: pool workers are not children)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _replicate(base: list[dict[str, Path]], root: Path, count: int, link: bool) -> None:
    """`count` triplets in the official layout (scene 1000+, patch i), copies or hard links of `base`."""
    for i in range(count):
        source = base[i % len(base)]
        roi = source["s1"].name.split("_s1_")[0]
        for modality, path in official_paths(root, roi, 1000 + i // 1000, i).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            (os.link if link else shutil.copyfile)(source[modality], path)
    os.sync()  # flush the copies now, or their write-back competes with the timed run


def _timed(
    root: Path, out: Path, workers: int, method: str, thresholds: Thresholds | None = None
) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds, triplets measured, triplets in total of one `curate` run."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = curate(
        root,
        out,
        thresholds=thresholds or Thresholds(max_target_cloud=None if method == "none" else 10.0),
        settings=MeasureSettings(cloud_method=method),
        workers=workers,
        progress=False,
    )
    return time.perf_counter() - start, _cpu_seconds() - cpu, result.measured, result.total


def _genuine_base_of(root: Path) -> list[dict[str, Path]]:
    return [{"s1": t.s1_path, "s2_cloudy": t.s2_cloudy_path, "s2": t.s2_path} for t in find_triplets(root)]


def _s2cloudless_alone(base: list[dict[str, Path]], count: int, threads: int) -> tuple[float, float]:
    """Wall and CPU seconds for s2cloudless to mask both S2 images of `count` triplets (reads included,
    one call per image, LightGBM on `threads` threads: its CPU time is this process's)."""
    from s2cloudless import S2PixelCloudDetector

    detector = S2PixelCloudDetector(threshold=0.4, all_bands=True, average_over=4, dilation_size=2)
    start, cpu = time.perf_counter(), _cpu_seconds()
    for i in range(count):
        for modality in ("s2_cloudy", "s2"):
            dn, _ = read_raster(base[i % len(base)][modality])
            refl = np.moveaxis(dn.astype(np.float32) / np.float32(10000), 0, -1)[None]
            detector.get_cloud_masks(refl, num_threads=threads)
    return time.perf_counter() - start, _cpu_seconds() - cpu


def _agreement(paths: list[Path]) -> dict[str, float]:
    """Worst case over genuine images of compiled vs reference: probability, pixels, cover."""
    worst = {"max_prob_abs_diff": 0.0, "min_identical_pixels_pct": 100.0, "max_cover_diff_pp": 0.0}
    for path in paths:
        dn, _ = read_raster(path)
        fast, _ = clouds.cloud_probabilities(dn[None], method="s2cloudless")
        ref, _ = clouds.cloud_probabilities(dn[None], method="s2cloudless-reference")
        f, r = clouds.mask_from_probability(fast[0]), clouds.mask_from_probability(ref[0])
        valid = dn.max(axis=0) > 0
        worst["max_prob_abs_diff"] = max(worst["max_prob_abs_diff"], float(np.abs(fast - ref).max()))
        worst["min_identical_pixels_pct"] = min(worst["min_identical_pixels_pct"], 100.0 * float(np.mean(f == r)))
        diff = abs(clouds.cloud_cover_pct(f, valid) - clouds.cloud_cover_pct(r, valid))
        worst["max_cover_diff_pp"] = max(worst["max_cover_diff_pp"], diff)
    worst["images"] = len(paths)
    return {k: (round(v, 9) if isinstance(v, float) else v) for k, v in worst.items()}


def _cloud_cases(report: dict[str, object], tmp: Path, count: int, workers: int) -> None:
    base = _genuine_base_of(GENUINE_ROOT)
    build = time.perf_counter()
    report["compiled_booster_ready"] = s2cloudless_fast.prepare(print)
    report["compiled_booster_prepare_s"] = round(time.perf_counter() - build, 1)
    _replicate(base, tmp / "genuine", count, link=False)
    copies = _genuine_base_of(tmp / "genuine")
    alone, alone_cpu = _s2cloudless_alone(copies, count, workers)
    report.update(cold_clouds_triplets=count, s2cloudless_alone_s=round(alone, 2),
                  s2cloudless_alone_triplets_per_s=round(count / alone, 2),
                  s2cloudless_alone_cpu_s_per_triplet=round(alone_cpu / count, 3))
    for key, method in (("compiled", "s2cloudless"), ("reference", "s2cloudless-reference")):
        seconds, _, measured, total = _timed(tmp / "genuine", tmp / f"out_{key}", workers, method)
        assert measured == total == count
        report[f"curate_{key}_s"] = round(seconds, 2)
        report[f"curate_{key}_triplets_per_s"] = round(count / seconds, 2)
    _, one_cpu, _, _ = _timed(tmp / "genuine", tmp / "out_compiled_1", 1, "s2cloudless")
    report["curate_compiled_1worker_cpu_s_per_triplet"] = round(one_cpu / count, 3)
    report["speedup_vs_s2cloudless"] = round(alone / report["curate_compiled_s"], 2)  # type: ignore[operator]
    report["speedup_vs_s2cloudless_cpu"] = round(alone_cpu / one_cpu, 2)
    report["speedup_vs_curate_reference"] = round(report["curate_reference_s"] / report["curate_compiled_s"], 2)  # type: ignore[operator]
    images = [p for t in base for p in (t["s2_cloudy"], t["s2"])] + GENUINE_EXTRA
    report["agreement"] = _agreement(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold", type=int, default=400)
    parser.add_argument("--cold-clouds", type=int, default=40, help="genuine triplets for the cloud-detection cases")
    parser.add_argument("--incremental", type=int, default=10_000)
    args = parser.parse_args()
    report: dict[str, object] = {"benchmark": "curate", "workers": args.workers, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench_curate_") as tmp_name:
        tmp = Path(tmp_name)
        if args.cold_clouds > 0:
            _cloud_cases(report, tmp, args.cold_clouds, args.workers)
        base = _base(tmp / "base256", 256)
        for key, count, method in (("cold_no_clouds", args.cold, "none"),):
            if count <= 0:
                continue
            _replicate(base, tmp / key, count, link=False)
            seconds, _, measured, total = _timed(tmp / key, tmp / f"out_{key}", args.workers, method)
            assert measured == total == count
            one_wall, one_cpu, _, _ = _timed(tmp / key, tmp / f"out1_{key}", 1, method)
            report[f"{key}_triplets"] = count
            report[f"{key}_s"] = round(seconds, 2)
            report[f"{key}_triplets_per_s"] = round(count / seconds, 1)
            report[f"{key}_1worker_triplets_per_s"] = round(count / one_wall, 1)
            report[f"{key}_1worker_cpu_s_per_triplet"] = round(one_cpu / count, 4)
        if args.incremental > 0:
            tiny = _base(tmp / "base32", 32)
            _replicate(tiny, tmp / "incr", args.incremental, link=True)
            fill, _, measured, _ = _timed(tmp / "incr", tmp / "out_incr", args.workers, "none")
            again, _, measured_again, total = _timed(
                tmp / "incr", tmp / "out_incr", args.workers, "none",
                Thresholds(season_sigma=parse_season_sigma("summer=12,winter=4"), max_target_cloud=None),
            )
            assert measured == total and measured_again == 0
            report.update(
                incremental_triplets=total,
                incremental_fill_cold_32px_s=round(fill, 2),
                incremental_rerun_s=round(again, 2),
                incremental_triplets_per_s=round(total / again, 1),
            )
    # Peak resident memory of this (parent) process over all runs: rows stream, so it stays flat.
    report["parent_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
