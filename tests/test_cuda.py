"""CUDA paths: mixed-precision steps, prediction on the GPU against the CPU, SyncBatchNorm.

Marked `cuda` and skipped without a GPU (CI has none); `benchmarks/gpu_check.sh` runs them on one
(`pytest -m cuda`). Tiny networks (ngf 8, 64 px): these check that the code runs and computes the
same things on a GPU, not its speed.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch import nn

from sarclear.models.spec import ModelSpec, depth_for_size
from sarclear.native_bf16 import cuda_has_native_bf16
from sarclear.predict.engine import TorchEngine, load_engine
from sarclear.train.nets import build_networks, optimizer
from sarclear.train.precision import resolve_precision
from sarclear.train.step import gan_step

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

SIZE = 64
SPEC = ModelSpec(ngf=8, n_down=depth_for_size(SIZE), tile_size=SIZE, dropout=False)


def batch(n: int = 2, device: str = "cuda") -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n, SPEC.in_channels, SIZE, SIZE, generator=generator).mul(2).sub(1)
    y = torch.rand(n, SPEC.out_channels, SIZE, SIZE, generator=generator).mul(2).sub(1)
    return x.to(device), y.to(device)


def train_steps(name: str, steps: int = 5) -> tuple[list[torch.Tensor], nn.Module, nn.Module, torch.amp.GradScaler]:
    """`steps` GAN steps on CUDA in precision `name`, as `sarclear train` runs them."""
    device = torch.device("cuda")
    precision = resolve_precision(name, device)
    generator, discriminator = build_networks(SPEC, ndf=8, d_layers=3, seed=0)
    generator.to(device)
    discriminator.to(device)
    before = copy.deepcopy(generator)
    opt_g = optimizer(generator, lr=2e-4, betas=(0.5, 0.999))
    opt_d = optimizer(discriminator, lr=2e-4, betas=(0.5, 0.999))
    scaler = precision.grad_scaler()
    x, y = batch()
    losses = [gan_step(x, y, generator=generator, discriminator=discriminator, critic=discriminator, opt_g=opt_g,
                       opt_d=opt_d, scaler=scaler, autocast=precision.autocast, lambda_l1=100.0, gan_mode="vanilla")
              for _ in range(steps)]  # fmt: skip
    return losses, before, generator, scaler


def assert_trained(losses: list[torch.Tensor], before: nn.Module, after: nn.Module) -> None:
    assert all(bool(torch.isfinite(step).all()) for step in losses), losses
    weights = dict(after.named_parameters())
    assert all(bool(torch.isfinite(p).all()) for p in weights.values())
    moved = [name for name, p in before.named_parameters() if not torch.equal(p.to(weights[name].device), weights[name])]
    assert moved, "no weight changed: every step was skipped"


def test_float16_step_with_grad_scaler_is_finite_and_learns() -> None:
    losses, before, after, scaler = train_steps("16")
    assert scaler.is_enabled()
    assert 0 < scaler.get_scale() < float("inf")
    assert_trained(losses, before, after)


def test_bfloat16_step_is_finite_and_learns() -> None:
    losses, before, after, scaler = train_steps("bf16")
    assert not scaler.is_enabled()  # bf16 has float32's range: no scaling
    assert_trained(losses, before, after)


def test_auto_precision_on_this_gpu_is_native() -> None:
    device = torch.device("cuda")
    assert resolve_precision("auto", device).name == ("bf16" if cuda_has_native_bf16(device) else "16")


@pytest.mark.parametrize("norm", ["running", "window"])
@pytest.mark.parametrize(("precision", "max_error", "mean_error"), [("fp32", 2e-2, 2e-3), ("bf16", 1e-1, 1e-2)])
def test_prediction_on_cuda_equals_cpu(tmp_path: Path, precision: str, max_error: float, mean_error: float, norm: str) -> None:
    """Network units ([-1, 1]); 2e-2 is 1 % of the range. cuDNN may use TF32 for float32
    convolutions and bf16 keeps 8 bits of mantissa, so the GPU is held to a tolerance, not bits.
    Both batch-norm modes: running statistics folded, and each window's own (a batch-1 model's default)."""
    torch.manual_seed(0)
    module = SPEC.build()
    cpu = TorchEngine(module, "cpu", "fp32", norm=norm)
    gpu = TorchEngine(module, "cuda", precision, norm=norm)
    x = batch(4, "cpu")[0].numpy()
    expected, got = cpu(x), gpu(x)
    assert got.shape == expected.shape and got.dtype == np.float32
    error = np.abs(got - expected)
    assert error.max() < max_error and error.mean() < mean_error, (error.max(), error.mean())


def test_uncertainty_sampling_runs_on_cuda_with_a_cuda_generator() -> None:
    """`predict --uncertainty`: dropout masks drawn from a generator on the GPU (a CPU generator with
    CUDA tensors raises). The streams differ from the CPU's, so only shape, finiteness and spread."""
    torch.manual_seed(0)
    spec = ModelSpec(ngf=8, n_down=depth_for_size(SIZE), tile_size=SIZE, dropout=True)
    engine = TorchEngine(spec.build(), "cuda", "fp32", seed=3)
    assert engine.has_dropout
    mean, std = engine.sample(batch(2, "cpu")[0].numpy(), 4)
    assert mean.shape == std.shape == (2, spec.out_channels, SIZE, SIZE)
    assert np.isfinite(mean).all() and np.isfinite(std).all() and float(std.mean()) > 0


