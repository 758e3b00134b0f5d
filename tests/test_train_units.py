"""Config resolution, the lr schedule, the resumable sampler, precision choice, clean interrupts."""

from __future__ import annotations

import itertools
import os
import platform
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml

from sarclear.cli import build_parser
from sarclear.commands.train import resolve_config
from sarclear.config import (
    TrainConfig,
    config_to_dict,
    layered_config,
    load_config,
    save_config,
    with_overrides,
)
from sarclear.errors import ConfigError
from sarclear.train.allocator import keep_freed_memory
from sarclear.train.data import TrainSampler, season_weights
from sarclear.train.precision import cpu_has_native_bf16, resolve_precision
from sarclear.train.schedule import lr_factor
from tests.test_train_helpers import sigterm_after_rows, write_dataset

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def parse(*argv: str):
    return build_parser(["train", *argv]).parse_args(["train", *argv])


def test_seed_recipe_is_the_pix2pix_reference_and_the_defaults() -> None:
    seed = load_config(CONFIGS / "seed.yaml")
    assert (seed.optim.epochs, seed.decay_epochs, seed.data.size, seed.model.ngf, seed.data.batch_size) == (200, 100, 256, 64, 1)
    assert (seed.optim.lambda_l1, seed.optim.lr, seed.optim.beta1, seed.optim.beta2) == (100, 2e-4, 0.5, 0.999)
    assert seed == TrainConfig() and seed.n_down == 8  # every section, every key: the defaults
    written = yaml.safe_load((CONFIGS / "seed.yaml").read_text())
    defaults = config_to_dict(TrainConfig())
    assert {k: set(v) for k, v in written.items()} == {k: set(v) for k, v in defaults.items() if isinstance(v, dict)}
    assert load_config(CONFIGS / "tiny.yaml").data.size == 64


