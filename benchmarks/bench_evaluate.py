"""Speed and peak memory of `sarclear evaluate` as the number of tiles grows: one JSON line.

    python benchmarks/bench_evaluate.py [--tiles 8 32] [--bands 3] [--ngf 64] [--batch-size 4]

Data: 8 synthetic 256-px triplets (summer and winter, `generate_dataset`, no defects), listed
over and over in a manifest until it has N rows (the files are the same; every row is read,
masked and scored again, exactly like N distinct tiles). `--bands 3` rewrites them as RGB files so
the cloud mask is the fast brightness test; `--bands 13` keeps the L1C stacks and s2cloudless runs.
Model: a generator of the reference architecture (ngf 64, 8 down-samplings, 54M parameters) with
random weights (speed does not depend on them), plus the identity baseline.

Each N runs `evaluate()` in a fresh child process with `workers=0`, so the child's own peak RSS
(`ru_maxrss`) covers everything it did: if memory did not stream, it would grow with N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sarclear.data.layout import find_triplets
from sarclear.data.manifest import CORE_COLUMNS, write_manifest
from sarclear.data.synthetic import generate_dataset
from sarclear.io.geotiff import read_raster, write_raster
from sarclear.models.checkpoint import save_generator
from sarclear.models.spec import ModelSpec

CHILD = """
import json, resource, sys, time
from sarclear.evaluate.run import evaluate
start = time.perf_counter()
evaluate(sys.argv[1], sys.argv[2], checkpoint=sys.argv[3], split="all", batch_size=int(sys.argv[4]), workers=0,
         progress=False)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _base_triplets(root: Path, bands: int) -> list[dict[str, Path]]:
    generate_dataset(root, scenes=1, patches=4, size=256, seasons=("summer", "winter"), seed=3, bad_fraction=0.0,
                     progress=False)
    triplets = [{"s1": t.s1_path, "s2_cloudy": t.s2_cloudy_path, "s2": t.s2_path, "id": t.sample_id,
                 "season": t.season} for t in find_triplets(root)]
    if bands == 3:
        for triplet in triplets:
            for key in ("s2_cloudy", "s2"):
                dn, info = read_raster(triplet[key], bands=[4, 3, 2])
                write_raster(triplet[key], np.ascontiguousarray(dn), crs=info.crs, transform=info.transform)
    return triplets


def _manifest(path: Path, base: list[dict[str, Path]], count: int) -> Path:
    rows = []
    for i in range(count):
        t = base[i % len(base)]
        rows.append({"sample_id": f"{t['id']}_copy{i}", "season": t["season"], "split": "test", "kept": True,
                     "s1_path": t["s1"], "s2_cloudy_path": t["s2_cloudy"], "s2_path": t["s2"]})
    return write_manifest(path, rows, CORE_COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--bands", type=int, choices=(3, 13), default=3)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    report: dict[str, object] = {"benchmark": "evaluate", "bands": args.bands, "ngf": args.ngf,
                                 "batch_size": args.batch_size, "cpus": os.cpu_count(), "tile_px": 256}
    with tempfile.TemporaryDirectory(prefix="bench_evaluate_") as tmp_name:
        tmp = Path(tmp_name)
        base = _base_triplets(tmp / "data", args.bands)
        spec = ModelSpec(ngf=args.ngf)
        checkpoint = save_generator(tmp / "model" / "generator.safetensors", spec.build(), spec)
        for count in args.tiles:
            manifest = _manifest(tmp / f"manifest_{count}.csv", base, count)
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(manifest), str(tmp / f"out_{count}"), str(checkpoint),
                 str(args.batch_size)], capture_output=True, text=True, check=True,
            )
            child = json.loads(result.stdout.strip().splitlines()[-1])
            report[f"tiles_{count}_s"] = round(child["seconds"], 2)
            report[f"tiles_{count}_tiles_per_s"] = round(count / child["seconds"], 2)
            report[f"tiles_{count}_peak_rss_mb"] = round(child["peak_rss_mb"], 1)
            report[f"tiles_{count}_process_s"] = round(time.perf_counter() - started, 2)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
