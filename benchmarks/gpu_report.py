"""docs/gpu.md's figures from a GPU check's JSON: Markdown tables, every number copied, none typed.

    python benchmarks/gpu_report.py OUT/gpu_check.json > gpu_tables.md

The GPU machine is lent for minutes; what it measured goes into docs/gpu.md afterwards. Copying
dozens of figures by hand invites slips, so this prints the tables from `gpu_check.json`
(`benchmarks/gpu_check.py`): the machine and versions, every part's status, the training step's
images/s against the plain fp32 eager step at the same batch size, the data loader, prediction,
and the issue's goals, each marked reached or not with its number. A check run in the CPU mode
(`--tiny`) is labelled a rehearsal: its figures are not GPU figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: The issue's goals (issue 15).
SEED_HOURS_GOAL = 1.0
SPEEDUP_GOAL = 3.0
PREDICT_GOAL_MP_S = 10.0


def cell(value: Any) -> str:
    """A table cell: three significant figures below 100, whole numbers above; "-" for nothing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(value: float | None, goal: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "not measured"
    return "reached" if (value >= goal if higher_is_better else value <= goal) else "**not reached**"


def report(summary: dict[str, Any]) -> str:
    parts, head = summary.get("parts", {}), summary.get("headline", {})
    def count(key: str) -> int:
        value = summary.get(key, 0)
        return value if isinstance(value, int) else len(value)

    out = [f"# GPU check of {summary.get('started_utc', '?')}: {count('passed')} parts passed, {count('failed')} failed, "
           f"{count('skipped')} skipped, {summary.get('seconds', 0):.0f} s"]
    if summary.get("mode") != "full" or not summary.get("cuda"):
        out.append("\n**A rehearsal (CPU mode, tiny sizes): none of these figures is a GPU figure.**")
    machine = summary.get("machine", {})
    out += ["\n## Machine", table(["what", "value"], [[key, value] for key, value in machine.items()])]
    rows = [[name, rec.get("status"), rec.get("seconds"), rec.get("reason") or ("informative" if rec.get("informative") else "")]
            for name, rec in parts.items()]
    out += ["\n## Parts", table(["part", "status", "seconds", "note"], rows)]
    bench = {name[len("bench_train_"):]: rec["results"][-1] for name, rec in parts.items()
             if name.startswith("bench_train_") and rec.get("status") == "passed" and rec.get("results")}
    if bench:
        speedups = head.get("speedup_vs_fp32_eager_same_batch", {})
        rows = [[name, r.get("batch_size"), r.get("precision"), r.get("compile_mode") or ("yes" if r.get("compile") else "no"),
                 "yes" if r.get("channels_last") else "no", r.get("images_per_s"), speedups.get(name, 1.0 if name.startswith("fp32_eager") else None),
                 r.get("utilisation"), r.get("peak_cuda_mb")] for name, r in bench.items()]
        out += ["\n## Training step (`bench_train.py`, random tensors, default model unless the sizes say otherwise)",
                table(["variant", "batch", "precision", "compile", "channels-last", "images/s", "x fp32 eager, same batch",
                       "utilisation of peak", "peak GPU MB"], rows)]
    loaders = (parts.get("loader") or {}).get("results") or []
    if loaders:
        rows = [[r.get("source", "geotiff"), r.get("workers"), r.get("triplets_per_s"), r.get("cpu_s_per_triplet"), r.get("pin_memory")]
                for r in loaders]
        out += ["\n## Data loading (`gpu_loader.py`: DataLoader with random crops and flips, copies to the device)",
                table(["source", "workers", "triplets/s", "CPU s per triplet", "pinned"], rows)]
    predicted = (parts.get("bench_predict") or {}).get("results") or []
    if predicted:
        rows = [[f"{r.get('size')} x {r.get('size')}", r.get("mp_per_s"), r.get("seconds"), r.get("steady_mp_per_s"), r.get("peak_cuda_mb"),
                 r.get("batch_size"), r.get("precision")] for r in predicted]
        out += ["\n## Prediction (`bench_predict.py`: the whole `sarclear predict` command)",
                table(["scene", "MP/s end to end", "seconds", "MP/s after start-up", "peak GPU MB", "batch", "precision"], rows)]
    best = head.get("best_b1", {})
    hours = best.get("seed_recipe_hours")
    speedup = best.get("speedup_vs_fp32_eager_b1")
    largest = max(head.get("predict", {}).items(), key=lambda item: int(item[0]), default=(None, {}))
    pack_ok = head.get("pack_loader_keeps_up_with_best_b1")
    tiff_ok = head.get("loader_keeps_up_with_best_b1")
    rows = [
        [f"seed recipe (200 epochs x 4,464 triplets) under {SEED_HOURS_GOAL:g} h at batch 1", f"{hours} h ({best.get('variant')}, "
         f"{best.get('images_per_s')} images/s)" if hours is not None else None, verdict(hours, SEED_HOURS_GOAL, higher_is_better=False)],
        [f"at least {SPEEDUP_GOAL:g}x the plain fp32 eager step at batch 1", f"{speedup}x" if speedup is not None else None,
         verdict(speedup, SPEEDUP_GOAL)],
        ["data loading keeps up with the best batch-1 step", f"GeoTIFF: {tiff_ok}, pack: {pack_ok}",
         "reached" if tiff_ok or pack_ok else ("not measured" if tiff_ok is None and pack_ok is None else "**not reached**")],
        [f"whole scene predicted at {PREDICT_GOAL_MP_S:g} MP/s or more end to end ({largest[0]} px)", largest[1].get("mp_per_s"),
         verdict(largest[1].get("mp_per_s"), PREDICT_GOAL_MP_S)],
    ]
    out += ["\n## The issue's goals", table(["goal", "measured", "verdict"], rows)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="gpu_check.json written by benchmarks/gpu_check.sh")
    args = parser.parse_args(argv)
    sys.stdout.write(report(json.loads(args.json.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
