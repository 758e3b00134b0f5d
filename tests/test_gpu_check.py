"""The prepared GPU check runs on a CPU machine too (tiny sizes, CUDA parts skipped), so it cannot
rot between the rare sessions that have a GPU; its runner bounds every part in time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402
import gpu_report  # noqa: E402
from gpu_runner import Runner, pytest_counts  # noqa: E402

#: A selection of parts, to keep the test short: data, training with --resume, a training and a
#: prediction benchmark, and two parts that need CUDA (skipped). The loader and torchrun parts
#: are left to the full tiny run (`bash benchmarks/gpu_check.sh --tiny`).
PARTS = "env,doctor,synth,curate,train_,torchrun_nccl,bench_train_fp32,bench_predict"


def test_tiny_check_runs_on_a_cpu_and_skips_what_needs_cuda(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(out), "--tiny", "--parts", PARTS],
                          capture_output=True, text=True, timeout=600, env=env, check=False)  # fmt: skip
    assert done.stdout.startswith("python "), done.stdout[:200]  # the Python version comes first
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    parts = summary["parts"]
    assert summary["ok"] and summary["mode"] == "tiny" and not summary["cuda"]
    assert summary["machine"]["torch"] and summary["machine"]["python"] == summary["python"]
    for name in ("env", "doctor", "synth", "curate", "train_bf16", "train_bf16_resume", "bench_train_fp32_eager_b1", "bench_predict"):
        assert parts[name]["status"] == "passed", (name, parts[name])
    for name in ("train_fp16", "torchrun_nccl_ddp"):
        assert parts[name] == {"status": "skipped", "reason": "needs cuda", "informative": False}
    assert parts["train_bf16"]["losses_finite"] and parts["train_bf16"]["last_step"] == 2
    assert parts["train_bf16_resume"]["last_step"] == 4  # --resume continued the same run
    headline = summary["headline"]
    assert headline["images_per_s"]["fp32_eager_b1"] > 0
    assert headline["predict"]["384"]["mp_per_s"] > 0
    assert "===== bench_predict: passed" in (out / "gpu_check.log").read_text()
    # docs/gpu.md's tables come from this JSON, numbers copied, a CPU run labelled a rehearsal
    tables = gpu_report.report(summary)
    assert "**A rehearsal (CPU mode, tiny sizes): none of these figures is a GPU figure.**" in tables
    eager = parts["bench_train_fp32_eager_b1"]["results"][-1]["images_per_s"]
    assert f"| fp32_eager_b1 | 1 | 32 | no | no | {gpu_report.cell(eager)} | 1 |" in tables


def runner(tmp_path: Path, budget: float) -> Runner:
    return Runner(tmp_path / "check.json", tmp_path / "check.log", tmp_path / "logs", budget, {})


def test_a_hung_part_is_killed_at_its_limit_and_the_rest_still_runs(tmp_path: Path) -> None:
    check = runner(tmp_path, budget=60)
    hung = check.run("hang", [sys.executable, "-c", "import time; time.sleep(60)"], timeout=1)
    after = check.run("after", [sys.executable, "-c", "print('{\"x\": 1}')"], timeout=30)
    assert hung["status"] == "timeout" and hung["seconds"] < 10
    assert after["status"] == "passed" and after["results"] == [{"x": 1}]
    saved = json.loads((tmp_path / "check.json").read_text())
    assert saved["parts"]["hang"]["status"] == "timeout"  # written after every part


def test_parts_past_the_budget_or_missing_a_need_are_skipped_with_the_reason(tmp_path: Path) -> None:
    check = runner(tmp_path, budget=0)
    check.have = {"cuda": False}
    assert check.run("gpu", ["true"], timeout=5, needs=("cuda",))["reason"] == "needs cuda"
    assert check.run("late", ["true"], timeout=5)["reason"] == "the check's time budget is spent"


def test_pytest_failures_are_excused_only_when_they_need_the_missing_s2cloudless() -> None:
    output = "FAILED tests/test_clouds.py::test_a - ImportError\nERROR tests/test_demo.py::test_b\n1 failed, 9 passed, 1 error in 3.0s\n"
    assert pytest_counts(output) == {"failed": 1, "passed": 9, "error": 1,
                                     "failures": ["tests/test_clouds.py::test_a", "tests/test_demo.py::test_b"]}  # fmt: skip
    known = {"tests/test_clouds.py::test_a", "tests/test_demo.py::test_b"}
    excused: dict = {"rc": 1}
    assert gpu_check.judge_pytest(known, have_s2cloudless=False)(excused, output) is None
    assert "expected_failures" in excused
    assert gpu_check.judge_pytest(known, have_s2cloudless=True)({"rc": 1}, output)  # s2cloudless there: real failures
    assert gpu_check.judge_pytest({"tests/test_clouds.py::test_a"}, have_s2cloudless=False)({"rc": 1}, output)


def test_headline_compares_each_variant_with_the_plain_step_at_its_batch_size() -> None:
    def bench(rate: float) -> dict:
        return {"status": "passed", "results": [{"images_per_s": rate, "utilisation": 0.1, "peak_cuda_mb": 100.0}]}

    summary = {"peak_tflops_used": 989.5, "parts": {
        "bench_train_fp32_eager_b1": bench(50.0), "bench_train_bf16_nhwc_b1": bench(200.0),
        "bench_train_fp32_eager_b32": bench(100.0), "bench_train_bf16_b32": bench(400.0),
        "loader": {"status": "passed", "results": [
            {"source": "geotiff", "workers": 0, "triplets_per_s": 20.0}, {"source": "geotiff", "workers": 8, "triplets_per_s": 150.0},
            {"source": "pack", "workers": 0, "triplets_per_s": 180.0}, {"source": "pack", "workers": 8, "triplets_per_s": 900.0}]},
    }}  # fmt: skip
    head = gpu_check.headline(summary)
    assert head["loader_triplets_per_s"] == {"0": 20.0, "8": 150.0} and not head["loader_keeps_up_with_best_b1"]
    assert head["pack_loader_triplets_per_s"] == {"0": 180.0, "8": 900.0} and head["pack_loader_keeps_up_with_best_b1"]
    assert head["best_b1"]["variant"] == "bf16_nhwc_b1" and head["best_b1"]["speedup_vs_fp32_eager_b1"] == 4.0
    assert head["best_b1"]["seed_recipe_hours"] == pytest.approx(200 * 4464 / 200.0 / 3600, abs=0.01)
    assert head["speedup_vs_fp32_eager_same_batch"] == {"bf16_nhwc_b1": 4.0, "bf16_b32": 4.0}
    assert head["best_any_batch"]["variant"] == "bf16_b32"


def test_closing_the_runner_kills_parts_still_running(tmp_path: Path) -> None:
    check = runner(tmp_path, budget=60)
    check.start("background", [sys.executable, "-c", "import time; time.sleep(60)"], timeout=60)
    proc = check.background["background"][0]
    check.close()
    assert proc.poll() is not None  # killed, not left running beside the next command


def test_carried_wheels_are_what_rasterio_and_s2cloudless_need_less_the_gpu_image(tmp_path: Path) -> None:
    import gpu_wheel_list

    image = gpu_wheel_list.image_packages(ROOT / "benchmarks" / "gpu_image_packages.txt")
    tiers = dict(gpu_wheel_list.tiers(image))
    assert {"rasterio", "affine", "cligj"} <= tiers["rasterio"].keys()
    assert {"s2cloudless", "lightgbm", "sentinelhub"} <= tiers["clouds"].keys()
    carried = tiers["rasterio"].keys() | tiers["clouds"].keys()
    # Never a package the image has: the carried folder comes first on PYTHONPATH and would shadow it.
    assert not carried & image and "numpy" not in carried and "torch" not in carried
    assert not tiers["rasterio"].keys() & tiers["clouds"].keys()  # one copy of each
    # A bare Python would need rasterio's own requirements too (the image happens to have them).
    bare = dict(gpu_wheel_list.tiers(set()))
    assert {"click", "attrs", "certifi", "numpy"} <= bare["rasterio"].keys()
    from importlib.metadata import version

    assert bare["rasterio"]["rasterio"] == version("rasterio")  # the versions CI runs


def test_fp16_resume_fails_when_the_grad_scaler_restarts(tmp_path: Path) -> None:
    import torch

    run = tmp_path / "run"
    (run / "checkpoints" / "last").mkdir(parents=True)
    (run / "metrics.csv").write_text("step,G_gan,G_l1,D,images_per_s\n4,0.7,0.3,0.6,10\n")

    def save(scale: float, tracker: int) -> dict:
        state = {"scale": scale, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": tracker}
        torch.save({"scaler": state}, run / "checkpoints" / "last" / "state.pt")
        return gpu_check.scaler_state(run)

    before = save(65536.0, 2)  # after the first run's 2 steps
    for after, verdict in (((65536.0, 4), None), ((32768.0, 1), None), ((65536.0, 2), "did not continue")):
        save(*after)
        record: dict = {}
        failed = gpu_check.judge_scaler_resume(run, 4, before, 2)(record, "")
        assert (failed is None) if verdict is None else (verdict in failed), (after, failed)
        assert record["scaler_before"]["_growth_tracker"] == 2 and record["scaler_after"]["scale"] == after[0]


def test_ddp_script_runs_two_ranks_over_gloo_as_a_dry_run(tmp_path: Path) -> None:
    """gpu_ddp.py only ever runs for real on the rare GPU machine; its --cpu mode runs the same code
    (sarclear's setup, distribute, gan_step, the loop's collectives) over gloo with two ranks."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(ROOT / "benchmarks" / "gpu_ddp.py"), "--cpu", "--size", "32", "--ngf", "4", "--steps", "2"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["world_size"] == 2 and result["backend"] == "gloo"
    assert result["weights_equal_across_ranks"] and result["loop_collectives"] and result["all_reduce_mean"] == 0.5