def test_residual_model_on_cuda_in_bf16_keeps_its_correction() -> None:
    spec = ModelSpec(ngf=8, n_down=depth_for_size(SIZE), tile_size=SIZE, dropout=False, residual=True)
    module = spec.build()
    x = np.full((1, spec.in_channels, SIZE, SIZE), 0.9995, dtype=np.float32)
    got, expected = TorchEngine(module, "cuda", "bf16")(x), TorchEngine(module, "cpu", "fp32")(x)
    assert np.isfinite(got).all() and np.abs(got - expected).max() < 2e-2


def test_checkpoint_loads_onto_the_gpu(tmp_path: Path) -> None:
    from sarclear.models.checkpoint import save_generator

    checkpoint = save_generator(tmp_path / "generator.safetensors", SPEC.build(), SPEC)
    engine, spec = load_engine(checkpoint, device="cuda")
    assert spec == SPEC and engine.device.type == "cuda"
    assert engine.precision == ("bf16" if cuda_has_native_bf16(engine.device) else "fp32")
    out = engine(batch(2, "cpu")[0].numpy())
    assert out.shape == (2, SPEC.out_channels, SIZE, SIZE) and np.isfinite(out).all()


def test_the_training_devices_rng_state_is_saved_and_restored() -> None:
    """Dropout masks on the GPU continue exactly after a resume, through a weights-only state.pt."""
    import io

    from sarclear.train.state import capture_rng, restore_rng

    device = torch.device("cuda", torch.cuda.current_device())
    state = capture_rng(device)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    expected = torch.rand(4, device=device)
    torch.rand(100, device=device)
    restore_rng(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True), device)
    assert torch.equal(torch.rand(4, device=device), expected)


@pytest.fixture()
def one_rank_nccl_group(tmp_path: Path):
    """A one-process NCCL group, as `torchrun --nproc_per_node=1` would give a process."""
    dist.init_process_group("nccl", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1,
                            device_id=torch.device("cuda", 0))  # fmt: skip
    yield
    dist.destroy_process_group()


@pytest.mark.usefixtures(one_rank_nccl_group.__name__)
def test_sync_batchnorm_generator_computes_what_batchnorm_does() -> None:
    """Every batch norm of sarclear's U-Net becomes a SyncBatchNorm that computes what it did:
    forward, gradients, running statistics. With one rank SyncBatchNorm takes batch norm's own path
    (there is nothing to reduce); the reduction across GPUs needs two of them."""
    torch.manual_seed(0)
    plain = SPEC.build().cuda().train()
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(plain)).train()
    assert not any(type(m) is nn.BatchNorm2d for m in synced.modules())
    assert any(isinstance(m, nn.SyncBatchNorm) for m in synced.modules())
    x = batch(2)[0]
    out_plain, out_synced = plain(x), synced(x)
    torch.testing.assert_close(out_synced, out_plain, atol=1e-4, rtol=1e-4)
    out_plain.square().mean().backward()
    out_synced.square().mean().backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), synced.named_parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-4, rtol=1e-3, msg=name)
    for (name, a), (_, b) in zip(plain.named_buffers(), synced.named_buffers(), strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4, msg=name)
