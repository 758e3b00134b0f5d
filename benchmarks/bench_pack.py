"""Training data throughput from GeoTIFFs against a pack of the same tiles (`sarclear pack`), one JSON line.

    python benchmarks/bench_pack.py [--tiles 32] [--size 256] [--workers 0 2] [--passes 4]

What is measured, in one run on one machine:

* the data: `--tiles` synthetic triplets of `--size` px (`sarclear synth`, no defects), all in one
  manifest. Read twice as GeoTIFFs: as `sarclear synth` writes them (deflate, 256-px tiles) and
  rewritten uncompressed and strip-interleaved, as the SEN12MS-CR files are distributed;
* `packing`: `write_pack` of the manifest with each `--workers` count (tiles/s; with workers the
  pool's start-up, which imports torch and rasterio once, is inside the time), and its size;
* `loaders`: the training loader (`train/data.make_loader`, random crops of `--size` and flips,
  batch 1) over `TripletDataset` (each GeoTIFF flavour) and over `PackedDataset`, with each
  worker count, `--passes` passes over the tiles: `triplets_per_s` after the first batch,
  `read_mb_per_s` (bytes stored per triplet by that source times triplets/s), `tensor_mb_per_s`
  (float32 tensors delivered), and `cpu_s_per_triplet` (this process and its reaped workers): on
  a shared machine the CPU figure is the one that does not depend on the other jobs;
* `--threads` (default 1) sets this process's torch threads: with `workers` 0 the batches are
  collated here, and on a busy machine OpenMP threads spinning over a 2 MB copy cost more CPU
  than the whole sample; DataLoader workers always run one thread, so 1 compares like with like;
* `memmap_read_gb_per_s`: the pack's rows copied out of the memory maps with nothing else done,
  the rate of the format itself.

Every file was just written, so reads come from the OS page cache: this compares decoding and
conversion, not disks (a cold disk adds its own read time to both, at the stored sizes reported).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gpu_loader import measure
from sarclear.data.dataset import TripletDataset
from sarclear.data.layout import official_paths
from sarclear.data.manifest import CORE_COLUMNS, read_manifest, write_manifest
from sarclear.data.pack import PackedDataset, write_pack
from sarclear.data.synthetic import generate_dataset
from sarclear.io.geotiff import read_raster, write_raster


def make_manifest(root: Path, tiles: int, size: int) -> Path:
    """`tiles` defect-free synthetic triplets (summer and winter), every one a kept train row."""
    made = generate_dataset(root, scenes=1, patches=math.ceil(tiles / 2), size=size, seasons=("summer", "winter"),
                            seed=0, bad_fraction=0.0, progress=False)[:tiles]  # fmt: skip
    rows = []
    for tile in made:
        paths = official_paths(root, tile.roi, tile.scene, tile.patch)
        rows.append({"sample_id": tile.sample_id, "season": tile.season, "scene": tile.scene, "patch": tile.patch,
                     "split": "train", "kept": True, "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"],
                     "s2_path": paths["s2"]})  # fmt: skip
    return write_manifest(root / "manifest.csv", rows, CORE_COLUMNS)


def rewrite_uncompressed(paths: list[Path]) -> None:
    for path in paths:
        array, info = read_raster(path)
        write_raster(path, array, crs=info.crs, transform=info.transform, descriptions=info.descriptions,
                     compress="none", tiled=False)  # fmt: skip


def memmap_read_rate(pack_dir: Path, passes: int) -> float:
    """GB/s of copying every row of every array out of the pack's memory maps."""
    arrays = [np.load(path, mmap_mode="r") for path in sorted(pack_dir.glob("*.npy"))]
    start, copied = time.perf_counter(), 0
    for _ in range(passes):
        for row in range(len(arrays[0])):
            for array in arrays:
                copied += np.array(array[row]).nbytes
    return copied / (time.perf_counter() - start) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiles", type=int, default=32)
    p.add_argument("--size", type=int, default=256, help="tile size and training crop in px")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--passes", type=int, default=4, help="passes over the tiles per measurement")
    p.add_argument("--threads", type=int, default=1, help="torch threads of this process (DataLoader workers use 1)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory(prefix="sarclear-bench-pack-") as tmp:
        manifest = make_manifest(Path(tmp) / "synth", args.tiles, args.size)
        rows = read_manifest(manifest)
        files = [path for s in rows for path in (s.s1_path, s.s2_cloudy_path, s.s2_path)]

        packing = []
        for workers in args.workers:  # the last one stays: the pack the loaders read
            start = time.perf_counter()
            pack = write_pack(manifest, Path(tmp) / "pack", splits=("train",), workers=workers, progress=False)
            seconds = time.perf_counter() - start
            packing.append({"workers": workers, "seconds": round(seconds, 2), "tiles_per_s": round(len(rows) / seconds, 1)})
        pack_bytes = sum(pack.array_path(kind).stat().st_size for kind in pack.data["arrays"])
        tensor_bytes = (2 + 3 + 3 + 1) * args.size * args.size * 4
        result: dict[str, object] = {
            "tiles": len(rows), "size": args.size, "passes": args.passes, "threads": args.threads, "cpus": os.cpu_count(),
            "loadavg_1min": round(os.getloadavg()[0], 2), "pack_mb": round(pack_bytes / 1e6, 2),
            "pack_mb_per_tile": round(pack_bytes / len(rows) / 1e6, 3), "packing": packing,
        }  # fmt: skip

        loaders = []

        def run(source: str, dataset: TripletDataset, stored_bytes: int) -> None:
            for workers in args.workers:
                r = measure(dataset, workers=workers, batch_size=1, batches=len(dataset), device=device)
                rate = r["triplets_per_s"] or 0.0
                loaders.append({"source": source, "workers": workers, "triplets_per_s": rate,
                                "read_mb_per_s": round(rate * stored_bytes / len(rows) / 1e6, 1),
                                "tensor_mb_per_s": round(rate * tensor_bytes / 1e6, 1),
                                "cpu_s_per_triplet": r["cpu_s_per_triplet"], "first_batch_s": r["first_batch_s"],
                                "stored_mb_per_triplet": round(stored_bytes / len(rows) / 1e6, 3)})  # fmt: skip
                print(json.dumps(loaders[-1]), flush=True, file=sys.stderr)

        repeated = rows * args.passes
        options = {"crop_size": args.size, "augment": True}
        run("pack", PackedDataset(pack, repeated, **options), pack_bytes)
        run("geotiff_deflate", TripletDataset(repeated, **options), sum(f.stat().st_size for f in files))
        rewrite_uncompressed(files)
        run("geotiff_uncompressed", TripletDataset(repeated, **options), sum(f.stat().st_size for f in files))
        result["loaders"] = loaders
        result["memmap_read_gb_per_s"] = round(memmap_read_rate(pack.folder, args.passes), 2)
        by = {(r["source"], r["workers"]): r for r in loaders}
        result["pack_speedup"] = {
            f"{source}_workers_{w}": {
                "triplets_per_s": round(by[("pack", w)]["triplets_per_s"] / max(by[(source, w)]["triplets_per_s"], 1e-9), 1),
                "cpu_s_per_triplet": round(by[(source, w)]["cpu_s_per_triplet"] / max(by[("pack", w)]["cpu_s_per_triplet"], 1e-9), 1),
            }
            for source in ("geotiff_deflate", "geotiff_uncompressed") for w in args.workers
        }  # fmt: skip
        print(json.dumps(result))


if __name__ == "__main__":
    main()
