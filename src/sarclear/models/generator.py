"""The Pix2Pix U-Net generator (Isola et al., CVPR 2017), built recursively from one block type.

Built innermost to outermost like the official implementation (junyanz/pytorch-CycleGAN-and-pix2pix,
`UnetSkipConnectionBlock`), so the skip structure reads directly off `UNetBlock.forward`:
`cat([x, up(inner(down(x)))])`. With `in_channels=5, out_channels=3, ngf=64, n_down=8` and batch
norm, the parameter count is that of the published `unet_256` with a 5-channel input.

`residual=True` (used by `sarclear adapt`) makes the network a correction of its own optical
input: `tanh(atanh(x_optical) + body(x))`, where `x_optical` is the input's last `out_channels`
channels (the cloudy optical, its clouds already filled) and `body` is the same U-Net without its
final tanh. The weights are the same tensors under the same names; only the output changes.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

#: A residual generator's optical input is clamped to this before atanh (finite at DN 0 and at the clip).
RESIDUAL_INPUT_LIMIT: float = 0.999


def norm_layer(kind: str) -> type[nn.Module] | functools.partial:
    """`batch` (Pix2Pix default) or `instance` (no running statistics; batch-size independent)."""
    if kind == "batch":
        return nn.BatchNorm2d
    if kind == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    raise ValueError(f"unknown norm {kind!r}; expected 'batch' or 'instance'")


class UNetBlock(nn.Module):
    """down -> inner block -> up, with the block's input concatenated to its output (the skip).

    Bias is dropped before batch norm (it would be cancelled by the mean subtraction), as in the
    reference. The outermost block has no skip and ends in tanh; the innermost has no inner block.
    """

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        *,
        in_channels: int | None = None,
        inner: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        dropout: bool = False,
        final_tanh: bool = True,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        in_channels = outer_channels if in_channels is None else in_channels
        make_norm = norm_layer(norm)
        use_bias = norm == "instance"
        down_conv = nn.Conv2d(in_channels, inner_channels, 4, stride=2, padding=1, bias=use_bias)
        down_act = nn.LeakyReLU(0.2, True)
        up_act = nn.ReLU(True)
        if outermost:
            up_conv = nn.ConvTranspose2d(inner_channels * 2, outer_channels, 4, stride=2, padding=1)
            layers: list[nn.Module] = [down_conv, inner, up_act, up_conv]  # type: ignore[list-item]
            if final_tanh:  # parameter-free, last: the state dict is the same either way
                layers.append(nn.Tanh())
        elif innermost:
            up_conv = nn.ConvTranspose2d(inner_channels, outer_channels, 4, stride=2, padding=1, bias=use_bias)
            layers = [down_act, down_conv, up_act, up_conv, make_norm(outer_channels)]
        else:
            up_conv = nn.ConvTranspose2d(inner_channels * 2, outer_channels, 4, stride=2, padding=1, bias=use_bias)
            layers = [down_act, down_conv, make_norm(inner_channels), inner, up_act, up_conv, make_norm(outer_channels)]  # type: ignore[list-item]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)


class UNetGenerator(nn.Module):
    """U-Net with `n_down` stride-2 stages: 8 for 256 px tiles (1x1 bottleneck), fewer for small tiles.

    Channel widths follow Pix2Pix: ngf, 2ngf, 4ngf, then 8ngf for every deeper stage; dropout 0.5 in
    the three innermost decoder blocks (Pix2Pix's noise source), when the network is deep enough.
    """

    def __init__(
        self,
        in_channels: int = 5,
        out_channels: int = 3,
        ngf: int = 64,
        n_down: int = 8,
        norm: str = "batch",
        dropout: bool = True,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if n_down < 5:
            raise ValueError(f"n_down must be at least 5 (got {n_down}); use tiles of at least 32 px")
        block = UNetBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for i in range(n_down - 5):
            block = UNetBlock(ngf * 8, ngf * 8, inner=block, norm=norm, dropout=dropout and i < 3)
        block = UNetBlock(ngf * 4, ngf * 8, inner=block, norm=norm)
        block = UNetBlock(ngf * 2, ngf * 4, inner=block, norm=norm)
        block = UNetBlock(ngf, ngf * 2, inner=block, norm=norm)
        if residual and in_channels < out_channels:
            raise ValueError(f"a residual generator needs its {out_channels} output bands among its {in_channels} inputs")
        self.model = UNetBlock(out_channels, ngf, in_channels=in_channels, inner=block, outermost=True, norm=norm,
                               final_tanh=not residual)  # fmt: skip
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_down = n_down
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return self.model(x)
        # In float32 whatever the model runs in: bfloat16 rounds the limit 0.999 to 1.0, and atanh(1)
        # is inf, so a bf16 engine would lose the correction at DN near 0 and near the clip.
        base = x[:, -self.out_channels :].float().clamp(-RESIDUAL_INPUT_LIMIT, RESIDUAL_INPUT_LIMIT)
        atanh = 0.5 * torch.log((1 + base) / (1 - base))  # torch.atanh, written so ONNX (opset 17) exports it
        correction = self.model(x)
        return torch.tanh(atanh + correction.float()).to(torch.promote_types(correction.dtype, x.dtype))
