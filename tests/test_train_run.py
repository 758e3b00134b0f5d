"""`sarclear train` end to end on tiny hand-made data: outputs, exact resume, one-line input errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sarclear.cli import main
from sarclear.config import config_from_dict, config_to_dict, load_config
from sarclear.models.checkpoint import load_generator
from sarclear.train.loop import train
from tests.test_train_helpers import one_thread, tiny_config, write_dataset

pytestmark = pytest.mark.usefixtures(one_thread.__name__)


def read_rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_train_command_writes_checkpoints_metrics_and_samples(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = write_dataset(tmp_path / "data", train=3, val=2, size=40)
    run = tmp_path / "run"
    code = main(["train", "--manifest", str(manifest), "--out", str(run), "--size", "32", "--ngf", "4", "--ndf", "4",
                 "--max-steps", "20", "--workers", "0", "--precision", "32", "--log-every", "5", "--quiet"])
    assert code == 0
    assert capsys.readouterr().out.strip().endswith(f"checkpoints: {run / 'checkpoints' / 'last'} "
                                                    f"(best validation PSNR: {run / 'checkpoints' / 'best'})")
    for name in ("generator.safetensors", "discriminator.safetensors", "state.pt"):
        assert (run / "checkpoints" / "last" / name).is_file()
    generator, spec = load_generator(run)
    assert (spec.ngf, spec.n_down, spec.tile_size, spec.in_channels) == (4, 5, 32, 5)
    assert (spec.training_data, spec.s2_level) == ("real", "L1C")  # hand-made tiles carry no synthetic tag
    assert spec.training_summary.startswith("3 real L1C triplets from manifest.csv")
    assert spec.norm_batch == 1  # batch 1 (the default): `auto` batch norm is per window at inference
    assert generator(torch.zeros(1, 5, 32, 32)).shape == (1, 3, 32, 32)

    rows = read_rows(run)
    train_rows = [r for r in rows if r["G_l1"]]
    val_rows = [r for r in rows if r["val_psnr"]]
    assert [int(r["step"]) for r in train_rows] == [5, 10, 15, 20]
    assert [int(r["step"]) for r in val_rows] == [3, 6, 9, 12, 15, 18]  # 3 train tiles: an epoch is 3 steps
    assert all(float(r["images_per_s"]) > 0 and float(r["lr"]) == pytest.approx(2e-4) for r in train_rows)
    assert all(0 < float(r["val_psnr"]) < 100 and -1 <= float(r["val_ssim"]) <= 1 for r in val_rows)
    assert len(list((run / "samples").glob("step_*.png"))) == 6

    saved = load_config(run / "config.yaml")
    assert (saved.data.size, saved.model.ngf, saved.run.max_steps, saved.manifest) == (32, 4, 20, str(manifest))
    state = torch.load(run / "checkpoints" / "last" / "state.pt", weights_only=True)
    assert (state["step"], state["epoch"], state["batch"]) == (20, 6, 2)


@pytest.mark.parametrize(("batch", "mode"), [(1, "window"), (2, "running")])
def test_validation_scores_what_evaluate_reports_in_the_mode_the_batch_calls_for(
    tmp_path: Path, batch: int, mode: str
) -> None:
    """The best checkpoint is chosen by the number `evaluate` then gives: same batch-norm mode, picked
    from the batch the model trained at (docs/train.md: per-window statistics win at batch 1 and lose
    by decibels at batch 4)."""
    import json

    manifest = write_dataset(tmp_path / "data", train=4, val=2, size=32)
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(manifest), "--out", str(run), "--size", "32", "--ngf", "4", "--ndf", "4",
                 "--batch-size", str(batch), "--max-steps", "4", "--val-every", "4", "--workers", "0",
                 "--precision", "32", "--quiet"]) == 0  # fmt: skip
    _, spec = load_generator(run / "checkpoints" / "last")
    assert spec.norm_batch == batch
    logged = float([r for r in read_rows(run) if r["val_psnr"]][-1]["val_psnr"])
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(run / "checkpoints" / "last"), "--manifest", str(manifest), "--split", "val",
                 "--out", str(out), "--precision", "fp32", "--workers", "0", "--gallery", "0", "--quiet"]) == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    method = metrics["primary_method"]
    assert metrics["methods"][method]["engine"]["norm"] == mode
    assert metrics["results"][method]["overall"]["reflectance"]["psnr"]["mean"] == pytest.approx(logged, abs=0.05)


def weights(run: Path) -> dict[str, torch.Tensor]:
    folder = run / "checkpoints" / "last"
    return {f"G.{k}": v for k, v in load_file(folder / "generator.safetensors").items()} | {
        f"D.{k}": v for k, v in load_file(folder / "discriminator.safetensors").items()
    }


def test_resume_gives_identical_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """4 steps straight == 2 steps + resume + 2 steps, bit for bit: data order, random crops and flips,
    dropout masks (64 px: the U-Net has a dropout block), Adam state, an epoch end (3 tiles) with its
    lr step and validation in between. On the CPU even on a GPU machine: cuDNN's autotuned kernels
    are not bit-reproducible (docs/train.md)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    manifest = write_dataset(tmp_path / "data", train=3, val=1, size=72)
    straight, split = tmp_path / "straight", tmp_path / "split"
    base = config_to_dict(tiny_config(manifest, straight, max_steps=4))
    base["data"]["size"] = 64
    base["optim"].update(epochs=4, decay_epochs=3)  # the lr changes at the epoch end
    train(config_from_dict(base), progress=False)
    base.update(out=str(split))
    base["run"]["max_steps"] = 2
    train(config_from_dict(base), progress=False)
    base["run"]["max_steps"] = 4
    train(config_from_dict(base), resume=True, progress=False)

    a, b = weights(straight), weights(split)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    state_a = torch.load(straight / "checkpoints" / "last" / "state.pt", weights_only=True)
    state_b = torch.load(split / "checkpoints" / "last" / "state.pt", weights_only=True)
    assert state_a["step"] == state_b["step"] == 4 and state_a["opt_g"]["param_groups"][0]["lr"] < 2e-4
    assert torch.equal(state_a["rng"][0]["torch"], state_b["rng"][0]["torch"])
    assert [r["step"] for r in read_rows(straight)] == [r["step"] for r in read_rows(split)]


