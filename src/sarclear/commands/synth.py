"""`sarclear synth OUT`: write a synthetic SEN12MS-CR-like dataset (or, with --scene-size, one large scene)."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from sarclear.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="output folder (official SEN12MS-CR layout + synthetic_truth.csv)")
    parser.add_argument("--scenes", type=int, default=3, help="scenes per season; 3+ gives test, val and train, 2 train and test, 1 train (default 3)")
    parser.add_argument("--patches", type=int, default=8, help="patches (tiles) per scene (default 8)")
    parser.add_argument("--size", type=int, default=256, help="tile size in px at 10 m (default 256, as SEN12MS-CR)")
    parser.add_argument("--seasons", default="summer,winter", help="comma-separated: spring,summer,fall,winter")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed writes the same files")
    parser.add_argument("--bad-fraction", type=float, default=0.1, help="share of tiles with one injected defect")
    parser.add_argument(
        "--scene-size", type=int, default=None, metavar="PX",
        help="instead of a dataset, write one PX x PX scene as OUT/s1.tif, s2_cloudy.tif, s2.tif (first season)",
    )
    parser.add_argument("--bands", type=int, choices=(13, 3), default=13, help="with --scene-size: 13 bands or RGB")
    parser.add_argument(
        "--cloud-cover", type=float, default=None, metavar="PCT", help="with --scene-size: cloud cover in percent"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _seasons(text: str) -> list[str]:
    seasons = [s.strip() for s in text.split(",") if s.strip()]
    if not seasons:
        raise ConfigError("--seasons: give at least one of spring,summer,fall,winter")
    return seasons


def _refuse_existing(out: Path, names: tuple[str, ...] | None = None) -> None:
    """Refuse to write into a folder that already holds data: synth into an existing dataset would
    replace some of its tiles and its truth file and leave the rest, so no manifest made of it
    matches its files any more. `names`: only these files count (a scene's three)."""
    if not out.is_dir():
        return
    held = sorted(p.name for p in out.iterdir() if names is None or p.name in names)
    if held:
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise ConfigError(f"{out}: already holds {shown}; synth writes a new dataset: give a new or empty folder "
                          "(or delete this one first)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from sarclear.data.synthetic import TRUTH_FILE, generate_dataset, write_scene

    seasons = _seasons(args.seasons)
    _refuse_existing(args.out, ("s1.tif", "s2_cloudy.tif", "s2.tif") if args.scene_size is not None else None)
    start = time.perf_counter()
    if args.scene_size is not None:
        cover = None if args.cloud_cover is None else args.cloud_cover / 100.0
        if cover is not None and not 0.0 <= cover <= 1.0:
            raise ConfigError(f"--cloud-cover {args.cloud_cover} is not in [0, 100]")
        paths = write_scene(args.out, args.scene_size, season=seasons[0], seed=args.seed, bands=args.bands,
                            cloud_cover=cover, progress=not args.quiet)
        print(f"wrote a {args.scene_size} x {args.scene_size} px {seasons[0]} scene ({args.bands} bands) to "
              f"{', '.join(str(p) for p in paths.values())} in {time.perf_counter() - start:.1f} s")
        return 0
    tiles = generate_dataset(args.out, scenes=args.scenes, patches=args.patches, size=args.size, seasons=seasons,
                             seed=args.seed, bad_fraction=args.bad_fraction, progress=not args.quiet)
    splits = Counter(t.split for t in tiles)
    bad = sum(1 for t in tiles if t.defect)
    print(f"wrote {len(tiles)} triplets of {args.size} px to {args.out} "
          f"(train {splits['train']}, val {splits['val']}, test {splits['test']}; {bad} with a defect) "
          f"in {time.perf_counter() - start:.1f} s; truth: {args.out / TRUTH_FILE}")
    return 0
