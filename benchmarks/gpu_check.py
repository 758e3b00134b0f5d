"""The prepared GPU check: everything sarclear does on CUDA, run once, one JSON summary.

    bash benchmarks/gpu_check.sh [OUT_DIR] [--tiny] [--budget S] [--parts a,b] [--workdir DIR]

Writes OUT_DIR/gpu_check.json (rewritten after every part) and OUT_DIR/gpu_check.log (each part's
output, its end kept). Parts, in order (a part whose needs are missing is skipped, and says why):
env and wheel install; the CUDA tests (`pytest -m cuda`); the rest of the test suite with CUDA
hidden, in the background while synthetic data is made (`sarclear synth`, `sarclear curate`);
training on CUDA in fp16 + GradScaler and in bf16, each continued with `--resume`; `torchrun
--nproc_per_node=1` of `sarclear train`, and an NCCL DDP + SyncBatchNorm run (`gpu_ddp.py`);
`bench_train.py` variants against the plain fp32 eager step in the same run; the DataLoader's
triplets/s from GeoTIFFs and from a pack (`gpu_loader.py --pack`); `bench_predict.py` on whole
scenes; last, informative only, the whole suite with the GPU visible. `--budget` bounds the whole
check (default 450 s: the GPU machine gives a command 10 minutes and a session 15); parts that no
longer fit are skipped, so what matters most runs first.

On a machine without CUDA the CUDA parts are skipped and the sizes are the `--tiny` ones (32 px,
ngf 4), so a CPU test keeps the script from rotting (tests/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gpu_runner import Runner, pytest_counts

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WHEELS = ROOT / ".gpu-wheels"
#: NVIDIA H200 bf16 tensor-core peak without sparsity: the datasheet's 1,979 TFLOP/s is with 2:4
#: sparsity, dense is half (989.5). Utilisation figures are divided by this unless --peak-tflops.
H200_BF16_DENSE_TFLOPS = 989.5
#: The seed recipe (configs/seed.yaml): 200 epochs of the 4,464 curated training triplets at 256 px.
SEED_IMAGES = 200 * 4464


@dataclass(frozen=True)
class Sizes:
    """How big each part is: the GPU run's, or the tiny CPU one's."""

    size: int
    ngf: int
    scenes: int
    patches: int
    seasons: str
    train_steps: int  # the first run; --resume continues to twice as many
    bench_steps: int
    bench_warmup: int
    large_batches: tuple[int, ...]
    compile_batches: tuple[int, ...]
    loader_batches: int
    predict_sizes: tuple[int, ...]
    predict_batch: int


FULL = Sizes(256, 64, 3, 8, "summer,winter", 20, 20, 5, (8, 32), (1, 32), 300, (8192, 10980), 16)
TINY = Sizes(32, 4, 3, 2, "summer", 2, 2, 1, (), (), 4, (384,), 8)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", type=Path, default=None, help="output folder (default: $OUT, else ./gpu-check-out)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes (always so without CUDA)")
    p.add_argument("--budget", type=float, help="seconds for the whole check (default 450; tiny: 1200)")
    p.add_argument("--parts", help="comma-separated part-name prefixes to run (default: all)")
    p.add_argument("--workdir", type=Path, help="scratch folder for data and runs (default: a temporary folder, removed at the end)")
    p.add_argument("--peak-tflops", type=float, default=H200_BF16_DENSE_TFLOPS, help="GPU peak for utilisation")
    return p.parse_args()


#: What the parts need, found out in one child process (each import of torch costs seconds).
PROBE = """
import importlib, json, torch
def imports(name):
    try:
        importlib.import_module(name)
        return True
    except Exception:
        return False
print(json.dumps({"cuda": torch.cuda.is_available(), "rasterio": imports("rasterio"), "s2cloudless": imports("s2cloudless")}))
"""


def probe(python_env: dict[str, str]) -> dict[str, bool]:
    """Whether CUDA, rasterio and s2cloudless are usable in the parts' environment."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env={**os.environ, **python_env}, timeout=120)
    if done.returncode != 0:
        return {"cuda": False, "rasterio": False, "s2cloudless": False}
    return json.loads(done.stdout.strip().splitlines()[-1])


