"""The inference engine: batch-norm folding is exact, bf16 stays close to fp32, modules run in eval mode."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sarclear.models.spec import ModelSpec
from sarclear.predict.engine import TorchEngine
from sarclear.predict.fuse import fold_batchnorm


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
