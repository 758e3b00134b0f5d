"""Pix2Pix objective and initialisation (Isola et al., CVPR 2017, eq. 4 and section 3.3).

    G* = arg min_G max_D  L_cGAN(G, D) + lambda * L_L1(G),   lambda = 100

* `vanilla`: the cGAN loss as binary cross-entropy on logits (the paper's non-saturating form:
  G maximises log D(x, G(x)) instead of minimising log(1 - D(x, G(x))));
* `lsgan`: least squares on the same logits (Mao et al., 2017), an option of the reference code.

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


def generator_losses(
    fake_logits: torch.Tensor,
    fake: torch.Tensor,
    target: torch.Tensor,
    lambda_l1: float = LAMBDA_L1,
    mode: str = "vanilla",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial term, lambda * L1): G wants D to call its output real, and to match the target."""
    gan = adversarial_loss(fake_logits, True, mode)
    l1 = F.l1_loss(fake.float(), target.float()) * lambda_l1
    return gan, l1


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
