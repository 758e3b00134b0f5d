"""Curation and training set-up at SEN12MS-CR scale, without the data: time and memory per stage.

SEN12MS-CR has 122,218 triplets. Nothing in this benchmark reads a pixel: it makes 122,218
synthetic statistics records (four seasons, the official scene numbering, a share of them
rejected for each reason) and times, one stage after another:

1. `summary`: rules, manifest writing, the summary and both figures (`curate.run.write_outputs`,
   what a curate run does after measuring; the contact sheet finds no image files and draws
   "unreadable" boxes, as it would on a moved dataset);
2. `shards` (with `--shards N`): the same records as N shard record files with each shard's own
   outputs (what N cluster jobs write, each on its own node; timed here one after another), then
   `merge`: `curate --merge` of the N folders (what runs once the job array is done);
3. `read_manifest`: parsing the manifest back (`data.manifest.read_manifest`);
4. `split`: the kept rows of each split (`data.manifest.select`);
5. `sampler`: the training sampler with season weights (`train.data.TrainSampler`) and one
   epoch's indices, for one rank and for rank 0 of 8.

Per stage: wall seconds and this process's CPU seconds (`_cpu_s`, the figure that holds on a
shared machine), then the peak of Python allocations (tracemalloc) in MB from a second, untimed
run of the stage (`--no-memory` skips it); at the end the process's peak resident memory. Prints
one JSON line.

Usage: .venv/bin/python benchmarks/bench_curate_scale.py [--rows 122218] [--shards 8] [--no-memory]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sarclear.curate.measure import MeasureSettings
from sarclear.curate.merge import merge
from sarclear.curate.rules import Thresholds
from sarclear.curate.run import measurement_info, run_metadata, write_outputs
from sarclear.curate.shard import RECORDS_FILENAME, Shard, write_records
from sarclear.data.layout import Triplet
from sarclear.data.manifest import read_manifest, select
from sarclear.train.data import TrainSampler, season_weights

SEASONS = ("ROIs1158_spring", "ROIs1868_summer", "ROIs1970_fall", "ROIs2017_winter")


def _triplets(rows: int, root: Path) -> list[Triplet]:
    """`rows` triplets over the four ROI sets, scenes 1-150, up to 1000 patches each, sorted as listed."""
    out = []
    for i in range(rows):
        roi = SEASONS[i % 4]
        scene, patch = str(1 + (i // 4) // 1000 % 150), (i // 4) % 1000 + 1000 * ((i // 4) // 150_000)
        paths = [root / f"{roi}_{m}" / f"{m}_{scene}" / f"{roi}_{m}_{scene}_p{patch}.tif" for m in ("s1", "s2_cloudy", "s2")]
        out.append(Triplet(roi, scene, patch, *paths))
    out.sort(key=lambda t: (t.roi, int(t.scene), t.patch))
    return out


def _record(rng: random.Random) -> dict[str, Any]:
    """Statistics as `measure_triplet` records them, with plausible values and some defects."""
    roll = rng.random()
    return {
        "unreadable": [], "errors": [] if roll > 0.002 else ["s2: not a readable raster"],
        "contrast_sigma": rng.uniform(1, 40), "saturated_frac": rng.uniform(0, 0.05),
        "cloud_cover_pct": rng.uniform(0, 100), "target_cloud_cover_pct": rng.expovariate(1 / 3),
        "cloud_method": "s2cloudless", "cloud_warning": "",
        "vv_mean": -10.0, "vv_std": rng.uniform(0.2, 4), "vh_mean": -17.0, "vh_std": rng.uniform(0.2, 4),
        "vv_clip_std": rng.uniform(0.2, 4), "vh_clip_std": rng.uniform(0.2, 4),
        "nonfinite_frac": 0.0 if roll > 0.01 else 1e-4, "nodata_frac": 0.0 if roll > 0.03 else 0.2,
        "s1_nodata_frac": 0.0, "s2_cloudy_nodata_frac": 0.0, "s2_nodata_frac": 0.0,
        "width": 256, "height": 256, "s1_bands": 2, "s2_cloudy_bands": 13, "s2_bands": 13,
        "s1_dtype": "float32", "s2_cloudy_dtype": "uint16", "s2_dtype": "uint16", "grid_ok": True,
    }


def _pairs(triplets: list[Triplet], seed: int = 0) -> Iterator[tuple[Triplet, dict[str, Any], bool]]:
    rng = random.Random(seed)
    for t in triplets:
        yield t, _record(rng), False


def _stage(report: dict[str, Any], name: str, work: Callable[[], Any], trace_memory: bool) -> Any:
    """Time `work` (wall and this process's CPU seconds), then, with `trace_memory`, run it again
    under tracemalloc for its peak allocations: tracemalloc slows allocation-heavy Python about
    threefold, so the timed run is never the traced one."""
    start, cpu = time.perf_counter(), time.process_time()
    result = work()
    report[f"{name}_s"] = round(time.perf_counter() - start, 2)
    report[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)
    if trace_memory:
        tracemalloc.start()
        work()
        report[f"{name}_peak_alloc_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=122_218)
    parser.add_argument("--shards", type=int, default=8, help="0 skips the shard + merge stage")
    parser.add_argument("--no-memory", action="store_true", help="skip the second, tracemalloc'd run of each stage")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "curate_scale", "rows": args.rows}
    settings, thresholds = MeasureSettings(), Thresholds()
    trace = not args.no_memory
    with tempfile.TemporaryDirectory(prefix="bench_curate_scale_") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "SEN12MS-CR"  # never created: no pixel is read
        triplets = _triplets(args.rows, root)
        meta = run_metadata(root, thresholds, measurement_info(settings))
        out = tmp / "curated"
        result = _stage(report, "summary", lambda: write_outputs(
            out, _pairs(triplets), root=root, thresholds=thresholds, settings=settings, metadata=meta), trace)
        report.update(kept=result.kept, rejected=result.rejected, manifest_mb=round((out / "manifest.csv").stat().st_size / 2**20, 1))
        if args.shards > 0:
            folders = [tmp / f"shard{index}" for index in range(args.shards)]
            mine = [[t for t in triplets if Shard(i, args.shards).holds(t.sample_id)] for i in range(args.shards)]

            def shard_outputs() -> None:
                """What the N shard jobs write (on N nodes at once in a job array; here one after another)."""
                for index, folder in enumerate(folders):
                    shard = Shard(index, args.shards)
                    records = write_records(folder / RECORDS_FILENAME, _pairs(mine[index], seed=index))
                    write_outputs(folder, records, root=root, thresholds=thresholds, settings=settings,
                                  metadata=run_metadata(root, thresholds, measurement_info(settings), shard=shard.as_dict()))

            _stage(report, "shards", shard_outputs, trace)
            merged = _stage(report, "merge", lambda: merge(folders, tmp / "merged"), trace)
            report["shards"] = args.shards
            report["merged_rows"] = merged.total
        samples = _stage(report, "read_manifest", lambda: read_manifest(out / "manifest.csv"), trace)
        splits = _stage(report, "split", lambda: {s: select(samples, s) for s in ("train", "val", "test")}, trace)
        report.update({f"{s}_kept": len(v) for s, v in splits.items()})

        def sampler() -> int:
            train = splits["train"]
            weights = season_weights(train)
            one = TrainSampler(len(train), rank=0, world_size=1, seed=0, weights=weights)
            eight = TrainSampler(len(train), rank=0, world_size=8, seed=0)
            return len(list(one)) + len(list(eight))

        report["sampler_indices"] = _stage(report, "sampler", sampler, trace)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
