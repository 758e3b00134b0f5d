"""Pix2Pix objective and initialisation (Isola et al., CVPR 2017, eq. 4 and section 3.3).

    G* = arg min_G max_D  L_cGAN(G, D) + lambda * L_L1(G),   lambda = 100

* `vanilla`: the cGAN loss as binary cross-entropy on logits (the paper's non-saturating form:
  G maximises log D(x, G(x)) instead of minimising log(1 - D(x, G(x))));
* `lsgan`: least squares on the same logits (Mao et al., 2017), an option of the reference code.

The L1 term is a mean over valid pixels only (`sarclear.data.valid`: no fill value in S1, the
cloudy input or the target), so a nodata stripe is neither learnt nor counted.

The discriminator loss is halved "to slow down the rate at which D learns relative to G" (paper,
section 3.3). Losses are computed in float32 even under autocast: a half-precision reduction of a
256 x 256 L1 error, or BCE near saturation, loses the digits the gradient lives in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GAN_MODES = ("vanilla", "lsgan")
#: Pix2Pix's L1 weight (paper, section 4; `--lambda_L1 100` in the reference code).
LAMBDA_L1 = 100.0
#: Std of the normal initialisation of the reference code (`init_weights`, `init_gain=0.02`).
INIT_STD = 0.02


def adversarial_loss(logits: torch.Tensor, real: bool, mode: str = "vanilla") -> torch.Tensor:
    """Mean loss of patch logits against the label "real" (1) or "fake" (0)."""
    logits = logits.float()
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"unknown GAN mode {mode!r}; expected one of {', '.join(GAN_MODES)}")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, mode: str = "vanilla") -> torch.Tensor:
    """(L(D(x, y), real) + L(D(x, G(x)), fake)) / 2: halved, as in the paper."""
    return 0.5 * (adversarial_loss(real_logits, True, mode) + adversarial_loss(fake_logits, False, mode))


def l1_loss(fake: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error over the valid pixels (`valid` `(B, 1, H, W)`, 1/0), in float32.

    `valid=None` means every pixel is valid and is plain `F.l1_loss`, bit for bit what the loss
    was before masking existed (resumed runs and the speed benchmark depend on that). Otherwise
    the mean is over valid pixels x channels, so a nodata stripe neither adds error nor dilutes
    it, and no gradient reaches the generator's output there. A batch without one valid pixel
    gives 0.
    """
    fake, target = fake.float(), target.float()
    if valid is None:
        return F.l1_loss(fake, target)
    weight = valid.to(dtype=torch.float32).expand_as(fake)
    return ((fake - target).abs() * weight).sum() / weight.sum().clamp(min=1.0)


def generator_losses(
    fake_logits: torch.Tensor,
    fake: torch.Tensor,
    target: torch.Tensor,
    lambda_l1: float = LAMBDA_L1,
    mode: str = "vanilla",
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial term, lambda * L1): G wants D to call its output real, and to match the target.

    The L1 term counts only `valid` pixels (`l1_loss`). The adversarial term is not masked: D
    judges whole patches, and a 70 x 70 receptive field has no clean "valid" subset; after curation
    (`no_data` rule) nodata is a small part of a kept tile.
    """
    gan = adversarial_loss(fake_logits, True, mode)
    return gan, l1_loss(fake, target, valid) * lambda_l1



def init_weights(module: nn.Module, std: float = INIT_STD) -> nn.Module:
    """Conv weights N(0, std), norm weights N(1, std), biases 0 (the reference `init_type='normal'`)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.modules.batchnorm._NormBase) and layer.weight is not None:
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)
    return module
