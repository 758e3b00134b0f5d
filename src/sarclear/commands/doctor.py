"""`sarclear doctor [--build] [--json]`: check what this installation can do (sarclear.doctor).

Prints one line per check (ok / warn / fail) with the fix under each problem. Exit 0 when nothing
fails (warnings are limits, not errors), 2 when something a command needs is broken, with one line
on stderr naming the first failure and its fix, as every sarclear command reports bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from sarclear.doctor import diagnose, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--build", action="store_true",
                        help="compile the cloud detector's booster now (about 20 CPU-s, once) instead of at first use")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="the checks as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    checks = diagnose(build=args.build, log=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=1))
    else:
        print(render(checks))
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        first = failed[0]
        more = f" ({len(failed) - 1} more above)" if len(failed) > 1 else ""
        print(f"sarclear doctor: {first.name}: {first.detail}; fix: {first.fix}{more}", file=sys.stderr)
        return 2
    return 0
