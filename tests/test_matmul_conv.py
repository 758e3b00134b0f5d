"""The matrix-product convolutions compute what PyTorch's own layers compute: values and gradients."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from sarclear.models import matmul_conv
from sarclear.models.generator import UNetGenerator
from sarclear.models.matmul_conv import (
    MatmulConv2d,
    MatmulConvTranspose2d,
    use_matmul_for_small_images,
)

LAYERS = [
    # (layer, input size): the U-Net's 4x4 stride-2 layers, plus other kernels, strides and a bias
    (lambda: nn.Conv2d(16, 24, 4, stride=2, padding=1, bias=False), 8),
    (lambda: nn.Conv2d(16, 8, 3, stride=1, padding=1, bias=True), 6),
    (lambda: nn.Conv2d(16, 8, 3, stride=2, padding=2, dilation=2, bias=True), 7),
    (lambda: nn.ConvTranspose2d(16, 24, 4, stride=2, padding=1, bias=False), 4),
    (lambda: nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, bias=True), 3),
    (lambda: nn.ConvTranspose2d(16, 8, 4, stride=1, padding=0, bias=True), 2),
]


def _run(layer: nn.Module, x: torch.Tensor, autocast: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = layer(x)
    y.float().mul(torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    grads = (x.grad, layer.weight.grad)
    layer.zero_grad(set_to_none=True)
    return y.float(), grads[0], grads[1]


@pytest.mark.parametrize(("make", "size"), LAYERS)
@pytest.mark.parametrize("batch", [1, 3])
def test_float32_values_and_gradients_equal_pytorchs_layers(make, size: int, batch: int) -> None:
    torch.manual_seed(0)
    reference = make()
    fast = copy.deepcopy(reference)
    assert use_matmul_for_small_images(fast) == 1
    assert isinstance(fast, (MatmulConv2d, MatmulConvTranspose2d))
    x = torch.randn(batch, 16, size, size)
    for want, got in zip(_run(reference, x, False), _run(fast, x, False)):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("make", "size"), LAYERS[:1] + LAYERS[3:4])
def test_bf16_autocast_agrees_to_bf16_rounding(make, size: int) -> None:
    torch.manual_seed(0)
    reference = make()
    fast = copy.deepcopy(reference)
    use_matmul_for_small_images(fast)
    x = torch.randn(2, 16, size, size)
    want, got = _run(reference, x, True), _run(fast, x, True)
    assert got[2].dtype == fast.weight.dtype == torch.float32  # the gradient reaches the float32 weight
    for w, g in zip(want, got):
        assert (g - w).abs().max() <= 2**-7 * w.abs().max()  # a bf16 ulp or two, not a different function


def test_large_images_take_pytorchs_own_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above MAX_COLUMNS the layer is nn.Conv2d itself: no im2col is built."""
    layer = nn.Conv2d(4, 4, 4, stride=2, padding=1)
    use_matmul_for_small_images(layer)
    calls: list[int] = []
    real_unfold = torch.nn.functional.unfold
    monkeypatch.setattr(matmul_conv.F, "unfold", lambda *a, **k: calls.append(1) or real_unfold(*a, **k))
    layer(torch.randn(1, 4, 16, 16))  # 8 x 8 = 64 output pixels: matrix product
    assert calls == [1]
    layer(torch.randn(1, 4, 18, 18))  # 81 output pixels: nn.Conv2d
    assert calls == [1]


def test_generator_is_the_same_function_with_the_same_state_dict() -> None:
    torch.manual_seed(0)
    plain = UNetGenerator(in_channels=5, out_channels=3, ngf=8, n_down=6).eval()
    fast = copy.deepcopy(plain)
    swapped = use_matmul_for_small_images(fast)
    assert swapped == 12  # every convolution of the 6-level U-Net (each runs one way or the other)
    assert list(fast.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 5, 64, 64)
    torch.testing.assert_close(fast(x), plain(x), rtol=1e-5, atol=1e-5)


def test_unusual_layers_are_left_alone() -> None:
    model = nn.Sequential(nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
                          nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=1))
    assert use_matmul_for_small_images(model) == 0
    assert [type(m) for m in model] == [nn.Conv2d, nn.Conv2d, nn.ConvTranspose2d]
