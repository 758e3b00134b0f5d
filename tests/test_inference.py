"""The shared inference engine: batch-norm modes, stochastic passes, windows of an in-memory image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sarclear.errors import ConfigError
from sarclear.inference.norm import WindowNorm, norm_mode, resolve_norm_mode
from sarclear.inference.sampling import check_samples
from sarclear.inference.tiling import WindowGrid
from sarclear.inference.windows import predict_array
from sarclear.models.spec import ModelSpec
from sarclear.predict.engine import TorchEngine


def _trained_like(n_down: int = 6, tile: int = 64) -> nn.Module:
    """A tiny U-Net whose batch norms hold non-trivial running statistics, as after training."""
    torch.manual_seed(0)
    model = ModelSpec(ngf=8, n_down=n_down, tile_size=tile).build().train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 5, tile, tile))
    return model.eval()


def _without_dropout(model: nn.Module) -> nn.Module:
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Dropout):
                setattr(parent, name, nn.Identity())
    return model


def test_window_mode_is_train_mode_batch_norm_at_batch_one_whatever_the_batch() -> None:
    model = _trained_like()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 5, 64, 64)).astype(np.float32)
    reference = _without_dropout(_trained_like()).train()  # train-mode BN, one window at a time
    with torch.no_grad():
        expected = np.concatenate([reference(torch.from_numpy(x[i : i + 1])).numpy() for i in range(3)])
    engine = TorchEngine(model, "cpu", "fp32", norm="window")
    np.testing.assert_allclose(engine(x), expected, atol=1e-5)
    np.testing.assert_allclose(engine(x[1:2]), expected[1:2], atol=1e-5)  # the batch's other windows do not matter
    running = TorchEngine(model, "cpu", "fp32", norm="running")(x)
    assert np.abs(running - expected).mean() > 1e-3  # the two modes really differ on this model


def test_auto_mode_follows_the_batch_batch_norm_was_trained_with() -> None:
    assert resolve_norm_mode("auto", 1) == "window"  # one image per statistic in training: per window
    assert resolve_norm_mode("auto", 4) == "running"  # statistics of 4 images: their running average fits
    assert resolve_norm_mode("auto", 0) == "running"  # unknown (older checkpoints): PyTorch's eval mode
    assert resolve_norm_mode("window", 4) == "window" and resolve_norm_mode("running", 1) == "running"
    with pytest.raises(ValueError):
        TorchEngine(_trained_like(), "cpu", "fp32", norm="auto")  # callers resolve it from the spec


def test_norm_mode_context_restores_the_generator_being_trained() -> None:
    model = _trained_like().train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [n.running_mean.clone() for n in norms]
    with norm_mode(model, "window"):
        assert not model.training and any(isinstance(m, WindowNorm) for m in model.modules())
        model(torch.randn(2, 5, 64, 64))
    assert model.training and [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)] == norms
    assert all(torch.equal(a, n.running_mean) for a, n in zip(before, norms))  # validation never moves the statistics


def test_stochastic_passes_are_seeded_and_their_spread_is_positive() -> None:
    model = _trained_like(n_down=6)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 5, 64, 64)).astype(np.float32)
    engine = TorchEngine(model, "cpu", "fp32", seed=3)
    deterministic = engine(x)
    mean, std = engine.sample(x, 6)
    assert mean.shape == std.shape == deterministic.shape
    assert std.min() >= 0 and std.mean() > 1e-4
    np.testing.assert_array_equal(engine(x), deterministic)  # dropout is off again after sampling
    again = TorchEngine(model, "cpu", "fp32", seed=3).sample(x, 6)
    np.testing.assert_array_equal(again[0], mean)
    np.testing.assert_array_equal(again[1], std)


def test_samples_need_two_passes_and_a_model_with_dropout() -> None:
    with pytest.raises(ConfigError, match="at least 2"):
        check_samples(1, True)
    engine = TorchEngine(_trained_like(n_down=5, tile=32), "cpu", "fp32")  # 5 down-samplings: no dropout layer
    with pytest.raises(ConfigError, match="no dropout"):
        check_samples(4, engine.has_dropout)


def test_one_window_of_an_image_is_the_engine_output_and_overlapping_windows_cover_everything() -> None:
    engine = TorchEngine(_trained_like(), "cpu", "fp32")
    x = np.random.default_rng(2).uniform(-1, 1, (5, 64, 64)).astype(np.float32)
    whole, std = predict_array(engine, x, WindowGrid(64, 64, 64, 8), pick=[0, 1, 2], batch_size=4)
    assert std is None
    np.testing.assert_allclose(whole, engine(x[None])[0], atol=1e-6)
    big = np.random.default_rng(3).uniform(-1, 1, (5, 96, 80)).astype(np.float32)
    mean, spread = predict_array(engine, big, WindowGrid(96, 80, 64, 16), pick=[0, 1, 2], batch_size=3, samples=3)
    assert mean.shape == spread.shape == (3, 96, 80)  # type: ignore[union-attr]
    assert np.isfinite(mean).all() and (np.abs(mean) <= 1).all() and (spread > 0).mean() > 0.99  # type: ignore[operator]
