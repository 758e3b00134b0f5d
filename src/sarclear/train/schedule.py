"""The Pix2Pix learning-rate schedule: constant, then linear decay towards zero, stepped per epoch."""

from __future__ import annotations

import functools

import torch


def lr_factor(epoch: int, *, epochs: int, decay_epochs: int) -> float:
    """Multiplier of the base lr during `epoch` (0-based) of `epochs`, the last `decay_epochs` decaying.

    The reference rule (junyanz/pytorch-CycleGAN-and-pix2pix, `networks.get_scheduler`, 'linear'):
    `1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1)` with `n_epochs = epochs - decay_epochs`,
    so the last epoch trains at 1 / (decay_epochs + 1) of the base lr, never exactly zero.
    """
    constant = epochs - decay_epochs
    return 1.0 - max(0, epoch + 1 - constant) / (decay_epochs + 1)


def make_scheduler(optimizer: torch.optim.Optimizer, *, epochs: int, decay_epochs: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A `LambdaLR` over `lr_factor`, to be stepped once at the end of each epoch."""
    rule = functools.partial(lr_factor, epochs=epochs, decay_epochs=decay_epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=rule)
