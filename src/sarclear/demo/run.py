"""Run the demo's steps through the real CLI, timing each, then write the report page."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sarclear.demo.plan import FULL, QUICK, DemoBudget, Step, plan_steps
from sarclear.errors import SarclearInputError


def _run_step(index: int, total: int, step: Step) -> float:
    from sarclear.cli import main  # the same entry point as the `sarclear` command

    print(f"\n[{index}/{total}] {step.title}\n      $ sarclear {' '.join(step.argv)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    code = main(step.argv)
    if code != 0:
        raise SarclearInputError(f"demo step `sarclear {step.argv[0]}` failed with exit code {code} (see above)")
    return time.perf_counter() - start


def run_demo(out: Path, *, quick: bool = False, seed: int = 0) -> Path:
    """Every step in order, then `out/report.html`; returns the report's path."""
    from sarclear.demo.page import write_demo_report

    budget: DemoBudget = QUICK if quick else FULL
    out = Path(out)
    steps = plan_steps(out, budget, seed=seed)
    timings: list[tuple[str, float]] = []
    start = time.perf_counter()
    for index, step in enumerate(steps, start=1):
        timings.append((step.argv[0] + ": " + step.title, _run_step(index, len(steps), step)))
    report = write_demo_report(out, timings=timings, budget=budget)
    minutes = (time.perf_counter() - start) / 60
    print(f"\nsarclear demo: done in {minutes:.1f} min. Open the report: {report}", file=sys.stderr)
    return report
