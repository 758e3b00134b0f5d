"""Mixed precision, chosen once per run (as nanoGPT's single `ctx = torch.autocast(...)`).

* `32`: plain float32.
* `bf16`: bfloat16 autocast. Same exponent range as float32, so no loss scaling is needed.
* `16`: float16 autocast with a `torch.amp.GradScaler` (CUDA only): float16's range is narrow
  enough that small gradients underflow to zero without scaling.
* `auto`: the fastest safe choice for the device (`sarclear.native_bf16` says where bf16 is native).
  CUDA: bf16 on GPUs with bf16 tensor cores (compute capability 8.0+, Ampere and later), else
  float16 + GradScaler, never an emulated bf16 (pre-Ampere GPUs emulate it, slowly). CPU: bf16 only where the processor has native bf16 dot
  products (AVX512-BF16 or AMX); measured on a 2-core AMD EPYC (Zen 4, AVX512-BF16) a full
  Pix2Pix training step at 256 px is ~1.4x faster in bf16 (docs/train.md). Without native support
  oneDNN emulates bf16 and it is usually slower than float32, so float32 is kept there.

Losses and metrics are always computed in float32 (`models/losses.py`, `evaluate/metrics.py`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from sarclear.errors import ConfigError
from sarclear.native_bf16 import cpu_has_native_bf16, has_native_bf16

__all__ = ["Precision", "cpu_has_native_bf16", "resolve_precision"]

_DTYPES = {"32": torch.float32, "bf16": torch.bfloat16, "16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision: `name` is `32`, `bf16` or `16`, on `device_type` `cpu` or `cuda`."""

    name: str
    device_type: str

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context every forward pass runs in (a no-op for float32)."""
        if self.name == "32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """One scaler shared by G and D: scale each loss, step each optimizer, `update()` once per
        iteration, as PyTorch's AMP notes prescribe for several models and optimizers. Disabled
        (a pass-through) unless float16."""
        return torch.amp.GradScaler(self.device_type, enabled=self.name == "16")


def resolve_precision(requested: str, device: torch.device) -> Precision:
    """Turn `auto`/`32`/`bf16`/`16` into a concrete precision for `device`, or fail with a fix."""
    kind = device.type
    if requested == "auto":
        fallback = "16" if kind == "cuda" else "32"  # float16 needs the GradScaler, which is CUDA-only
        return Precision("bf16" if has_native_bf16(device) else fallback, kind)
    if requested not in _DTYPES:
        raise ConfigError(f"--precision must be one of auto, 32, bf16, 16, got {requested!r}")
    if requested == "16" and kind != "cuda":
        raise ConfigError("--precision 16 (float16 + GradScaler) needs a CUDA GPU; use --precision bf16 or 32 on a CPU")
    return Precision(requested, kind)
