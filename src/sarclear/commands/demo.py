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

    report = run_demo(args.out, quick=args.quick, seed=args.seed)
    print(report)
    return 0
