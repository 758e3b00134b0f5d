"""Fit a generator to one scene: L1 on the scene's own clear pixels, Adam with cosine decay.

A fresh model is *residual* (`ModelSpec.residual`): it outputs a correction of its own optical
input, in which the clouds are already graded in from the clear pixels around them (push-pull,
`sarclear.data.hole_fill`). Its output layer starts with zero bias and weights scaled by
`OUTPUT_GAIN`, so before any step the network returns that fill (already a strong non-learned
inpainting), and training only has to add what the radar and the scene's own texture tell it.
A non-residual model (`residual=False`, or a `--checkpoint` to fine-tune) instead starts *at mean
fill* when fresh: the output bias is the scene's mean clear colour (through atanh, the inverse of
the final tanh), the first design, kept for the comparison in docs/adapt.md.

The budget is a step count (`steps`, reproducible on a noisy shared machine) or wall-clock minutes
(`minutes`); the learning rate decays with the fraction of the budget used, so a time-limited run
still ends at a low rate. Same seed, same steps, same thread count: same weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from sarclear.adapt.pairs import training_batch
from sarclear.adapt.scene import AdaptScene, coarse_scene
from sarclear.models.spec import ModelSpec, depth_for_size
from sarclear.progress import progress_bar

#: The half-resolution scene joins the training only with this share of clear ground (as a scene must).
COARSE_MIN_CLEAR: float = 0.1
#: Scale of a fresh model's output-layer weights: small, so the start is (almost) its fill.
OUTPUT_GAIN: float = 0.1
#: The learning rate decays from `lr` to `lr * FINAL_LR_SHARE` (cosine).
FINAL_LR_SHARE: float = 0.05
#: A fresh model: narrow (CPU minutes), no dropout (one scene, no need for Pix2Pix's noise).
DEFAULT_NGF: int = 16
DEFAULT_CROP: int = 64
DEFAULT_BATCH: int = 8
DEFAULT_LR: float = 1e-3
#: Weight of the SSIM term beside L1 (`--ssim-weight`); off by default, docs/adapt.md says why.
SSIM_WEIGHT: float = 0.0
#: The display stretch, DN [0, 3000], in network units (DN [0, 10000] -> [-1, 1]).
SSIM_RANGE: float = 0.6


@dataclass
class FitReport:
    """What the fit did: steps taken, seconds, and the mean loss of each tenth of the run."""

    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)


def new_spec(use_sar: bool, crop: int = DEFAULT_CROP, ngf: int = DEFAULT_NGF, residual: bool = True) -> ModelSpec:
    """The spec of a model fitted from scratch on `crop`-px crops (RGB out, [SAR +] RGB in)."""
    return ModelSpec(
        in_channels=(2 if use_sar else 0) + 3, out_channels=3, ngf=ngf, n_down=depth_for_size(crop),
        norm="batch", dropout=False, use_sar=use_sar, bands="rgb", tile_size=crop, residual=residual,
    )  # fmt: skip


def output_layer(generator: nn.Module) -> nn.ConvTranspose2d:
    """The generator's last transposed convolution (before its tanh)."""
    layers = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    return layers[-1]  # modules() is depth-first: the outermost block's up-convolution comes last


def start_fresh(generator: nn.Module, spec: ModelSpec, fill: np.ndarray) -> None:
    """Make a fresh generator output (almost) its start: its own filled optical input when residual,
    else `fill`, the mean clear colour in network units."""
    layer = output_layer(generator)
    with torch.no_grad():
        layer.weight.mul_(OUTPUT_GAIN)
        if spec.residual:
            layer.bias.zero_()
        else:
            layer.bias.copy_(torch.atanh(torch.as_tensor(np.clip(fill, -0.99, 0.99), dtype=torch.float32)))


def masked_ssim_loss(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of 1 - SSIM map (Wang et al. 2004 window, torchmetrics) on the display stretch.

    L1 alone is minimised by the local median, which paints smooth or speckled guesses; SSIM
    rewards getting the local contrast and structure right, which is what a viewer (and the
    8-bit SSIM of the issue's table) sees. `SSIM_RANGE` is the 8-bit display stretch (DN 0-3000)
    in network units, so the SSIM constants match the ones the metric uses.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    _, full = structural_similarity_index_measure(output, target, data_range=SSIM_RANGE, return_full_image=True, reduction="none")
    return (weight * (1.0 - full)).sum() / (weight.sum() * output.shape[1]).clamp_min(1.0)


def masked_l1(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean absolute error; pixels of weight 0 (unknown truth) contribute nothing."""
    return (weight * (output - target).abs()).sum() / (weight.sum() * output.shape[1]).clamp_min(1.0)


def fit(
    scene: AdaptScene,
    generator: nn.Module,
    spec: ModelSpec,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    lr: float = DEFAULT_LR,
    ssim_weight: float = SSIM_WEIGHT,
    progress: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> FitReport:
    """Train `generator` in place on crops of `scene` for `steps` steps or `minutes` of wall time."""
    if (steps is None) == (minutes is None):
        raise ValueError("give exactly one of steps or minutes")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    coarse = coarse_scene(scene)  # half of the pairs, where it holds a crop with enough clear ground
    if min(coarse.valid.shape) < spec.tile_size or coarse.clear_share < COARSE_MIN_CLEAR:
        coarse = None
    generator.train()
    optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.9, 0.999))
    budget_s = None if minutes is None else 60.0 * minutes
    total = steps if steps is not None else None
    bar = progress_bar(total=total if total is not None else int(budget_s), disable=not progress, unit="step" if total else "s",
               desc="sarclear adapt: fitting", leave=False)  # fmt: skip
    start, step, losses, done = time.perf_counter(), 0, [], 0.0
    while done < 1.0:
        for group in optimizer.param_groups:
            group["lr"] = lr * (FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * done)))
        batch = training_batch(scene, spec.tile_size, batch_size, rng, coarse)
        x, target, weight = (torch.from_numpy(a) for a in (batch.x, batch.target, batch.weight))
        output = generator(x)
        loss = masked_l1(output, target, weight)
        if ssim_weight:
            loss = loss + ssim_weight * masked_ssim_loss(output, target, weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
        elapsed = time.perf_counter() - start
        if total is not None:
            done = step / total
            bar.update(1)
        else:
            done = min(1.0, elapsed / budget_s)  # type: ignore[operator]
            bar.update(int(elapsed) - bar.n)  # whole seconds of the budget; redrawn as often as the bar allows
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    seconds = time.perf_counter() - start
    tenths = [float(np.mean(part)) for part in np.array_split(np.asarray(losses), min(10, len(losses)))]
    log(f"fitted {step} steps in {seconds:.0f} s; L1 (network units) {tenths[0]:.4f} -> {tenths[-1]:.4f}")
    generator.eval()
    return FitReport(step, seconds, tenths)
