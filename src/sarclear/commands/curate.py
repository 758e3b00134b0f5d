"""`sarclear curate ROOT --out DIR`: parse flags, call `sarclear.curate.run.curate`, print one line."""

from __future__ import annotations

import argparse
from pathlib import Path

from sarclear.curate import rules
from sarclear.curate.measure import CLOUD_METHODS, MeasureSettings
from sarclear.curate.merge import merge
from sarclear.curate.run import curate
from sarclear.curate.shard import parse_shard
from sarclear.data import s2cloudless_fast
from sarclear.data.clouds import s2cloudless_available
from sarclear.data.normalize import DISPLAY_MAX_DN
from sarclear.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "root", type=Path, nargs="?", help="SEN12MS-CR root (official or flattened layout); only read, never written"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (not inside ROOT's triplet folders)")
    parser.add_argument("--workers", type=int, default=None, help="measuring processes (default: all cores)")
    parser.add_argument(
        "--season-sigma",
        default="",
        metavar="SEASON=SIGMA,...",
        help="contrast sigma thresholds per season, merged with the defaults "
        "spring=6.5,summer=10,fall=6.5,winter=3,default=6.5 (default = ROI sets of other names)",
    )
    # Rule thresholds: (flag, default, help). Each is recorded in manifest.json and summary.md.
    for flag, default, text in (
        ("--min-sar-std", rules.DEFAULT_MIN_SAR_STD_DB, "dB; reject VV or VH std below"),
        ("--max-target-cloud", rules.DEFAULT_MAX_TARGET_CLOUD_PCT, "percent; reject clear targets with more cloud"),
        ("--max-nodata-frac", rules.DEFAULT_MAX_NODATA_FRAC, "reject above this fraction of fill pixels in any file"),
        ("--max-nonfinite-frac", rules.DEFAULT_MAX_NONFINITE_FRAC, "reject above this fraction of NaN/inf values (0: any)"),
    ):
        parser.add_argument(flag, type=float, default=default, help=f"{text} (default %(default)s)")
    parser.add_argument(
        "--cloud-method",
        choices=CLOUD_METHODS,
        default="s2cloudless",
        help="cloud detector: s2cloudless (its model compiled, same probabilities; s2cloudless itself when the "
        "compiled path is not installed), s2cloudless-reference (s2cloudless itself), spectral (Fmask's tests "
        "without the thermal band), brightness (RGB alone), or none (no cloud cover, no cloudy_target rule). "
        "Files without the 13 L1C bands get the spectral test (L2A) or the brightness test (RGB)",
    )
    parser.add_argument(
        "--display-max-dn",
        type=float,
        default=DISPLAY_MAX_DN,
        help="8-bit rendering stretch for the contrast sigma: DN [0, this] -> [0, 255] (default %(default)s)",
    )
    parser.add_argument("--cache", type=Path, default=None, help="statistics cache file (default DIR/stats_cache.sqlite)")
    parser.add_argument("--no-cache", action="store_true", help="measure everything, do not read or write the cache")
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="curate only shard I of N (0 <= I < N; a stable split by sample id) into its own --out folder, "
        "for a cluster job array; then merge the N folders with --merge",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        metavar="DIR",
        help="merge the --out folders of all N shards into --out (no ROOT): the manifest, summary and figures of one run",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _settings(args: argparse.Namespace) -> MeasureSettings:
    if not args.display_max_dn > 0:
        raise ConfigError(f"--display-max-dn must be positive, got {args.display_max_dn}")
    if args.cloud_method == "s2cloudless" and s2cloudless_fast.unavailable_reason() is not None and not s2cloudless_available():
        raise ConfigError("--cloud-method s2cloudless: the s2cloudless package cannot be imported; install it or use spectral")
    return MeasureSettings(display_max_dn=args.display_max_dn, cloud_method=args.cloud_method)


def _thresholds(args: argparse.Namespace) -> rules.Thresholds:
    for flag, value in (
        ("--min-sar-std", args.min_sar_std),
        ("--max-target-cloud", args.max_target_cloud),
        ("--max-nodata-frac", args.max_nodata_frac),
        ("--max-nonfinite-frac", args.max_nonfinite_frac),
    ):
        if not value >= 0:
            raise ConfigError(f"{flag} must be >= 0, got {value}")
    return rules.Thresholds(
        season_sigma=rules.parse_season_sigma(args.season_sigma),
        min_sar_std=args.min_sar_std,
        max_nonfinite_frac=args.max_nonfinite_frac,
        max_nodata_frac=args.max_nodata_frac,
        max_target_cloud=None if args.cloud_method == "none" else args.max_target_cloud,
    )


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.merge is not None:
        if args.root is not None or args.shard is not None:
            raise ConfigError("--merge takes the shards' folders only: no ROOT and no --shard (sarclear curate --merge DIR_0 DIR_1 ... --out DIR)")
        print(merge(args.merge, args.out).one_line())
        return 0
    if args.root is None:
        raise ConfigError("curate needs ROOT (the dataset folder), or --merge DIR_0 DIR_1 ... to merge shards")
    shard = parse_shard(args.shard) if args.shard is not None else None
    if shard is not None and args.cache is not None:
        raise ConfigError("--cache with --shard: each shard keeps its cache in its own --out folder, so that no two jobs write one file")
    result = curate(
        args.root,
        args.out,
        thresholds=_thresholds(args),
        settings=_settings(args),
        workers=args.workers,
        cache_path=None if args.no_cache else (args.cache or "default"),
        progress=not args.quiet,
        shard=shard,
    )
    print(result.one_line())
    return 0
