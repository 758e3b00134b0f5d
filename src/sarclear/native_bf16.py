"""Whether a device runs bfloat16 in hardware: the one rule behind every `auto` precision.

Training (`train/precision.py`) and prediction (`predict/engine.py`) both pick bfloat16 for
`auto` only where it is native, because emulated bfloat16 is slower than float32:

* CUDA: compute capability 8.0 or later (Ampere, Ada, Hopper, Blackwell have bf16 tensor cores).
  Older GPUs (Volta 7.0, Turing 7.5) run bf16 only through emulation, which PyTorch's
  `torch.cuda.is_bf16_supported()` still reports as supported unless asked not to; the capability
  itself is unambiguous and testable, so it is what is read here.
* CPU: the AVX512-BF16 or AMX-BF16 instruction sets, read from /proc/cpuinfo. oneDNN's own check
  (`torch.backends.mkldnn.is_bf16_supported`) also answers yes on plain AVX-512 CPUs, where it
  emulates bf16 slowly, so it is not used.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

#: First CUDA compute capability with bf16 tensor cores (Ampere, NVIDIA's A100 whitepaper).
CUDA_NATIVE_BF16_CAPABILITY: tuple[int, int] = (8, 0)
CPUINFO = Path("/proc/cpuinfo")


#: oneDNN instruction-set limits (`ONEDNN_MAX_CPU_ISA`, or its older name `DNNL_MAX_CPU_ISA`) below
#: AVX512_CORE_BF16: with one of these set, oneDNN emulates bf16 even on a CPU that has it.
ISA_LIMITS_WITHOUT_BF16: frozenset[str] = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)


def onednn_isa_limit() -> str | None:
    """The instruction-set limit oneDNN was told to respect, upper-case, or None."""
    value = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return value.strip().upper() if value else None


def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True when the CPU flags list AVX512-BF16 or AMX-BF16 (Linux; False where unknown) and oneDNN
    is not limited below them (`ONEDNN_MAX_CPU_ISA=AVX2` is how a run reproduces an AVX2-only CPU)."""
    if onednn_isa_limit() in ISA_LIMITS_WITHOUT_BF16:
        return False
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def cuda_has_native_bf16(device: torch.device) -> bool:
    """True when the GPU `device` has bf16 tensor cores (compute capability >= 8.0)."""
    return tuple(torch.cuda.get_device_capability(device)) >= CUDA_NATIVE_BF16_CAPABILITY


def has_native_bf16(device: torch.device, cpuinfo: Path = CPUINFO) -> bool:
    """bfloat16 in hardware on `device` (a CUDA GPU or the CPU); False for any other device type."""
    if device.type == "cuda":
        return cuda_has_native_bf16(device)
    if device.type == "cpu":
        return cpu_has_native_bf16(cpuinfo)
    return False
