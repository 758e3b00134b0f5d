"""`sarclear demo [--out DIR] [--quick]`: the whole method on synthetic data, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("sarclear-demo"), help="output folder (default ./sarclear-demo)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, about a minute: what the test suite runs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of both models")


def run(args: argparse.Namespace) -> int:
    from sarclear.demo.run import run_demo
    from sarclear.errors import ConfigError

    if args.out.is_dir() and any(args.out.iterdir()):
        # its steps refuse to write into their own earlier outputs (a dataset, training runs), so say it once, first
        raise ConfigError(f"{args.out}: already holds files (an earlier demo?); delete it, or give --out NEW_FOLDER")

    report = run_demo(args.out, quick=args.quick, seed=args.seed)
    print(report)
    return 0
