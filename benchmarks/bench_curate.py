"""Throughput of `sarclear curate`: cold (no cache) and incremental (every statistic cached).

Prints one JSON line. What is measured, and how the data is made:

* cold, 256-px triplets: 16 distinct synthetic triplets (4 seasons, 25% with a defect), rewritten
  uncompressed and pixel-interleaved like the SEN12MS-CR files, are copied (real copies, not links)
  to `--cold` triplets (no cloud detection) and `--cold-s2cloudless` triplets; `curate` runs with
  `--workers` processes and an empty cache. The copies were just written, so they sit in the OS
  page cache: this measures CPU throughput, not disk reads. Each cold case runs twice: with
  `--workers` processes (wall-clock rate) and in one process (`workers=1`), whose CPU seconds per
  triplet (getrusage of this process) do not depend on what else the machine is running:
  `cores / cpu_s_per_triplet` is the rate on idle cores.
* incremental: `--incremental` triplets made of hard links to 16 tiny (32-px) synthetic triplets
  (each link is a distinct path, hence a distinct cache entry). A cold run fills the cache, then the
  timed run applies new thresholds: stat of every file, cache look-up, rules, manifest, summary,
  figures (the contact sheet reads its few sample thumbnails; no statistic is re-measured).

Usage: .venv/bin/python benchmarks/bench_curate.py [--workers 2] [--cold 400] [--cold-s2cloudless 40] [--incremental 10000]
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

from sarclear.curate.measure import MeasureSettings
from sarclear.curate.rules import Thresholds, parse_season_sigma
from sarclear.curate.run import curate
from sarclear.data.layout import find_triplets, official_paths
from sarclear.data.synthetic import generate_dataset
from sarclear.io.geotiff import read_raster, write_raster

SEASONS = ("spring", "summer", "fall", "winter")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold", type=int, default=400)
    parser.add_argument("--cold-s2cloudless", type=int, default=40)
    parser.add_argument("--incremental", type=int, default=10_000)
    args = parser.parse_args()
    report: dict[str, object] = {"benchmark": "curate", "workers": args.workers, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench_curate_") as tmp_name:
        tmp = Path(tmp_name)
        base = _base(tmp / "base256", 256)
        for key, count, method in (("cold_no_clouds", args.cold, "none"), ("cold_s2cloudless", args.cold_s2cloudless, "s2cloudless")):
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
