"""`sarclear export-onnx` and `predict --backend onnx`: numerically the same model as torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from sarclear.cli import main
from sarclear.inference.norm import norm_mode
from sarclear.models.checkpoint import load_generator, save_generator
from sarclear.models.spec import ModelSpec
from sarclear.predict.engine import OnnxEngine, load_engine
from tests.test_predict import write_scene

SPEC = ModelSpec(ngf=8, n_down=5, tile_size=32, norm_batch=1)  # trained at batch 1: `auto` exports per-window batch norm


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("onnx")
    ckpt = save_generator(folder / "generator.safetensors", SPEC.build(), SPEC)
    assert main(["export-onnx", str(ckpt), str(folder / "model.onnx")]) == 0
    return ckpt, folder / "model.onnx"


def test_onnx_matches_torch_on_any_batch_and_window_size(exported: tuple[Path, Path]) -> None:
    ckpt, onnx_path = exported
    generator, _ = load_generator(ckpt)
    x = torch.rand(3, 5, 64, 96, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode(), norm_mode(generator, "window"):  # exported in the default mode, `auto` at batch 1
        expected = generator(x).numpy()
    engine = OnnxEngine(onnx_path)
    got = engine(x.numpy())
    assert engine.norm == "window"
    assert got.shape == (3, 3, 64, 96)
    assert np.abs(got - expected).max() < 1e-4


def test_onnx_file_carries_the_model_spec(exported: tuple[Path, Path]) -> None:
    _, onnx_path = exported
    _, spec = load_engine(onnx_path)
    assert spec == SPEC


def test_predict_with_onnx_backend_matches_torch(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    ckpt, onnx_path = exported
    s1, s2 = write_scene(tmp_path, 45, 70)
    common = ["predict", "--s1", str(s1), "--s2", str(s2), "--quiet"]
    assert main([*common, "--checkpoint", str(ckpt), "--precision", "fp32", "--out", str(tmp_path / "torch.tif")]) == 0
    assert main([*common, "--checkpoint", str(onnx_path), "--out", str(tmp_path / "onnx.tif")]) == 0
    # a torch checkpoint with --backend onnx is exported on the fly
    assert main([*common, "--checkpoint", str(ckpt), "--backend", "onnx", "--out", str(tmp_path / "onnx2.tif")]) == 0
    with rasterio.open(tmp_path / "torch.tif") as a:
        reference = a.read().astype(int)
    for name in ("onnx.tif", "onnx2.tif"):
        with rasterio.open(tmp_path / name) as b:
            assert np.abs(reference - b.read().astype(int)).max() <= 1


def test_onnx_model_with_torch_backend_is_a_usage_error(tmp_path: Path, exported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, onnx_path = exported
    s1, s2 = write_scene(tmp_path, 32, 32)
    code = main(["predict", "--checkpoint", str(onnx_path), "--backend", "torch", "--s1", str(s1), "--s2", str(s2), "--out", str(tmp_path / "o.tif")])
    assert code == 2 and "--backend onnx" in capsys.readouterr().err


def test_a_residual_model_exports_with_its_input_correction(tmp_path: Path) -> None:
    spec = ModelSpec(ngf=8, n_down=5, tile_size=32, dropout=False, residual=True, norm_batch=8)  # as `adapt` fits
    torch.manual_seed(0)
    ckpt = save_generator(tmp_path / "generator.safetensors", spec.build(), spec)
    assert main(["export-onnx", str(ckpt), str(tmp_path / "model.onnx")]) == 0
    generator, loaded = load_generator(ckpt)
    assert loaded.residual and generator.residual
    x = torch.rand(2, 5, 32, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode(), norm_mode(generator, "running"):
        expected = generator(x).numpy()
    got = OnnxEngine(tmp_path / "model.onnx")(x.numpy())
    assert np.abs(got - expected).max() < 1e-4