def test_epochs_flag_keeps_an_explicit_decay_epochs(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("optim:\n  epochs: 100\n  decay_epochs: 30\n")
    config = resolve_config(parse("--config", str(recipe), "--manifest", "m.csv", "--out", "run", "--epochs", "50"))
    assert (config.optim.epochs, config.decay_epochs) == (50, 30)
    config = resolve_config(parse("--manifest", "m.csv", "--out", "run", "--epochs", "50", "--decay-epochs", "10"))
    assert (config.optim.epochs, config.decay_epochs) == (50, 10)
    assert layered_config(None, {"optim.epochs": 8}).decay_epochs == 4  # not set anywhere: the last half


def test_flags_override_the_yaml_and_the_result_round_trips(tmp_path: Path) -> None:
    args = parse("--config", str(CONFIGS / "seed.yaml"), "--manifest", "m.csv", "--out", str(tmp_path / "run"),
                 "--size", "64", "--no-sar", "--epochs", "10", "--precision", "bf16", "--season-balanced")
    config = resolve_config(args)
    assert (config.data.size, config.n_down, config.model.use_sar, config.optim.epochs, config.decay_epochs) == (64, 6, False, 10, 5)
    assert config.run.precision == "bf16" and config.data.season_balanced and config.model.ngf == 64
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config
    # --resume without --config reads the run's own config.yaml back
    resumed = resolve_config(parse("--out", str(tmp_path), "--resume", "--max-steps", "7"))
    assert config_to_dict(resumed) == config_to_dict(config) | {"out": str(tmp_path), "run": {**config_to_dict(config)["run"], "max_steps": 7}}


def test_bad_config_values_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  ngf: 8\n  widht: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown key\(s\) model\.widht"):
        load_config(bad)
    bad.write_text("run:\n  precision: 32\n")  # YAML reads 32 as a number: accepted as "32"
    assert load_config(bad).run.precision == "32"
    with pytest.raises(ConfigError, match="data.size must be a power of two"):
        with_overrides(TrainConfig(), {"data.size": 100})
    with pytest.raises(ConfigError, match="decay_epochs must be in 0..epochs"):
        with_overrides(TrainConfig(), {"optim.epochs": 10, "optim.decay_epochs": 20})


def test_lr_schedule_is_constant_then_linear_like_the_reference() -> None:
    factors = [lr_factor(e, epochs=200, decay_epochs=100) for e in range(200)]
    assert factors[:100] == [1.0] * 100
    assert factors[100] == pytest.approx(1 - 1 / 101) and factors[199] == pytest.approx(1 / 101)
    assert all(a > b for a, b in itertools.pairwise(factors[99:]))


def test_sampler_shards_reseeds_per_epoch_and_resumes_mid_epoch() -> None:
    ranks = [TrainSampler(10, rank=r, world_size=2, seed=3) for r in range(2)]
    for s in ranks:
        s.set_epoch(4)
    shards = [list(s) for s in ranks]
    assert sorted(shards[0] + shards[1]) == list(range(10))
    ranks[0].set_epoch(5)
    assert list(ranks[0]) != shards[0]
    ranks[0].set_epoch(4)
    ranks[0].start = 3
    assert list(ranks[0]) == shards[0][3:] and len(ranks[0]) == 2


def test_season_balanced_sampling_draws_seasons_equally(tmp_path: Path) -> None:
    from sarclear.data.manifest import read_manifest

    rows = read_manifest(write_dataset(tmp_path, train=9, val=0, winter=1, size=8))
    sampler = TrainSampler(len(rows), rank=0, world_size=1, seed=0, weights=season_weights(rows))
    drawn = Counter()
    for epoch in range(200):
        sampler.set_epoch(epoch)
        drawn.update(rows[i].season for i in sampler)
    assert drawn["winter"] / sum(drawn.values()) == pytest.approx(0.5, abs=0.05)


def test_precision_choice(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        resolve_precision("16", cpu)
    assert resolve_precision("32", cpu).name == "32" and resolve_precision("bf16", cpu).dtype == torch.bfloat16
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_native_bf16(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\n")
    assert not cpu_has_native_bf16(info)
    expected = "bf16" if cpu_has_native_bf16() else "32"
    assert resolve_precision("auto", cpu).name == expected
    assert not resolve_precision("auto", cpu).grad_scaler().is_enabled()


def test_sigterm_saves_a_checkpoint_and_exits_130(tmp_path: Path) -> None:
    """The signal goes to the whole process group (a loader worker included), as a terminal's Ctrl-C
    or Slurm's SIGTERM does."""
    manifest = write_dataset(tmp_path / "data", train=1, val=0, size=32)  # 1-step epochs: a worker fork per step
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sarclear", "train", "--manifest", str(manifest), "--out", str(run), "--size", "32",
         "--ngf", "4", "--ndf", "4", "--workers", "1", "--precision", "32", "--log-every", "1", "--quiet",
         "--ckpt-every", "100000", "--epochs", "100000"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True,
    )
    metrics = run / "metrics.csv"
    err = sigterm_after_rows(proc, metrics, 4)
    assert proc.returncode == 130, err
    assert "training interrupted at step" in err and "continue with --resume" in err
    state = torch.load(run / "checkpoints" / "last" / "state.pt", weights_only=True)
    logged = [line.split(",")[0] for line in metrics.read_text().splitlines()[1:]]
    assert state["step"] >= 3 and str(state["step"]) == logged[-1]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_accepts_the_allocator_thresholds() -> None:
    assert keep_freed_memory() is True


def test_a_resume_on_another_gpu_count_restores_the_training_devices_rng(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rank of a 4-GPU run trained on cuda:3; resumed on a 1-GPU machine its state goes to cuda:0.

    No GPU here, so torch.cuda's state functions are stood in for; the real round trip is
    tests/test_cuda.py's (run by benchmarks/gpu_check.sh).
    """
    from sarclear.train import state as state_module

    saved = {3: torch.full((16,), 3, dtype=torch.uint8)}
    restored: dict[int, torch.Tensor] = {}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: saved[device.index])
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda value, device: restored.__setitem__(device.index, value))
    state = state_module.capture_rng(torch.device("cuda", 3))
    assert "cuda" not in state and torch.equal(state["cuda_device"], saved[3])  # one device's state, not every visible one
    state_module.restore_rng(state, torch.device("cuda", 0))
    assert list(restored) == [0] and torch.equal(restored[0], saved[3])
    restored.clear()
    state_module.restore_rng(state_module.capture_rng(torch.device("cpu")), torch.device("cpu"))
    assert restored == {}  # a CPU run has no CUDA state to save or restore
