"""What each training-step optimisation gives: `bench_train.py` variants, interleaved, as a table.

    python benchmarks/bench_train_ablation.py --rounds 3 --steps 20

Runs the plain baseline, the default (what `sarclear train` does) and the default with one
optimisation switched off at a time, each in its own process, round-robin for `--rounds` rounds so
that a slow spell of a shared machine hits every variant alike. Prints a Markdown table: the
median over rounds of each run's median step time, images/s, and the speed-up over the baseline;
then one JSON line with every run. Run it on idle cores (it takes ~1 minute per round at 256 px).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_train.py")

#: (label, bench_train.py flags). The first is the reference of the speed-up column.
VARIANTS: list[tuple[str, list[str]]] = [
    ("baseline: fp32, eager, NCHW, foreach Adam, nn.Conv2d", ["--baseline"]),
    ("baseline + glibc keeps freed memory", ["--baseline", "--keep-freed-memory"]),
    ("default (sarclear train)", []),
    ("default without matmul for small images", ["--no-matmul-conv"]),
    ("default without channels-last D", ["--no-d-channels-last"]),
    ("default without keeping freed memory", ["--no-keep-freed-memory"]),
    ("default with foreach Adam", ["--adam", "foreach"]),
    ("default in float32", ["--precision", "32"]),
]


def run(flags: list[str], args: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(BENCH), "--size", str(args.size), "--batch-size", str(args.batch_size),
           "--steps", str(args.steps), *flags]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--only", type=int, nargs="*", help="indices into the variant list (default: all)")
    args = p.parse_args()
    variants = [VARIANTS[i] for i in args.only] if args.only else VARIANTS
    runs: dict[str, list[dict]] = {label: [] for label, _ in variants}
    for r in range(args.rounds):
        for label, flags in variants:
            result = run(flags, args)
            runs[label].append(result)
            print(f"round {r + 1}: {label}: {result['step_s_median']:.4f} s/step", file=sys.stderr, flush=True)
    reference = statistics.median(x["step_s_median"] for x in runs[variants[0][0]])
    print(f"| variant ({args.size} px, batch {args.batch_size}) | s/step (median of {args.rounds}) | images/s | vs {variants[0][0].split(':')[0]} |")
    print("| --- | --- | --- | --- |")
    for label, _ in variants:
        step = statistics.median(x["step_s_median"] for x in runs[label])
        print(f"| {label} | {step:.3f} | {args.batch_size / step:.2f} | {reference / step:.2f}x |")
    print(json.dumps({label: [{k: x[k] for k in ("step_s_median", "step_s_min", "images_per_s", "peak_rss_mb", "loadavg_1min")}
                              for x in results] for label, results in runs.items()}))


if __name__ == "__main__":
    main()
