"""How batch norm normalises at inference: with its running statistics, or with each window's own.

Pix2Pix trains batch norm at batch 1, so every training step normalises with the statistics of
that one image; the running averages of those statistics are a poor stand-in for them in the
deepest layers (2 x 2 and 4 x 4 maps at 128-256 px), and the reference code tests in train mode
(`model.train()`) unless `--eval`. `window` reproduces train-mode batch norm at batch 1 for every
window separately (per-sample, per-channel mean and variance, then the layer's affine weights),
so a window's output never depends on the other windows in its batch. `running` is the eval-mode
layer (and can be folded into the convolutions); `sarclear.predict.fuse` folds it.

Which is better depends on how the model was trained (docs/train.md measured both ways round):
at batch 1 the per-window statistics are what every training step saw, while at batch 4 (the
demo's recipe) each step already normalised over four images, so the running averages of those
are the better estimate and per-window statistics of one window are the mismatch. So the default,
`auto`, reads the batch that the checkpoint says its batch norm was trained with
(`ModelSpec.norm_batch`) and picks `window` for 1 and `running` otherwise (unknown, in checkpoints
from before the field, reads as `running`, PyTorch's eval mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from sarclear.errors import ConfigError
from sarclear.inference.defaults import DEFAULT_NORM_MODE, NORM_KEY, NORM_MODES

__all__ = [
    "DEFAULT_NORM_MODE", "NORM_KEY", "NORM_MODES", "WindowNorm", "check_norm_mode", "norm_mode", "resolve_norm_mode",
    "use_window_norm",
]  # fmt: skip


def check_norm_mode(mode: str) -> str:
    if mode not in NORM_MODES:
        raise ConfigError(f"--norm-mode {mode}: expected one of {', '.join(NORM_MODES)}")
    return mode


def resolve_norm_mode(mode: str, norm_batch: int) -> str:
    """`window` or `running`: `mode` itself, or for `auto` the one that matches training, where batch
    norm saw `norm_batch` images per statistic (1: `window`; more, or 0 for unknown: `running`)."""
    if check_norm_mode(mode) != "auto":
        return mode
    return "window" if norm_batch == 1 else "running"


class WindowNorm(nn.Module):
    """Train-mode `BatchNorm2d` at batch 1 applied to each sample of a batch on its own.

    Shares the affine parameters of the batch norm it replaces (no copy); statistics are computed
    in float32 whatever the activations' dtype, as batch norm does under autocast.
    """

    def __init__(self, norm: nn.modules.batchnorm._BatchNorm) -> None:
        super().__init__()
        self.weight = norm.weight
        self.bias = norm.bias
        self.eps = norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        return F.instance_norm(x.float(), weight=weight, bias=bias, eps=self.eps).to(x.dtype)


def _batch_norm_slots(module: nn.Module) -> list[tuple[nn.Module, str, nn.modules.batchnorm._BatchNorm]]:
    return [
        (parent, name, child)
        for parent in module.modules()
        for name, child in parent.named_children()
        if isinstance(child, nn.modules.batchnorm._BatchNorm)  # BatchNorm2d and SyncBatchNorm
    ]


def use_window_norm(module: nn.Module) -> nn.Module:
    """Replace every `BatchNorm2d` of `module` (in place) by a `WindowNorm`; returns `module`."""
    for parent, name, norm in _batch_norm_slots(module):
        setattr(parent, name, WindowNorm(norm))
    return module


@contextlib.contextmanager
def norm_mode(module: nn.Module, mode: str) -> Iterator[nn.Module]:
    """`module` in eval mode with batch norm in `mode` for the duration of the block, then restored
    (training mode, the original layers): validation borrows the generator being trained this way."""
    if check_norm_mode(mode) == "auto":
        raise ValueError("norm_mode needs a concrete mode: resolve `auto` with resolve_norm_mode first")
    was_training = module.training
    slots = _batch_norm_slots(module) if mode == "window" else []
    module.eval()
    try:
        for parent, name, norm in slots:
            setattr(parent, name, WindowNorm(norm))
        yield module
    finally:
        for parent, name, norm in slots:
            setattr(parent, name, norm)
        module.train(was_training)
