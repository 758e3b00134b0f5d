"""One Pix2Pix optimisation step: a D update, then a G update against the updated D.

The order of events is the reference's (`Pix2PixModel.optimize_parameters`):

1. G(x) once; its output serves both updates (detached for D).
2. D update: D(x, y) and D(x, G(x).detach()) in two passes (two batches, so batch norm keeps
   separate real and fake statistics, as in the reference), loss halved.
3. G update: D(x, G(x)) with D's parameters frozen (`requires_grad=False`, so no weight gradient
   of D is computed), against the D just updated: that pass cannot be shared with step 2.

`discriminator` is the (possibly DDP-wrapped) module for step 2, whose gradients are averaged
across ranks; `critic` is the same network unwrapped, for step 3, where D's gradients are not
wanted and DDP must not wait for them. One GradScaler (a pass-through unless float16) serves both
optimizers; it is updated once per step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from sarclear.models.losses import discriminator_loss, generator_losses

#: Order of the values `gan_step` returns (and the metrics.csv loss columns).
LOSS_NAMES: tuple[str, str, str] = ("G_gan", "G_l1", "D")


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of `module` do not require gradients inside the block."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def valid_or_none(valid: torch.Tensor, device: torch.device) -> torch.Tensor | None:
    """A batch's `valid_mask` on `device`, or None when every pixel is valid (the unmasked loss).

    Call it on the mask while it is still on the CPU: the test then costs no device sync, and the
    common all-valid batch runs exactly the unmasked code.
    """
    if bool(valid.all()):
        return None
    return valid.to(device, non_blocking=True)


def gan_step(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    generator: nn.Module,
    discriminator: nn.Module,
    critic: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    autocast: Callable[[], contextlib.AbstractContextManager],
    lambda_l1: float,
    gan_mode: str,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Update D then G on one batch (x: network input, y: target); returns detached (G_gan, G_l1, D).

    `valid` `(B, 1, H, W)` limits the L1 term to pixels holding data (None: all of them, see
    `valid_or_none`).
    """
    with autocast():
        fake = generator(x)
        fake_logits = discriminator(torch.cat([x, fake.detach()], dim=1))
        real_logits = discriminator(torch.cat([x, y], dim=1))
        loss_d = discriminator_loss(real_logits, fake_logits, gan_mode)
    opt_d.zero_grad(set_to_none=True)
    scaler.scale(loss_d).backward()
    scaler.step(opt_d)

    with frozen(critic):
        with autocast():
            loss_g_gan, loss_g_l1 = generator_losses(critic(torch.cat([x, fake], dim=1)), fake, y, lambda_l1, gan_mode, valid)
        opt_g.zero_grad(set_to_none=True)
        scaler.scale(loss_g_gan + loss_g_l1).backward()
    scaler.step(opt_g)
    scaler.update()
    return torch.stack([loss_g_gan, loss_g_l1, loss_d]).detach()