def test_gpu_report_marks_each_goal_with_its_number() -> None:
    """A full run's figures: the seed recipe's hours at the best batch-1 rate, the speed-up, the loader, 10980 px."""
    bench = lambda rate, batch, precision="bf16": {"status": "passed", "seconds": 9.0, "results": [  # noqa: E731
        {"images_per_s": rate, "batch_size": batch, "precision": precision, "compile": False, "channels_last": True,
         "utilisation": 0.05, "peak_cuda_mb": 3000}]}
    summary = {"started_utc": "2027-01-05T10:00:00Z", "mode": "full", "cuda": True, "passed": 4, "failed": [], "skipped": {},
               "seconds": 430.0, "machine": {"gpu": "NVIDIA H200"},
               "parts": {"bench_train_fp32_eager_b1": bench(60.0, 1, "32"), "bench_train_bf16_nhwc_b1": bench(270.0, 1),
                         "bench_train_bf16_b32": bench(900.0, 32)},
               "headline": {}}  # fmt: skip
    summary["parts"]["loader"] = {"status": "passed", "results": [{"source": "pack", "workers": 8, "triplets_per_s": 2000.0}]}
    summary["parts"]["bench_predict"] = {"status": "passed", "results": [{"size": 10980, "mp_per_s": 8.5, "seconds": 14.2}]}
    summary["peak_tflops_used"] = 989.5
    summary["headline"] = gpu_check.headline(summary)
    tables = gpu_report.report(summary)
    assert "rehearsal" not in tables
    goals = tables.split("## The issue's goals")[1]
    assert "| 0.92 h (bf16_nhwc_b1, 270.0 images/s) | reached |" in goals  # 200 x 4,464 / 270 / 3600
    assert "| 4.5x | reached |" in goals
    assert "GeoTIFF: None, pack: True | reached |" in goals
    assert "(10980 px) | 8.5 | **not reached** |" in goals
