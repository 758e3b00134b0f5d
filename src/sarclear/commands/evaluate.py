"""`sarclear evaluate`: score checkpoints, adapt fits and baselines on a manifest split; write the reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sarclear.data.manifest import SPLITS
from sarclear.errors import ConfigError
from sarclear.evaluate.adapt_defaults import DEFAULT_ADAPT_STEPS
from sarclear.inference.defaults import DEFAULT_NORM_MODE, DEFAULT_SAMPLES, NORM_MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="generator file, checkpoint folder or run folder (best, else last)")
    parser.add_argument("--manifest", type=Path, required=True, help="manifest.csv written by `sarclear curate` (or by hand)")
    parser.add_argument("--out", type=Path, required=True, help="output folder: metrics.json, per_image.csv, report.md/html")
    parser.add_argument("--split", default="test", choices=("all", *SPLITS), help="manifest split to score (default: test)")
    parser.add_argument(
        "--baseline", action="append", metavar="NAME",
        help="baseline(s) in the same table, repeatable or comma-separated: identity (cloudy input as prediction; the default), "
        "mean-fill (the tile's mean clear colour in the cloud mask), biharmonic (scikit-image inpainting of the mask), push-pull (the mask graded in from its surroundings: what adapt's model starts from), or none",
    )
    parser.add_argument(
        "--compare", nargs="+", action="extend", default=[], type=Path, metavar="CKPT",
        help="other checkpoint(s) to score in the same table (e.g. a model trained without SAR)",
    )
    adapt = parser.add_argument_group("adapt fits (sarclear adapt on every tile, scored against its clear target)")
    adapt.add_argument(
        "--adapt", nargs="?", const="sar", metavar="VARIANTS",
        help="fit sarclear adapt to each tile inside evaluate's cloud mask: sar (the fusion fit; the default), no-sar "
        "(optical-only), or sar,no-sar (both); with --checkpoint, the fit fine-tunes it",
    )  # fmt: skip
    adapt.add_argument("--adapt-steps", type=int, default=DEFAULT_ADAPT_STEPS, metavar="N",
                       help=f"training steps per tile (default {DEFAULT_ADAPT_STEPS}; seeded by --seed, so reproducible)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass (default: 4)")
    parser.add_argument("--max-tiles", type=int, help="score only the first N tiles of the split")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes reading tiles (default: 2)")
    parser.add_argument("--gallery", type=int, default=2, metavar="K", help="gallery tiles per best/median/worst (default: 2)")
    engine = parser.add_argument_group("inference engine (the same options and defaults as sarclear predict)")
    engine.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto", help="as predict (auto: bf16 where native)")
    engine.add_argument("--norm-mode", choices=NORM_MODES, default=DEFAULT_NORM_MODE, help=f"batch norm at inference (default {DEFAULT_NORM_MODE}: window for a model trained at batch 1, else running)")
    engine.add_argument("--tile", type=int, help="window size in px (default: the checkpoint's training tile size)")
    engine.add_argument("--overlap", type=int, help="overlap between windows in px (default: as predict)")
    engine.add_argument(
        "--uncertainty", action="store_true",
        help="score the mean of --samples stochastic passes and how well their std ranks the errors (Spearman, plot)",
    )  # fmt: skip
    engine.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N", help=f"passes with --uncertainty (default {DEFAULT_SAMPLES})")
    engine.add_argument("--seed", type=int, default=0, help="seed of the dropout masks with --uncertainty and of the --adapt fits (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _baselines(values: list[str] | None) -> list[str]:
    if values is None:
        return ["identity"]
    names = [v for value in values for v in value.split(",") if v]
    return [] if names == ["none"] else names


def _adapt_variants(value: str | None) -> list[str]:
    return [] if value is None else [v for v in value.split(",") if v]


def run(args: argparse.Namespace) -> int:
    from sarclear.evaluate.adapt_method import AdaptOptions
    from sarclear.evaluate.methods import EngineOptions
    from sarclear.evaluate.report_md import overall_markdown
    from sarclear.evaluate.run import METRICS_FILE, PER_IMAGE_FILE, REPORT_HTML, REPORT_MD, evaluate

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_tiles is not None and args.max_tiles < 1:
        raise ConfigError(f"--max-tiles must be at least 1, got {args.max_tiles}")
    if args.adapt_steps < 1:
        raise ConfigError(f"--adapt-steps must be at least 1, got {args.adapt_steps}")
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
        engine=EngineOptions(
            precision=args.precision, norm=args.norm_mode, tile=args.tile, overlap=args.overlap,
            samples=args.samples if args.uncertainty else 1, seed=args.seed,
        ),
        adapt=_adapt_variants(args.adapt),
        adapt_options=AdaptOptions(steps=args.adapt_steps, seed=args.seed),
        progress=not args.quiet,
        log=lambda line: print(f"sarclear evaluate: {line}", file=sys.stderr),
    )
    skipped = f" ({summary['n_skipped']} skipped: too cloudy for adapt, see metrics.json)" if summary["n_skipped"] else ""
    print(f"{summary['n_tiles']} tiles of split {summary['split']}{skipped}, methods: {', '.join(summary['methods'])}\n")
    print(overall_markdown(summary["results"]))
    if "uncertainty" in summary:
        u = summary["uncertainty"]
        print(f"\nuncertainty ({u['samples']} passes): Spearman {u['spearman']:.3f} between std and |error| over {u['pixels']} px")
    print()
    for name in (METRICS_FILE, PER_IMAGE_FILE, REPORT_MD, REPORT_HTML):
        print(f"wrote {args.out / name}")
    return 0
