"""Training data throughput: triplets/s that `sarclear train`'s DataLoader reads from GeoTIFFs.

    python benchmarks/gpu_loader.py --manifest DIR/manifest.csv [--workers 0 4 8] [--batches 200] [--pack]

One JSON line per worker count. The loader is the training loop's own (`train/data.make_loader`
over `TripletDataset` with random crops and flips, pinned memory and non-blocking copies to the
GPU when there is one). The train split is listed again and again until one pass holds
`--batches` batches, so the workers start once, as they do in a real epoch of 4,464 tiles, rather
than once per pass over a small synthetic split. The first batch (worker start-up) is timed
apart from the steady rate. Tiles are read through the page cache after the first pass, as they
are from the second epoch of a real run on a machine with the memory to hold the data set.
Compare `triplets_per_s` with the training step's images/s (`bench_train.py`): where it is lower,
the data pipeline is the bottleneck. `--pack` also packs the train split (`sarclear pack`, into a
temporary folder, timed) and measures the same loader over `PackedDataset`: every JSON line says
its `source` (`geotiff` or `pack`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import tempfile
import time
from pathlib import Path

import torch

from sarclear.data.dataset import TripletDataset
from sarclear.data.manifest import read_manifest, select
from sarclear.data.pack import PackedDataset, write_pack
from sarclear.train.data import make_loader


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its reaped children (the loader's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(dataset: TripletDataset, *, workers: int, batch_size: int, batches: int, device: torch.device) -> dict[str, object]:
    """Triplets/s after the first batch, and CPU seconds per triplet of the whole pass (workers included:
    they are shut down, hence reaped, before the clock stops; on a shared machine this is the figure
    that does not depend on the other jobs)."""
    pin = device.type == "cuda"
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    first_s = None
    read = 0
    loader = make_loader(dataset, batch_size=batch_size, sampler=None, workers=workers, pin_memory=pin)
    batch_iter = iter(loader)
    for batch in batch_iter:
        for key in ("sar", "cloudy", "clear"):
            batch[key].to(device, non_blocking=True)
        read += 1
        if first_s is None:
            first_s = time.perf_counter() - start
            steady_start = time.perf_counter()
        if read >= batches:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    steady = time.perf_counter() - steady_start
    batch_iter.close()  # shuts the workers down (ErrorSafeLoader), so their CPU time is counted
    cpu = _cpu_seconds() - cpu_start
    return {
        "workers": workers, "batch_size": batch_size, "batches": read,
        "triplets_per_s": round((read - 1) * batch_size / steady, 1) if read > 1 else None,
        "cpu_s_per_triplet": round(cpu / (read * batch_size), 5),
        "first_batch_s": round(first_s, 2), "device": str(device), "pin_memory": pin,
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", required=True)
    p.add_argument("--size", type=int, default=256, help="training crop in px")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--workers", type=int, nargs="+", default=[0, min(8, os.cpu_count() or 1)])
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--pack", action="store_true", help="also pack the train split (`sarclear pack`) and measure the pack's loader")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = select(read_manifest(args.manifest), "train")
    repeats = math.ceil(args.batches * args.batch_size / len(rows))
    sources = {"geotiff": (lambda: TripletDataset(rows * repeats, crop_size=args.size, augment=True), {})}
    with tempfile.TemporaryDirectory(prefix="sarclear-pack-") as tmp:
        if args.pack:
            start = time.perf_counter()
            pack = write_pack(args.manifest, Path(tmp) / "pack", splits=("train",), workers=max(args.workers), progress=False)
            seconds = time.perf_counter() - start
            packing = {"pack_s": round(seconds, 2), "pack_tiles_per_s": round(len(rows) / seconds, 1), "pack_workers": max(args.workers)}
            sources["pack"] = (lambda: PackedDataset(pack, rows * repeats, crop_size=args.size, augment=True), packing)
        for source, (make, extra) in sources.items():
            for workers in args.workers:
                result = measure(make(), workers=workers, batch_size=args.batch_size, batches=args.batches, device=device)
                print(json.dumps({"source": source, **result, "size": args.size, "distinct_tiles": len(rows), **extra}), flush=True)


if __name__ == "__main__":
    main()
