"""The Pix2Pix networks and objective: published sizes, a 70 px receptive field, the loss formulas."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sarclear.models.discriminator import PatchDiscriminator, receptive_field
from sarclear.models.losses import (
    adversarial_loss,
    discriminator_loss,
    generator_losses,
    init_weights,
)
from sarclear.models.spec import ModelSpec


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_default_sizes_equal_the_published_pix2pix_networks() -> None:
    assert n_params(ModelSpec().build()) == 54_416_003  # unet_256, 5 -> 3 channels, batch norm
    assert n_params(PatchDiscriminator(in_channels=8)) == 2_770_753  # basic 70x70 PatchGAN, 8 channels


def test_receptive_field_is_70_px_computed_from_the_layers() -> None:
    assert receptive_field(PatchDiscriminator()) == 70
    assert receptive_field(PatchDiscriminator(n_layers=1)) == 16  # the "16x16 PatchGAN" of the paper
    assert receptive_field(PatchDiscriminator(n_layers=5)) == 286  # the "286x286 ImageGAN"


def test_receptive_field_matches_the_gradient_footprint() -> None:
    """Independent check: the input pixels that influence one central logit span 70 px."""
    d = PatchDiscriminator(in_channels=1, ndf=4).eval()  # eval: batch norm is per pixel, no coupling
    x = torch.randn(1, 1, 128, 128, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    assert int(rows.max() - rows.min() + 1) == 70


def test_patch_logits_shape_at_256_px() -> None:
    d = PatchDiscriminator(in_channels=8, ndf=8)
    assert d(torch.zeros(2, 8, 256, 256)).shape == (2, 1, 30, 30)


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_init_weights_follows_the_reference(norm: str) -> None:
    torch.manual_seed(0)
    d = init_weights(PatchDiscriminator(in_channels=8, ndf=64, norm=norm))
    conv = torch.cat([m.weight.flatten() for m in d.modules() if isinstance(m, nn.Conv2d)])
    assert abs(conv.mean().item()) < 1e-3 and conv.std().item() == pytest.approx(0.02, rel=0.02)
    assert all(m.bias.detach().abs().max().item() == 0 for m in d.modules() if isinstance(m, nn.Conv2d) and m.bias is not None)
    if norm == "batch":
        gamma = torch.cat([m.weight for m in d.modules() if isinstance(m, nn.BatchNorm2d)])
        assert gamma.mean().item() == pytest.approx(1.0, abs=0.01) and gamma.std().item() == pytest.approx(0.02, rel=0.2)


def test_vanilla_and_lsgan_losses() -> None:
    zero = torch.zeros(1, 1, 4, 4)
    assert adversarial_loss(zero, True).item() == pytest.approx(math.log(2))
    assert adversarial_loss(zero, False, "lsgan").item() == 0.0
    assert adversarial_loss(torch.ones(2, 1, 3, 3), True, "lsgan").item() == 0.0
    with pytest.raises(ValueError, match="unknown GAN mode"):
        adversarial_loss(zero, True, "wgan")


def test_discriminator_loss_is_halved() -> None:
    real, fake = torch.full((1, 1, 2, 2), 2.0), torch.full((1, 1, 2, 2), -1.0)
    expected = 0.5 * (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0)))
    assert discriminator_loss(real, fake).item() == pytest.approx(expected)


def test_generator_loss_weights_l1_by_lambda() -> None:
    fake, target = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    gan, l1 = generator_losses(torch.zeros(1, 1, 2, 2), fake, target, lambda_l1=100.0)
    assert gan.item() == pytest.approx(math.log(2)) and l1.item() == pytest.approx(50.0)
    assert l1.dtype == torch.float32


def test_residual_generator_keeps_its_correction_in_bfloat16_near_the_range_ends() -> None:
    """bfloat16 rounds the clamp limit 0.999 to 1.0, where atanh is inf: a bf16 engine (CUDA, or a
    CPU with AMX) returned exactly +-1 there and lost the model's correction."""
    spec = ModelSpec(in_channels=5, out_channels=3, ngf=4, n_down=5, residual=True, tile_size=32)
    generator = spec.build().eval()
    last = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-2.0)  # a correction of -2 before tanh: atanh(0.999) - 2 -> tanh(1.80) = 0.947
        x = torch.full((1, 5, 32, 32), 0.9995)
        fp32 = generator(x)
        bf16 = generator.to(torch.bfloat16)(x.bfloat16())
    assert bf16.dtype == torch.bfloat16 and fp32.dtype == torch.float32
    assert torch.allclose(bf16.float(), fp32, atol=1e-2) and float(bf16.float().max()) < 0.96  # before: exactly 1.0
