"""Convolutions over a handful of pixels as one matrix product, for training on a CPU.

Why: at batch 1 the U-Net's inner layers (512-1024 channels over 1-16 px) have millions of weights
and almost no pixels, so their cost is moving weights, not arithmetic. oneDNN, PyTorch's CPU
convolution engine, first copies the weights into its blocked layout on every call, forward and
backward, and for a transposed convolution that copy is a slow transposition that costs many
times the forward pass itself (profiled with `ONEDNN_VERBOSE=1`). The same layer written as
`im2col` + one matrix multiplication (`F.unfold` / `F.fold` around `torch.mm`, which reads the
weights where they are) trains several times faster (docs/train.md has the profile and the
per-layer figures).

The result is the same function: same weights, same products, float32 accumulation in the matrix
multiply; only the order of the additions differs, so outputs agree to the last bit or two of the
compute precision (a test checks values and gradients against `F.conv2d` / `F.conv_transpose2d`).
Larger images go on through oneDNN, which is faster there. The parameters and their names are
those of `nn.Conv2d` / `nn.ConvTranspose2d`, so checkpoints do not change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Use the matrix product when a layer's product has at most this many columns (batch x pixels:
#: output pixels of a convolution, input pixels of a transposed one). Measured at batch 1, bf16:
#: clearly faster up to 8 x 8 = 64; at 16 x 16 no faster within a full training step.
MAX_COLUMNS: int = 64


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a convolution would run in here: autocast's when it is on, else the input's."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


def _plain(module: nn.Module) -> bool:
    """Only the cases `unfold`/`fold` express directly: one group, zero padding, no output padding."""
    padding_ok = isinstance(module.padding, tuple) and module.padding_mode == "zeros"
    extra_ok = not isinstance(module, nn.ConvTranspose2d) or module.output_padding == (0, 0)
    return module.groups == 1 and padding_ok and extra_ok


def _batched_mm(weight: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """weight (m, k) times each of cols (n, k, p): one 2-D `mm` over all n * p columns.

    Not `torch.matmul(weight, cols)`: that broadcasts the weight to a batch and, for a transposed
    weight, ran several times slower (docs/train.md has the figure)."""
    n, k, p = cols.shape
    if n == 1:
        return torch.mm(weight, cols[0]).unsqueeze(0)
    out = torch.mm(weight, cols.transpose(0, 1).reshape(k, n * p))
    return out.view(-1, n, p).transpose(0, 1)


class MatmulConv2d(nn.Conv2d):
    """`nn.Conv2d` that multiplies matrices when the output has at most `MAX_COLUMNS` pixels per batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        kh, kw = self.kernel_size
        ho = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        wo = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        if n * ho * wo > MAX_COLUMNS:
            return super().forward(x)
        dtype = _compute_dtype(x)
        cols = F.unfold(x.to(dtype), self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        out = _batched_mm(self.weight.to(dtype).flatten(1), cols).view(n, self.out_channels, ho, wo)
        return out if self.bias is None else out + self.bias.to(dtype).view(1, -1, 1, 1)


class MatmulConvTranspose2d(nn.ConvTranspose2d):
    """`nn.ConvTranspose2d` that multiplies matrices when the input has at most `MAX_COLUMNS` pixels per batch.

    Each input pixel times the (cin, cout * kh * kw) weight matrix gives its kh x kw patch of the
    output; `fold` adds the overlapping patches, in float32 (as oneDNN accumulates)."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        n, _, h, w = x.shape
        if output_size is not None or n * h * w > MAX_COLUMNS:
            return super().forward(x, output_size)
        kh, kw = self.kernel_size
        ho = (h - 1) * self.stride[0] - 2 * self.padding[0] + self.dilation[0] * (kh - 1) + 1
        wo = (w - 1) * self.stride[1] - 2 * self.padding[1] + self.dilation[1] * (kw - 1) + 1
        dtype = _compute_dtype(x)
        # Cast before transposing: the weight's gradient then comes back contiguous, and its cast
        # to float32 is a plain copy rather than a slow strided one.
        cols = _batched_mm(self.weight.to(dtype).flatten(1).t(), x.to(dtype).flatten(2))
        out = F.fold(cols.float(), (ho, wo), self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        out = out.to(dtype)
        return out if self.bias is None else out + self.bias.to(dtype).view(1, -1, 1, 1)


_SWAPS: dict[type[nn.Module], type[nn.Module]] = {
    nn.Conv2d: MatmulConv2d,
    nn.ConvTranspose2d: MatmulConvTranspose2d,
}


def use_matmul_for_small_images(module: nn.Module) -> int:
    """Switch, in place, every plain `Conv2d` / `ConvTranspose2d` in `module` to its matmul-capable
    subclass; returns how many. Only the class changes (same parameter objects, names, hooks), so
    optimizers built before or after, DDP and checkpoints see no difference."""
    count = 0
    for child in module.modules():
        swap = _SWAPS.get(type(child))
        if swap is not None and _plain(child):
            child.__class__ = swap
            count += 1
    return count
