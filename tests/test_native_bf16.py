"""`auto` precision in training and prediction follows one rule, checked with mocked hardware."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sarclear import native_bf16
from sarclear.predict import engine
from sarclear.train import precision

CUDA = torch.device("cuda", 0)
CPU = torch.device("cpu")


@pytest.fixture()
def gpu_capability(monkeypatch: pytest.MonkeyPatch):
    """Pretend the GPU has a given compute capability (no GPU needed)."""

    def set_capability(major: int, minor: int) -> None:
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, minor))

    return set_capability


@pytest.mark.parametrize(("capability", "train", "predict"), [
    ((6, 1), "16", "fp32"),  # Pascal: no bf16 tensor cores
    ((7, 0), "16", "fp32"),  # Volta (V100): bf16 only emulated
    ((7, 5), "16", "fp32"),  # Turing (T4)
    ((8, 0), "bf16", "bf16"),  # Ampere (A100)
    ((8, 9), "bf16", "bf16"),  # Ada (L4, L40)
    ((9, 0), "bf16", "bf16"),  # Hopper (H100, H200)
])  # fmt: skip
def test_auto_on_cuda_never_picks_emulated_bf16(gpu_capability, capability, train, predict) -> None:
    gpu_capability(*capability)
    chosen = precision.resolve_precision("auto", CUDA)
    assert chosen.name == train
    assert chosen.device_type == "cuda"
    assert engine.resolve_precision("auto", CUDA) == predict


def test_pre_ampere_auto_is_float16_with_a_grad_scaler(gpu_capability) -> None:
    gpu_capability(7, 5)
    chosen = precision.resolve_precision("auto", CUDA)
    assert chosen.dtype == torch.float16
    if torch.cuda.is_available():  # without CUDA torch disables any CUDA GradScaler (with a warning)
        assert chosen.grad_scaler().is_enabled()


def test_explicit_choices_are_kept_whatever_the_hardware(gpu_capability) -> None:
    gpu_capability(7, 0)
    assert precision.resolve_precision("bf16", CUDA).name == "bf16"
    assert precision.resolve_precision("32", CUDA).name == "32"
    assert engine.resolve_precision("bf16", CUDA) == "bf16"
    assert engine.resolve_precision("fp32", CUDA) == "fp32"


@pytest.mark.parametrize(("flags", "native"), [
    ("fpu sse4_2 avx2 avx512f avx512bw avx512vl", False),  # AVX-512 without BF16: oneDNN would emulate
    ("fpu avx2 avx512f avx512_bf16", True),  # Zen 4, Cooper Lake
    ("fpu avx2 avx512f amx_bf16 amx_tile", True),  # Sapphire Rapids
])  # fmt: skip
def test_cpu_rule_is_the_same_for_training_and_prediction(tmp_path: Path, monkeypatch, flags: str, native: bool) -> None:
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert native_bf16.cpu_has_native_bf16(info) is native
    monkeypatch.setattr(native_bf16, "cpu_has_native_bf16", lambda cpuinfo=info: native)
    assert precision.resolve_precision("auto", CPU).name == ("bf16" if native else "32")
    assert engine.resolve_precision("auto", CPU) == ("bf16" if native else "fp32")


@pytest.mark.parametrize(("name", "limit", "native"), [
    ("ONEDNN_MAX_CPU_ISA", "AVX2", False), ("DNNL_MAX_CPU_ISA", "avx512_core", False),
    ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX", True), ("ONEDNN_MAX_CPU_ISA", "ALL", True),
])  # fmt: skip
def test_a_onednn_isa_limit_below_bf16_means_emulated_bf16(tmp_path: Path, monkeypatch, name: str, limit: str, native: bool) -> None:
    """`ONEDNN_MAX_CPU_ISA=AVX2` makes oneDNN run as on an AVX2-only CPU, so `auto` must pick float32 there too."""
    for other in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(name, limit)
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n")
    assert native_bf16.cpu_has_native_bf16(info) is native


def test_unreadable_cpuinfo_means_no_native_bf16(tmp_path: Path) -> None:
    assert not native_bf16.cpu_has_native_bf16(tmp_path / "missing")
    assert not native_bf16.has_native_bf16(torch.device("meta"))
