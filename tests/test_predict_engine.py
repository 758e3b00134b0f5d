"""The inference engine: batch-norm folding and the sub-pixel output layer are exact, bf16 stays close to fp32, modules run in eval mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sarclear.models.spec import ModelSpec
from sarclear.predict.engine import TorchEngine
from sarclear.predict.fuse import fold_batchnorm
from sarclear.predict.subpixel import SubPixelConvTranspose, rewrite_narrow_deconvs


def _trained_like_generator() -> nn.Module:
    """A tiny U-Net whose batch norms hold non-trivial running statistics, as after training."""
    torch.manual_seed(0)
    model = ModelSpec(ngf=8, n_down=6, tile_size=64).build().train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 5, 64, 64))
    return model.eval()


def test_folding_batch_norm_changes_nothing_but_the_layer_count() -> None:
    model = _trained_like_generator()
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    x = torch.randn(2, 5, 64, 64)
    with torch.inference_mode():
        assert (model(x) - folded(x)).abs().max() < 1e-5


def test_engine_runs_in_eval_mode_and_bf16_is_close_to_fp32() -> None:
    model = _trained_like_generator().train()  # the engine must switch dropout and batch norm to eval
    x = np.random.default_rng(0).uniform(-1, 1, (3, 5, 64, 64)).astype(np.float32)
    fp32 = TorchEngine(model, "cpu", "fp32")
    first, second = fp32(x), fp32(x)
    np.testing.assert_array_equal(first, second)  # deterministic: no dropout
    bf16 = TorchEngine(model, "cpu", "bf16")(x)
    assert bf16.shape == (3, 3, 64, 64) and bf16.dtype == np.float32
    assert np.abs(bf16 - first).mean() < 0.02


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("size", [(1, 1), (5, 7), (16, 16)])
def test_subpixel_convolution_equals_the_transposed_convolution(bias: bool, size: tuple[int, int]) -> None:
    torch.manual_seed(1)
    deconv = nn.ConvTranspose2d(6, 3, 4, stride=2, padding=1, bias=bias)
    x = torch.randn(2, 6, *size)
    with torch.inference_mode():
        expected, got = deconv(x), SubPixelConvTranspose(deconv)(x)
    assert got.shape == expected.shape == (2, 3, 2 * size[0], 2 * size[1])
    assert (got - expected).abs().max() < 1e-5


def test_only_the_narrow_output_layer_is_rewritten_and_the_engine_output_is_unchanged() -> None:
    model = _trained_like_generator()
    reference = fold_batchnorm(model)
    rewritten = fold_batchnorm(model)
    assert rewrite_narrow_deconvs(rewritten, max_out_channels=3) == 1  # the output layer; the wider decoder layers stay
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in rewritten.modules()) == 5
    x = np.random.default_rng(2).uniform(-1, 1, (2, 5, 64, 64)).astype(np.float32)
    with torch.inference_mode():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(TorchEngine(model, "cpu", "fp32", norm="running")(x), expected, atol=1e-5)
