"""The conditional PatchGAN discriminator of Pix2Pix (Isola et al., CVPR 2017, section 3.2.2).

It sees the network input and an output image concatenated along channels (5 + 3 = 8 channels
for SAR + cloudy RGB -> clear RGB) and answers, for every overlapping patch of the input, "real
or fake?" as one logit. With `n_layers=3` (three stride-2 convolutions) each logit sees a 70 x 70
pixel patch: the "70x70 PatchGAN" of the paper, the official `NLayerDiscriminator`
(junyanz/pytorch-CycleGAN-and-pix2pix, `models/networks.py`). `receptive_field` computes that
size from the layers themselves, so a change of architecture cannot silently change it.
"""

from __future__ import annotations

import torch
from torch import nn

from sarclear.models.generator import norm_layer


class PatchDiscriminator(nn.Module):
    """Conv(4, s2) + LeakyReLU, `n_layers - 1` more Conv(4, s2) + norm + LeakyReLU (width doubling
    up to 8 * ndf), one Conv(4, s1) + norm + LeakyReLU, and a Conv(4, s1) down to one logit map.

    Biases are dropped before batch norm (the mean subtraction cancels them), as in the reference;
    with instance norm they are kept. With the defaults and 8 input channels: 2,770,753 parameters.
    """

    def __init__(self, in_channels: int = 8, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        make_norm = norm_layer(norm)
        use_bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        width = ndf
        for n in range(1, n_layers + 1):
            stride = 2 if n < n_layers else 1
            next_width = ndf * min(2**n, 8)
            layers += [
                nn.Conv2d(width, next_width, 4, stride=stride, padding=1, bias=use_bias),
                make_norm(next_width),
                nn.LeakyReLU(0.2, True),
            ]
            width = next_width
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        """`(B, in_channels, H, W)` input+output pair -> `(B, 1, h, w)` logits, one per patch."""
        return self.model(pair)


def receptive_field(module: nn.Module) -> int:
    """Side in input pixels seen by one output unit of a plain stack of convolutions.

    Walks the convolutions backwards: a unit that sees `r` positions of a layer's output sees
    `(r - 1) * stride + kernel` positions of its input (dilation 1). Padding does not change it.
    """
    size = 1
    for layer in reversed([m for m in module.modules() if isinstance(m, nn.Conv2d)]):
        kernel, stride = layer.kernel_size[0], layer.stride[0]
        size = (size - 1) * stride + kernel
    return size
