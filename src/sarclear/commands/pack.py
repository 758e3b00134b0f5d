"""`sarclear pack --manifest M --out DIR`: a manifest's kept tiles as memory-mapped arrays for training.

Train from it with `sarclear train --manifest M --pack DIR` (docs/train.md: when a pack pays off).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, type=Path, help="manifest.csv from `sarclear curate` (kept rows are packed)")
    parser.add_argument("--out", required=True, type=Path, help="pack folder: s1/cloudy/clear/valid .npy and index.json")
    parser.add_argument("--splits", default="train,val", help="comma-separated splits to pack (default train,val: what training reads)")
    parser.add_argument("--bands", choices=("rgb", "all13"), default="rgb", help="S2 bands, as the run's --bands (default rgb)")
    parser.add_argument("--workers", type=int, default=None, help="reading processes (default: every core)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from sarclear.data.pack import write_pack

    start = time.perf_counter()
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    index = write_pack(args.manifest, args.out, splits=splits, bands=args.bands, workers=args.workers, progress=not args.quiet)
    size_mb = sum(index.array_path(kind).stat().st_size for kind in index.data["arrays"]) / 1e6
    height, width = index.tile_shape
    print(f"packed {len(index.sample_ids)} tiles of {width}x{height} px ({','.join(splits)}, {args.bands}) into {args.out} "
          f"({size_mb:.1f} MB) in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return 0
