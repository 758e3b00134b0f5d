"""Uncertainty from dropout kept on at inference (Monte Carlo dropout, Gal and Ghahramani, 2016).

The Pix2Pix U-Net has dropout (p = 0.5) in its innermost decoder blocks, its noise source during
training. `SampledDropout` replaces each `nn.Dropout` and stays off (the deterministic prediction)
until a `sample` call turns it on for N passes: the mean of the passes is the prediction and their
per-pixel standard deviation how much the model's answer depends on which units it drops, which is
larger where it guesses (under thick cloud, on structure the SAR does not show). Masks are drawn
from the engine's own seeded generator, so a run is reproducible and never touches the global RNG.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from sarclear.errors import ConfigError


class SampledDropout(nn.Module):
    """`nn.Dropout` that is the identity unless `active`, with masks drawn from `generator`."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = p
        self.generator = generator
        self.active = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=self.generator.device) >= self.p
        return x * keep.to(x.device, x.dtype) / (1.0 - self.p)


def use_sampled_dropout(module: nn.Module, generator: torch.Generator) -> list[SampledDropout]:
    """Replace every `nn.Dropout` of `module` in place; return the new layers (empty: no dropout)."""
    layers: list[SampledDropout] = []
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Dropout):
                layer = SampledDropout(child.p, generator)
                setattr(parent, name, layer)
                layers.append(layer)
    return layers


def check_samples(samples: int, has_dropout: bool, what: str = "the model") -> None:
    """`--samples` must be >= 2 (one pass has no spread) and the model must have dropout to sample."""
    if samples < 2:
        raise ConfigError(f"--samples {samples}: need at least 2 stochastic passes for a standard deviation")
    if not has_dropout:
        raise ConfigError(
            f"{what} has no dropout layer (U-Nets with fewer than 6 down-samplings, i.e. trained on tiles under 64 px, "
            "or trained without dropout), so it has no stochastic passes to sample: drop --uncertainty"
        )


def mean_and_std(run: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation over `samples` calls of `run` on `batch` (float64 sums)."""
    total = sq = None
    for _ in range(samples):
        y = run(batch).astype(np.float64)
        total = y if total is None else total + y
        sq = y * y if sq is None else sq + y * y
    mean = total / samples  # type: ignore[operator]
    var = np.maximum(sq / samples - mean * mean, 0.0)  # type: ignore[operator]
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)
