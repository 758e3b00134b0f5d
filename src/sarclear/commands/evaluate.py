"""`sarclear evaluate`: score a checkpoint and baselines on a manifest split; write the reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sarclear.data.manifest import SPLITS
from sarclear.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="generator file, checkpoint folder or run folder (best, else last)")
    parser.add_argument("--manifest", type=Path, required=True, help="manifest.csv written by `sarclear curate` (or by hand)")
    parser.add_argument("--out", type=Path, required=True, help="output folder: metrics.json, per_image.csv, report.md/html")
    parser.add_argument("--split", default="test", choices=("all", *SPLITS), help="manifest split to score (default: test)")
    parser.add_argument(
        "--baseline", action="append", metavar="NAME",
        help="baseline in the same table, repeatable: identity (cloudy input as prediction; the default) or none",
    )
    parser.add_argument(
        "--compare", nargs="+", action="extend", default=[], type=Path, metavar="CKPT",
        help="other checkpoint(s) to score in the same table (e.g. a model trained without SAR)",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass (default: 4)")
    parser.add_argument("--max-tiles", type=int, help="score only the first N tiles of the split")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes reading tiles (default: 2)")
    parser.add_argument("--gallery", type=int, default=2, metavar="K", help="gallery tiles per best/median/worst (default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _baselines(values: list[str] | None) -> list[str]:
    if values is None:
        return ["identity"]
    names = [v for value in values for v in value.split(",") if v]
    return [] if names == ["none"] else names


def run(args: argparse.Namespace) -> int:
    from sarclear.evaluate.report_md import overall_markdown
    from sarclear.evaluate.run import METRICS_FILE, PER_IMAGE_FILE, REPORT_HTML, REPORT_MD, evaluate

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_tiles is not None and args.max_tiles < 1:
        raise ConfigError(f"--max-tiles must be at least 1, got {args.max_tiles}")
    summary = evaluate(
        args.manifest,
        args.out,
        checkpoint=args.checkpoint,
        compare=args.compare,
        baselines=_baselines(args.baseline),
        split=args.split,
        batch_size=args.batch_size,
        max_tiles=args.max_tiles,
        device=args.device,
        workers=max(0, args.workers),
        gallery_per_category=max(0, args.gallery),
        progress=not args.quiet,
        log=lambda line: print(f"sarclear evaluate: {line}", file=sys.stderr),
    )
    print(f"{summary['n_tiles']} tiles of split {summary['split']}, methods: {', '.join(summary['methods'])}\n")
    print(overall_markdown(summary["results"]))
    print()
    for name in (METRICS_FILE, PER_IMAGE_FILE, REPORT_MD, REPORT_HTML):
        print(f"wrote {args.out / name}")
    return 0