def _run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["train", *args, "--quiet"])
    return code, capsys.readouterr().err.strip()


def test_bad_inputs_fail_before_training_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = write_dataset(tmp_path / "data", train=2, val=1, size=40)
    common = ["--manifest", str(manifest), "--size", "32", "--ngf", "4", "--max-steps", "1", "--workers", "0"]

    code, err = _run_cli([*common, "--out", str(tmp_path / "r1"), "--size", "64"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "ROIs1868_summer_s2_1_p1.tif" in err and "smaller than the training crop of 64 px" in err

    missing = tmp_path / "data" / "ROIs1868_summer_s2_cloudy" / "s2_cloudy_19" / "ROIs1868_summer_s2_cloudy_19_p1.tif"
    missing.unlink()  # a val row: every row a run will read is checked up front
    code, err = _run_cli([*common, "--out", str(tmp_path / "r2")], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and f"{missing}: file not found" in err
    assert not (tmp_path / "r2").exists()

    only_val = tmp_path / "only_val.csv"
    lines = manifest.read_text().splitlines()
    only_val.write_text("\n".join([lines[0]] + [line for line in lines[1:] if "_19_" in line]) + "\n")
    code, err = _run_cli(["--manifest", str(only_val), "--out", str(tmp_path / "r3")], capsys)
    assert code == 2 and err == f"sarclear: error: {only_val}: no kept rows in the train split; nothing to train on"

    code, err = _run_cli([*common[:2], "--out", str(tmp_path / "r4"), "--resume"], capsys)
    assert code == 2 and "nothing to resume" in err

    if not torch.cuda.is_available():  # on a GPU, float16 + GradScaler is what --precision 16 trains with
        code, err = _run_cli([*common[:2], "--out", str(tmp_path / "r5"), "--precision", "16"], capsys)
        assert code == 2 and "needs a CUDA GPU" in err
