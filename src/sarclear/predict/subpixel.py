"""The generator's last layer (a transposed convolution to 3 channels) as one ordinary convolution.

A stride-2, 4x4, padding-1 transposed convolution computes each of the four output phases (even or
odd row x even or odd column) from a 2x2 neighbourhood of the input with its own 2x2 slice of the
kernel. Those four 2x2 kernels stacked as output channels make one `Conv2d(cin, 4 * cout, 2, padding=1)`;
interleaving its outputs gives the transposed convolution exactly (same weights, same sums).

Why: oneDNN's transposed convolution is poorly vectorised when it has very few output channels
(the 128 -> 3 layer runs about 3x faster as a convolution to 12 channels: docs/predict.md), and that
layer works on the largest activations of the network.
Used at inference only, for layers with at most `MAX_OUT_CHANNELS` outputs; wider layers run as
fast or faster as the native transposed convolution (docs/predict.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Wider transposed convolutions are left alone (the rewrite is no faster for them).
MAX_OUT_CHANNELS: int = 13  # the 3-band (RGB) and 13-band (L1C) output layers
#: Kernel taps (of the 4 along one axis) used by output phase 0 and 1, for the input rows
#: (i - 1, i) and (i, i + 1) that a 2x2 window of the 1-padded input covers.
_PHASE_TAPS: dict[int, tuple[int, int]] = {0: (3, 1), 1: (2, 0)}


class SubPixelConvTranspose(nn.Module):
    """Drop-in for `ConvTranspose2d(cin, cout, 4, stride=2, padding=1)` at inference time."""

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        super().__init__()
        if not is_rewritable(deconv):
            raise ValueError(f"not a 4x4, stride-2, padding-1 transposed convolution: {deconv}")
        w = deconv.weight.detach()  # (cin, cout, 4, 4)
        cin, cout = w.shape[:2]
        kernel = w.new_zeros(2, 2, cout, cin, 2, 2)
        for a, rows in _PHASE_TAPS.items():
            for b, cols in _PHASE_TAPS.items():
                for p, kr in enumerate(rows):
                    for q, kc in enumerate(cols):
                        kernel[a, b, :, :, p, q] = w[:, :, kr, kc].t()
        self.out_channels = cout
        self.weight = nn.Parameter(kernel.reshape(4 * cout, cin, 2, 2), requires_grad=False)
        bias = deconv.bias.detach() if deconv.bias is not None else w.new_zeros(cout)
        self.bias = nn.Parameter(bias.repeat(4), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.weight, self.bias, padding=1)  # (n, 4 * cout, h + 1, w + 1), phases (a, b)
        n, _, h1, w1 = y.shape
        h, w = h1 - 1, w1 - 1
        y = y.view(n, 2, 2, self.out_channels, h1, w1)
        out = y.new_empty(n, self.out_channels, h, 2, w, 2)
        for a in (0, 1):
            for b in (0, 1):
                out[:, :, :, a, :, b] = y[:, a, b, :, a : a + h, b : b + w]
        return out.view(n, self.out_channels, 2 * h, 2 * w)


def is_rewritable(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.ConvTranspose2d)
        and module.kernel_size == (4, 4)
        and module.stride == (2, 2)
        and module.padding == (1, 1)
        and module.output_padding == (0, 0)
        and module.dilation == (1, 1)
        and module.groups == 1
    )


def rewrite_narrow_deconvs(module: nn.Module, max_out_channels: int = MAX_OUT_CHANNELS) -> int:
    """Replace, in place, every rewritable transposed convolution with few outputs; returns how many."""
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if is_rewritable(child) and child.out_channels <= max_out_channels:
                setattr(parent, name, SubPixelConvTranspose(child))
                count += 1
    return count