def install_wheels(runner: Runner, site: Path) -> None:
    """Install the carried wheels into `site` when they are for this Python and rasterio is missing."""
    listing = WHEELS / "WHEELS.txt"
    if runner.have["rasterio"]:
        runner.skip("wheels", "rasterio already imports")
        return
    if not listing.is_file():
        runner.skip("wheels", f"no {WHEELS.name}/WHEELS.txt: run benchmarks/gpu_wheels.sh and carry {WHEELS.name}")
        return
    meta = dict(line.split("=", 1) for line in listing.read_text().splitlines() if "=" in line)
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    if meta.get("python") != mine:
        runner.skip("wheels", f"the wheels are for Python {meta.get('python')}, this is {mine}: rasterio parts are skipped")
        return
    wheels = sorted(str(p) for p in WHEELS.glob("*.whl"))
    runner.run("wheels", [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                          "--no-cache-dir", "--target", str(site), *wheels], timeout=120)  # fmt: skip
    runner.parts["wheels"]["tiers"] = meta.get("tiers", "")


def metrics_rows(run: Path) -> list[dict[str, str]]:
    path = run / "metrics.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("G_l1")]


def judge_training(run: Path, steps: int):
    """A run passes when metrics.csv reaches `steps` with every logged loss finite and a checkpoint exists."""

    def judge(record: dict[str, Any], _: str) -> str | None:
        rows = metrics_rows(run)
        losses = [float(row[k]) for row in rows for k in ("G_gan", "G_l1", "D")]
        record["last_step"] = int(rows[-1]["step"]) if rows else None
        record["losses_finite"] = bool(losses) and all(math.isfinite(v) for v in losses)
        record["images_per_s"] = [round(float(r["images_per_s"]), 2) for r in rows if r.get("images_per_s")]
        record["last_losses"] = {k: round(float(rows[-1][k]), 4) for k in ("G_gan", "G_l1", "D")} if rows else None
        if not record["losses_finite"]:
            return "a logged loss is not finite (or none was logged)"
        if record["last_step"] != steps:
            return f"metrics.csv ends at step {record['last_step']}, expected {steps}"
        if not (run / "checkpoints" / "last").is_dir():
            return "no checkpoints/last"
        return None

    return judge


def scaler_state(run: Path) -> dict[str, Any] | None:
    """The grad scaler's state in the run's last checkpoint (loaded weights-only), or None."""
    import torch

    path = run / "checkpoints" / "last" / "state.pt"
    if not path.is_file():
        return None
    scaler = torch.load(path, map_location="cpu", weights_only=True).get("scaler") or None
    return {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in scaler.items()} if scaler else None


def judge_scaler_resume(run: Path, steps: int, before: dict[str, Any] | None, resumed_steps: int):
    """`judge_training`, and the float16 grad scaler continued from the checkpoint: with its scale
    unchanged (no overflow), its growth tracker must have advanced by exactly the resumed steps;
    a scaler restarted at its initial state would show the run's steps only."""
    trained = judge_training(run, steps)

    def judge(record: dict[str, Any], output: str) -> str | None:
        failed = trained(record, output)
        after = scaler_state(run)
        record["scaler_before"], record["scaler_after"] = before, after
        if failed or before is None:
            return failed or "no grad-scaler state after the first run"
        if after is None:
            return "no grad-scaler state after --resume"
        if after["scale"] == before["scale"] and after["_growth_tracker"] != before["_growth_tracker"] + resumed_steps:
            return f"the grad scaler did not continue on --resume: growth tracker {before['_growth_tracker']:g} -> {after['_growth_tracker']:g} over {resumed_steps} steps"
        return None

    return judge


def judge_json(key: str):
    def judge(record: dict[str, Any], _: str) -> str | None:
        results = record["results"]
        if not results or not all(r.get(key) for r in results):
            return f"no result with {key}"
        return None

    return judge


