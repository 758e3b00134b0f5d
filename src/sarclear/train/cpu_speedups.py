"""The CPU-only speed-ups of a training step, behind one named call: `apply_cpu_speedups`.

Why one call: each speed-up is hardware-specific and changes how fast a step runs, never what it
computes (tests/test_train_speedups.py), so the training loop should not have to know them. They are:

- `keep_freed_memory` (train/allocator.py): glibc keeps freed memory in the process, so the same
  large buffers of every step do not page-fault again. Process-wide, which is why it is opt-in here
  and not done on import.
- matrix-product convolutions (models/matmul_conv.py): the generator's layers over a few pixels
  switch class to run as matrix products; same parameters, same state dict.
- a channels-last (NHWC) discriminator: oneDNN runs NHWC natively and spares the copies into its
  blocked layout; the input is converted by the first convolution.

The generator and the batches stay NCHW on every device (channels-last G was slower on CPU).
GPUs keep cuDNN's choices, so on any other device the call changes nothing.
The measurements behind each choice are in docs/train.md and `benchmarks/bench_train_ablation.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sarclear.models.matmul_conv import use_matmul_for_small_images
from sarclear.train.allocator import keep_freed_memory


@dataclass(frozen=True)
class CpuSpeedups:
    """Which speed-ups to apply: all of them by default (what `sarclear train` does on a CPU);
    `benchmarks/bench_train.py` switches them off one at a time to measure each."""

    keep_freed_memory: bool = True
    matmul_conv: bool = True
    channels_last_discriminator: bool = True


@dataclass(frozen=True)
class AppliedSpeedups:
    """What actually took effect (glibc may refuse `mallopt`; few layers may qualify)."""

    kept_freed_memory: bool = False
    matmul_conv_layers: int = 0
    discriminator_format: torch.memory_format = torch.contiguous_format


def apply_cpu_speedups(
    generator: nn.Module, discriminator: nn.Module, device: torch.device, choice: CpuSpeedups = CpuSpeedups()
) -> AppliedSpeedups:
    """Apply the speed-ups of `choice` to networks already on `device`, if it is a CPU; else nothing.

    Call it after moving the networks to the device and before building the optimizers' state
    (the parameters stay the same objects, so either order is correct).
    """
    if device.type != "cpu":
        return AppliedSpeedups()
    kept = keep_freed_memory() if choice.keep_freed_memory else False
    layers = use_matmul_for_small_images(generator) if choice.matmul_conv else 0
    d_format = torch.channels_last if choice.channels_last_discriminator else torch.contiguous_format
    discriminator.to(memory_format=d_format)
    return AppliedSpeedups(kept_freed_memory=kept, matmul_conv_layers=layers, discriminator_format=d_format)
