"""A real 2-process Gloo run under torchrun, checked against one process with twice the batch."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sarclear.config import config_from_dict, config_to_dict
from sarclear.train.loop import train
from tests.test_train_helpers import one_thread, sigterm_after_rows, tiny_config, write_dataset

pytestmark = pytest.mark.usefixtures(one_thread.__name__)


def losses(run: Path) -> list[tuple[float, float]]:
    with (run / "metrics.csv").open(newline="") as handle:
        return [(float(r["G_l1"]), float(r["D"])) for r in csv.DictReader(handle) if r["G_l1"]]


def test_two_process_gloo_run_matches_one_process_with_twice_the_batch(tmp_path: Path) -> None:
    """Instance norm and no dropout (32 px: 5 down-samplings) make the two set-ups mathematically
    equal: rank r takes samples r, r+2, ... of the same permutation, DDP averages the gradients,
    and each loss is a mean over the batch. So the logged (rank-averaged) losses agree."""
    manifest = write_dataset(tmp_path / "data", train=4, val=1, size=32)
    ddp_run, single_run = tmp_path / "ddp", tmp_path / "single"
    flags = ["--manifest", str(manifest), "--size", "32", "--ngf", "4", "--ndf", "4", "--norm", "instance", "--max-steps", "3",
             "--workers", "0", "--precision", "32", "--log-every", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "sarclear", "train", "--out", str(ddp_run), *flags],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("checkpoints: ") == 1  # rank 0 alone prints and writes
    assert (ddp_run / "checkpoints" / "last" / "state.pt").is_file()
    state = torch.load(ddp_run / "checkpoints" / "last" / "state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2 and state["step"] == 3
    assert (ddp_run / "checkpoints" / "best").is_dir()  # 2 steps per epoch: validated once

    single = config_to_dict(tiny_config(manifest, single_run, max_steps=3))
    single["model"]["norm"] = "instance"
    single["data"]["batch_size"] = 2
    train(config_from_dict(single), progress=False)
    for (l1_a, d_a), (l1_b, d_b) in zip(losses(ddp_run), losses(single_run), strict=True):
        assert l1_a == pytest.approx(l1_b, rel=1e-4) and d_a == pytest.approx(d_b, rel=1e-4)
    a = load_file(ddp_run / "checkpoints" / "last" / "generator.safetensors")
    b = load_file(single_run / "checkpoints" / "last" / "generator.safetensors")
    close = sum(int(torch.isclose(a[k], b[k], atol=1e-6).sum()) for k in a)
    # Adam divides by sqrt(v): where a gradient is ~0, float-order noise can flip an update's sign.
    assert close / sum(v.numel() for v in a.values()) > 0.99


def test_sigterm_under_torchrun_stops_both_ranks_at_one_step_with_a_checkpoint(tmp_path: Path) -> None:
    """Slurm's SIGTERM reaches every rank; they agree on the step to stop at (a vote every
    STOP_VOTE_EVERY steps, so the GPU is not synchronised every step) and rank 0 writes the checkpoint
    with both ranks' RNG states, so --resume continues exactly. torchrun itself exits 1 on the signal."""
    from sarclear.train.loop import STOP_VOTE_EVERY

    manifest = write_dataset(tmp_path / "data", train=4, val=0, size=32)
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "sarclear", "train",
         "--manifest", str(manifest), "--out", str(run), "--size", "32", "--ngf", "4", "--ndf", "4", "--workers", "0",
         "--precision", "32", "--norm", "instance", "--log-every", "1", "--quiet", "--ckpt-every", "100000", "--epochs", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True,
    )  # fmt: skip
    metrics = run / "metrics.csv"
    err = sigterm_after_rows(proc, metrics, 3)
    assert "training interrupted at step" in err, err[-2000:]
    state = torch.load(run / "checkpoints" / "last" / "state.pt", weights_only=True)
    logged = [int(line.split(",")[0]) for line in metrics.read_text().splitlines()[1:]]
    assert state["step"] % STOP_VOTE_EVERY == 0 and state["step"] == logged[-1] and len(state["rng"]) == 2