def needs_s2cloudless(path: Path) -> set[str]:
    """Test ids listed in `path` (one a line, `#` comments), the tests that need s2cloudless."""
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def judge_pytest(needs_s2cloudless: set[str], have_s2cloudless: bool):
    """Passed when pytest passed, or when every failure is a test known to need s2cloudless while
    s2cloudless is missing (the wheels for it did not fit beside rasterio)."""

    def judge(record: dict[str, Any], output: str) -> str | None:
        record["pytest"] = counts = pytest_counts(output)
        if record["rc"] in (0, 5):  # 5: every test was deselected or skipped
            return None
        unexplained = [t for t in counts["failures"] if have_s2cloudless or t not in needs_s2cloudless]
        if not counts["failures"] or unexplained:
            return f"{counts.get('failed', 0)} failed, {counts.get('error', 0)} errors: {', '.join(unexplained[:20])}"
        record["expected_failures"] = "every failure is a test that needs s2cloudless, which this machine lacks"
        return None

    return judge


def train_command(sizes: Sizes, manifest: Path, run: Path, precision: str, steps: int, resume: bool, workers: int) -> list[str]:
    flags = ["--out", str(run), "--max-steps", str(steps), "--quiet"]
    if resume:
        return [sys.executable, "-m", "sarclear", "train", "--resume", *flags]
    return [sys.executable, "-m", "sarclear", "train", "--manifest", str(manifest), *flags, "--size", str(sizes.size),
            "--ngf", str(sizes.ngf), "--ndf", str(sizes.ngf), "--precision", precision, "--workers", str(workers),
            "--log-every", str(max(1, steps // 4)), "--val-tiles", "2"]  # fmt: skip


def bench_train_variants(sizes: Sizes, cuda: bool) -> list[tuple[str, list[str], float]]:
    """(name, flags, timeout): the plain fp32 eager step first, at every batch size it is compared at."""
    common = ["--size", str(sizes.size), "--ngf", str(sizes.ngf), "--ndf", str(sizes.ngf), "--steps", str(sizes.bench_steps),
              "--warmup", str(sizes.bench_warmup)]  # fmt: skip
    nhwc = ["--channels-last", "--d-channels-last"]
    variants: list[tuple[str, list[str], float]] = [("fp32_eager_b1", ["--baseline"], 90), ("auto_b1", [], 90)]
    if cuda:
        variants += [("bf16_nhwc_b1", ["--precision", "bf16", *nhwc], 90), ("fp16_b1", ["--precision", "16"], 90)]
        for batch in sizes.large_batches:
            b = ["--batch-size", str(batch)]
            variants += [(f"fp32_eager_b{batch}", ["--baseline", *b], 90), (f"bf16_b{batch}", ["--precision", "bf16", *b], 90),
                         (f"bf16_nhwc_b{batch}", ["--precision", "bf16", *nhwc, *b], 90)]  # fmt: skip
        for batch in sizes.compile_batches:
            variants.append((f"bf16_compile_nhwc_b{batch}", ["--precision", "bf16", "--compile", *nhwc, "--batch-size", str(batch)], 200))
            if batch == 1:  # CUDA graphs: at batch 1 the step is bound by kernel launches, not by the GPU
                variants.append(("bf16_compile_cudagraphs_nhwc_b1",
                                 ["--precision", "bf16", "--compile", "--compile-mode", "reduce-overhead", *nhwc], 200))  # fmt: skip
    return [(name, common + flags, timeout) for name, flags, timeout in variants]


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures the issue's goals are about, computed from the parts' own results."""
    parts = summary["parts"]
    bench = {name[len("bench_train_"):]: rec["results"][-1] for name, rec in parts.items()
             if name.startswith("bench_train_") and rec.get("status") == "passed" and rec.get("results")}  # fmt: skip
    out: dict[str, Any] = {"peak_tflops_used": summary["peak_tflops_used"]}
    if bench:
        rates = {name: r["images_per_s"] for name, r in bench.items()}
        out["images_per_s"] = rates
        b1 = {n: v for n, v in rates.items() if n.endswith("_b1")}
        base = rates.get("fp32_eager_b1")
        if b1:
            best = max(b1, key=b1.get)
            out["best_b1"] = {"variant": best, "images_per_s": b1[best], "seed_recipe_hours": round(SEED_IMAGES / b1[best] / 3600, 2)}
            if base:
                out["best_b1"]["speedup_vs_fp32_eager_b1"] = round(b1[best] / base, 2)
        best_any = max(rates, key=rates.get)
        out["best_any_batch"] = {"variant": best_any, "images_per_s": rates[best_any],
                                 "seed_images_hours": round(SEED_IMAGES / rates[best_any] / 3600, 2)}  # fmt: skip
        out["speedup_vs_fp32_eager_same_batch"] = {
            n: round(v / rates[f"fp32_eager_{n.rsplit('_', 1)[1]}"], 2)
            for n, v in rates.items() if f"fp32_eager_{n.rsplit('_', 1)[1]}" in rates and not n.startswith("fp32_eager")
        }  # fmt: skip
        out["utilisation"] = {n: r.get("utilisation") for n, r in bench.items()}
        out["peak_cuda_mb_train"] = max((r.get("peak_cuda_mb") or 0 for r in bench.values()), default=None)
    loaders = parts.get("loader", {}).get("results") or []
    for source, prefix in (("geotiff", "loader"), ("pack", "pack_loader")):
        loader = [r for r in loaders if r.get("source", "geotiff") == source]
        if not loader:
            continue
        out[f"{prefix}_triplets_per_s"] = {str(r["workers"]): r["triplets_per_s"] for r in loader}
        step = out.get("best_b1", {}).get("images_per_s")
        fastest = max((r["triplets_per_s"] or 0) for r in loader)
        if step:
            out[f"{prefix}_keeps_up_with_best_b1"] = fastest >= step
    predict = parts.get("bench_predict", {}).get("results") or []
    if predict:
        out["predict"] = {str(r["size"]): {"mp_per_s": r["mp_per_s"], "seconds": r["seconds"], "peak_cuda_mb": r.get("peak_cuda_mb")}
                          for r in predict}  # fmt: skip
    return out


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` kills the parts still running
    check(parse())


def check(args: argparse.Namespace) -> None:
    print(f"[gpu-check] python {platform.python_version()} ({sys.executable})", flush=True)
    out = args.out or Path(os.environ.get("OUT") or ROOT / "gpu-check-out")
    out.mkdir(parents=True, exist_ok=True)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sarclear-gpu-check-"))
    temporary = args.workdir is None
    work.mkdir(parents=True, exist_ok=True)
    child_env = {"PYTHONPATH": os.pathsep.join([str(work / "site"), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                 "PYTHONUNBUFFERED": "1"}  # fmt: skip
    found = probe(child_env)
    cuda = found["cuda"]
    tiny = args.tiny or not cuda
    sizes = TINY if tiny else FULL
    # A CPU machine has no device lease to fit in, but may be slow and shared: generous limits there.
    budget = args.budget or (1200.0 if tiny else 450.0)
    summary: dict[str, Any] = {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
        "mode": "tiny" if tiny else "full", "sizes": asdict(sizes), "budget_s": budget, "cuda": cuda,
        "peak_tflops_used": args.peak_tflops, "workdir": str(work),
    }  # fmt: skip
    runner = Runner(out / "gpu_check.json", out / "gpu_check.log", work / "logs", budget, summary, timeout_scale=4.0 if tiny else 1.0)
    runner.have = dict(found)
    try:
        run_parts(args, runner, summary, work, child_env, cuda, tiny, sizes)
    finally:
        runner.close()
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: summary[k] for k in ("ok", "passed", "failed", "skipped", "seconds", "headline")}, indent=1), flush=True)
    raise SystemExit(0 if summary["ok"] else 1)


def run_parts(args: argparse.Namespace, runner: Runner, summary: dict[str, Any], work: Path, child_env: dict[str, str], cuda: bool,
              tiny: bool, sizes: Sizes) -> None:  # fmt: skip
    """Every part, in order of importance; fills `summary` (the runner writes it after each part)."""
    wanted = [w for w in (args.parts or "").split(",") if w]
    selected = (lambda name: any(name.startswith(w) for w in wanted)) if wanted else (lambda name: True)
    site = work / "site"
    started = time.monotonic()

    def run(name: str, argv: list[str], **kw: Any) -> dict[str, Any] | None:
        return runner.run(name, argv, env=child_env, cwd=ROOT, **kw) if selected(name) else None

    install_wheels(runner, site)
    if runner.parts["wheels"]["status"] == "passed":
        runner.have = {**probe(child_env), "cuda": cuda}
    summary["imports"] = dict(runner.have)
    env_record = run("env", [sys.executable, str(BENCH / "gpu_env.py")], timeout=60, judge=judge_json("torch"))
    if env_record and env_record.get("results"):
        summary["machine"] = env_record["results"][-1]
    # What sarclear itself makes of the machine: device, precision `auto`, GDAL drivers, PROJ, the cloud booster.
    run("doctor", [sys.executable, "-m", "sarclear", "doctor", "--build"], timeout=120, needs=("rasterio",))

    cpus = os.cpu_count() or 1
    workers = 0 if tiny else min(8, max(1, cpus - 4))
    needs_s2c = needs_s2cloudless(BENCH / "gpu_needs_s2cloudless.txt")
    run("tests_cuda", [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "-m", "cuda", "tests"],
        timeout=150, needs=("cuda", "rasterio"), judge=judge_pytest(needs_s2c, runner.have["s2cloudless"]))  # fmt: skip
    if tiny and selected("tests_cpu"):
        runner.skip("tests_cpu", "--tiny: the test suite is what runs this mode")
    elif selected("tests_cpu"):  # the CPU tests, CUDA hidden, beside the data preparation and training runs
        runner.start("tests_cpu", [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "-m", "not cuda", "tests"],
                     timeout=300, needs=("rasterio",), env={**child_env, "CUDA_VISIBLE_DEVICES": ""}, cwd=ROOT,
                     judge=judge_pytest(needs_s2c, runner.have["s2cloudless"]))  # fmt: skip

    data, curated = work / "synth", work / "curated"
    manifest = curated / "manifest.csv"
    run("synth", [sys.executable, "-m", "sarclear", "synth", str(data), "--scenes", str(sizes.scenes), "--patches", str(sizes.patches),
                  "--size", str(sizes.size), "--seasons", sizes.seasons, "--quiet"], timeout=120, needs=("rasterio",))  # fmt: skip
    run("curate", [sys.executable, "-m", "sarclear", "curate", str(data), "--out", str(curated), "--workers", str(max(1, min(8, cpus))),
                   "--quiet"], timeout=120, needs=("rasterio",), judge=lambda r, o: None if manifest.is_file() else "no manifest.csv")  # fmt: skip
    scenes = work / "scenes"
    if selected("bench_predict"):  # one writer per scene, in the background: writing is CPU work, and not timed
        for size in sizes.predict_sizes:
            runner.start(f"predict_scene_{size}", [sys.executable, str(BENCH / "bench_predict.py"), "--scenes", str(scenes), "--write-only",
                                                   "--sizes", str(size)], timeout=240, needs=("rasterio",), env=child_env, cwd=ROOT)  # fmt: skip

    n = sizes.train_steps
    for precision, label in (("16", "fp16"), ("bf16", "bf16")):
        run_dir = work / f"train_{label}"
        needs = ("rasterio", "cuda") if precision == "16" else ("rasterio",)
        first = run(f"train_{label}", train_command(sizes, manifest, run_dir, precision, n, False, workers), timeout=150, needs=needs,
                    judge=judge_training(run_dir, n))  # fmt: skip
        if first and first["status"] == "passed":
            judge = judge_scaler_resume(run_dir, 2 * n, scaler_state(run_dir), n) if precision == "16" else judge_training(run_dir, 2 * n)
            run(f"train_{label}_resume", train_command(sizes, manifest, run_dir, precision, 2 * n, True, workers), timeout=150,
                needs=needs, judge=judge)  # fmt: skip
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    run_dir = work / "train_torchrun"
    run("torchrun_train", [*torchrun, "-m", "sarclear", "train", *train_command(sizes, manifest, run_dir, "auto", n, False, workers)[4:]],
        timeout=150, needs=("rasterio",), judge=judge_training(run_dir, n))  # fmt: skip
    run("torchrun_nccl_ddp", [*torchrun, str(BENCH / "gpu_ddp.py"), "--size", str(sizes.size), "--ngf", str(sizes.ngf)], timeout=120,
        needs=("cuda", "rasterio"), judge=judge_json("ok"))  # fmt: skip
    tests_cpu = runner.join("tests_cpu")  # benchmarks below are timed: nothing else may run beside them
    if tests_cpu and tests_cpu.get("status") == "timeout":
        print("[gpu-check] tests_cpu ran out of time; see gpu_check.log", flush=True)
    for size in sizes.predict_sizes:
        runner.join(f"predict_scene_{size}")

    peak = ["--peak-tflops", str(args.peak_tflops)] if cuda else []

    def bench_train(name: str, flags: list[str], timeout: float) -> None:
        # CUDA graphs are an experiment here (sarclear train does not use them yet): informative, not counted.
        run(f"bench_train_{name}", [sys.executable, str(BENCH / "bench_train.py"), *flags, *peak], timeout=timeout, needs=("rasterio",),
            judge=judge_json("images_per_s"), informative="cudagraphs" in name)  # fmt: skip

    # Order: what the goals need first (batch 1, the seed recipe), then data and prediction, then
    # larger batches, torch.compile last (long compile times, the least certain to fit).
    variants = bench_train_variants(sizes, cuda)
    first = [v for v in variants if v[0].endswith("_b1") and "--compile" not in v[1]]
    for variant in first:
        bench_train(*variant)
    loader_workers = sorted({0, *(() if tiny else (4, workers, max(1, cpus - 2)))})
    run("loader", [sys.executable, str(BENCH / "gpu_loader.py"), "--manifest", str(manifest), "--size", str(sizes.size),
                   "--batches", str(sizes.loader_batches), "--workers", *map(str, loader_workers), "--pack"], timeout=180,
        needs=("rasterio",), judge=judge_json("triplets_per_s"))  # fmt: skip
    predict = [sys.executable, str(BENCH / "bench_predict.py"), "--scenes", str(scenes), "--sizes", *map(str, sizes.predict_sizes),
               "--batch-size", str(sizes.predict_batch), "--ngf", str(sizes.ngf), "--device", "cuda" if cuda else "cpu"]  # fmt: skip
    run("bench_predict", predict, timeout=300, needs=("rasterio",), judge=judge_json("mp_per_s"))
    rest = [v for v in variants if v not in first]
    for variant in sorted(rest, key=lambda v: "--compile" in v[1]):
        bench_train(*variant)
    run("tests_all_cuda_visible", [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "tests"], timeout=300,
        needs=("cuda", "rasterio"), informative=True, judge=judge_pytest(needs_s2c, runner.have["s2cloudless"]))  # fmt: skip

    summary["headline"] = headline(summary)
    counted = [p for p in summary["parts"].values() if not p.get("informative")]
    summary["passed"] = sum(p["status"] == "passed" for p in counted)
    summary["failed"] = [name for name, p in summary["parts"].items() if p["status"] in ("failed", "timeout") and not p.get("informative")]
    summary["skipped"] = {name: p["reason"] for name, p in summary["parts"].items() if p["status"] == "skipped"}
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["ok"] = not summary["failed"]
    runner.write()


if __name__ == "__main__":
    main()
