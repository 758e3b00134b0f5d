"""The CPU speed-ups of `sarclear train` change how fast a step runs, not what it learns."""

from __future__ import annotations

import torch

from sarclear.models.spec import ModelSpec
from sarclear.train.cpu_speedups import AppliedSpeedups, CpuSpeedups, apply_cpu_speedups
from sarclear.train.nets import build_networks, optimizer
from sarclear.train.precision import Precision
from sarclear.train.step import gan_step


def _train(fast: bool, steps: int = 3) -> tuple[torch.nn.Module, torch.nn.Module, torch.Tensor]:
    """A few float32 steps of a small 64 px model, plain or with the CPU speed-ups, same data and seed."""
    cpu = torch.device("cpu")
    generator, discriminator = build_networks(ModelSpec(ngf=8, n_down=6, tile_size=64), ndf=8, d_layers=3, seed=0)
    if fast:
        # the allocator setting is process-wide and cannot change results: left out here
        applied = apply_cpu_speedups(generator, discriminator, cpu, CpuSpeedups(keep_freed_memory=False))
        assert applied.matmul_conv_layers > 0 and applied.discriminator_format == torch.channels_last
    opt_g = optimizer(generator, lr=2e-4, betas=(0.5, 0.999))
    opt_d = optimizer(discriminator, lr=2e-4, betas=(0.5, 0.999))
    precision = Precision("32", "cpu")
    data = torch.Generator().manual_seed(1)
    torch.manual_seed(2)  # dropout masks
    losses = []
    for _ in range(steps):
        x = torch.randn(1, 5, 64, 64, generator=data)
        y = torch.rand(1, 3, 64, 64, generator=data) * 2 - 1
        losses.append(gan_step(x, y, generator=generator, discriminator=discriminator, critic=discriminator,
                               opt_g=opt_g, opt_d=opt_d, scaler=precision.grad_scaler(), autocast=precision.autocast,
                               lambda_l1=100.0, gan_mode="vanilla"))
    return generator, discriminator, torch.stack(losses)


def test_fast_cpu_steps_learn_what_plain_steps_learn() -> None:
    plain_g, plain_d, plain_losses = _train(fast=False)
    fast_g, fast_d, fast_losses = _train(fast=True)
    torch.testing.assert_close(fast_losses, plain_losses, rtol=1e-4, atol=1e-5)
    for plain, fast in ((plain_g, fast_g), (plain_d, fast_d)):
        fast_state, plain_state = fast.state_dict(), plain.state_dict()
        assert list(fast_state) == list(plain_state)  # checkpoints are interchangeable
        diffs = torch.cat([(fast_state[k].double() - v.double()).abs().flatten() for k, v in plain_state.items()])
        # Same gradients up to summation order (~1e-7 relative). Adam divides by the gradient's
        # size, so where a gradient is ~0 such a difference can flip an update's sign: allow that
        # for a few values in a thousand (weights and the batch-norm statistics they feed), by at
        # most half a step (lr = 2e-4), and nothing else.
        assert diffs.max() <= 1e-4
        assert (diffs > 1e-6).double().mean() <= 1e-3
    initial, _ = build_networks(ModelSpec(ngf=8, n_down=6, tile_size=64), ndf=8, d_layers=3, seed=0)
    moved = max((a - b).abs().max().item() for a, b in zip(fast_g.state_dict().values(), initial.state_dict().values()))
    assert moved > 1e-4  # the steps did update the weights, so the comparison means something


def test_cpu_speedups_leave_other_devices_alone() -> None:
    generator, discriminator = build_networks(ModelSpec(ngf=4, n_down=5, tile_size=32), ndf=4, d_layers=3, seed=0)
    classes = [type(m) for m in generator.modules()]
    applied = apply_cpu_speedups(generator, discriminator, torch.device("meta"))
    assert applied == AppliedSpeedups()
    assert [type(m) for m in generator.modules()] == classes
    assert all(p.is_contiguous() for p in discriminator.parameters())
