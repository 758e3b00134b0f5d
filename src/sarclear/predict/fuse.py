"""Fold eval-mode batch norm into the convolution before it: same outputs, one pass less per layer.

In eval mode `BatchNorm2d` is a fixed per-channel affine map, so `bn(conv(x))` equals a convolution
with rescaled weights and a shifted bias (`torch.nn.utils.fusion.fuse_conv_bn_eval`, which handles
transposed convolutions too). The Pix2Pix U-Net has a batch norm after every inner convolution, so
folding removes 13 of its ~60 memory-bound passes over the activations at inference time.
"""

from __future__ import annotations

import copy
import itertools

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(module: nn.Module, *, inplace: bool = False) -> nn.Module:
    """`module` in eval mode where every `Conv2d`/`ConvTranspose2d` directly followed by a `BatchNorm2d`
    with running statistics inside an `nn.Sequential` absorbs it (the norm becomes Identity).

    A copy unless `inplace` (which saves a second set of weights, 218 MB for the default model).
    """
    folded = (module if inplace else copy.deepcopy(module)).eval()
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        layers = list(seq.children())
        for i, (conv, norm) in enumerate(itertools.pairwise(layers)):
            if (
                isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d))
                and isinstance(norm, nn.BatchNorm2d)
                and norm.track_running_stats
                and norm.running_mean is not None
            ):
                seq[i] = fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))
                seq[i + 1] = nn.Identity()
    return folded
