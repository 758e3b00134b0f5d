"""Run batches of windows through a generator: torch (any `nn.Module`) or onnxruntime.

An engine is any callable `(N, C, T, T) float32 network units -> (N, out, T, T) float32`, so the
tiling, blending and writing around it are tested with a plain module and run unchanged with the
real checkpoint or its ONNX export.

CPU speed (measured, see docs/predict.md): weights and activations in bfloat16 with the
channels_last memory format run about 2x faster than float32 on a CPU with AVX-512 BF16 (and
faster than bf16 autocast, which re-casts the 54M weights on every call); outputs move by a few DN.
`precision="auto"` uses bf16 where the hardware runs it natively, fp32 elsewhere, by the same rule
as training (`sarclear.native_bf16`: GPUs of compute capability 8.0+, CPUs with AVX512-BF16/AMX).
Unlike training, a pre-Ampere GPU gets fp32, not fp16: there is no GradScaler at inference, and
fp16 weights and activations of an unnormalised U-Net can overflow float16's range.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from sarclear.errors import CheckpointError, ConfigError
from sarclear.inference.norm import DEFAULT_NORM_MODE, NORM_KEY, check_norm_mode, resolve_norm_mode, use_window_norm
from sarclear.inference.sampling import mean_and_std, use_sampled_dropout
from sarclear.models.checkpoint import SPEC_KEY, load_generator
from sarclear.models.spec import ModelSpec
from sarclear.native_bf16 import has_native_bf16
from sarclear.predict.fuse import fold_batchnorm
from sarclear.predict.subpixel import rewrite_narrow_deconvs

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
BACKENDS: tuple[str, ...] = ("torch", "onnx")


class Engine(Protocol):
    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def parse_device(device: str | torch.device | None) -> torch.device:
    """`--device` as a torch device (None: CUDA when present, else CPU), or a one-line usage error.
    The one device choice of `predict`, `evaluate` and `sarclear doctor`."""
    if device is None:
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"--device {device}: not a torch device (e.g. cpu, cuda, cuda:1)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available on this machine (use cpu)")
    return dev


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto`/`fp32`/`bf16` as the concrete `fp32` or `bf16` that `device` runs."""
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision}: expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    return "bf16" if has_native_bf16(device) else "fp32"


class TorchEngine:
    """A module in eval mode under `torch.inference_mode`: batch norm in `norm` mode (`window`: each
    window's own statistics, `sarclear.inference.norm`; `running`: folded into the convolutions),
    the 3-channel output layer as an ordinary convolution (`subpixel`), weights in float32 or
    bfloat16, channels_last on CPU (oneDNN's preferred layout). Dropout is off, except during
    `sample`, which runs N stochastic passes with masks from a generator seeded with `seed`.

    The module is changed in place when `owned` (the caller will not use it again), else a copy is.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        device: str | torch.device | None = None,
        precision: str = "fp32",
        *,
        owned: bool = False,
        norm: str = "running",
        seed: int = 0,
    ) -> None:
        self.device = torch.device(device) if device is not None else default_device()
        self.precision = resolve_precision(precision, self.device)
        if check_norm_mode(norm) == "auto":
            raise ValueError("TorchEngine needs a concrete batch-norm mode: resolve `auto` with resolve_norm_mode")
        self.norm = norm
        self.dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        if self.norm == "running":
            self.module = fold_batchnorm(module, inplace=owned)
        else:
            self.module = use_window_norm((module if owned else copy.deepcopy(module)).eval())
        self._generator = torch.Generator(self.device).manual_seed(seed)
        self._dropouts = use_sampled_dropout(self.module, self._generator)
        rewrite_narrow_deconvs(self.module)
        self.module = self.module.to(self.device, self.dtype)
        if self.device.type == "cpu":
            self.module = self.module.to(memory_format=torch.channels_last)

    def reseed(self, seed: int) -> None:
        """Restart the dropout masks' random stream (`evaluate` does per tile, so tiles are independent)."""
        self._generator.manual_seed(seed)

    @property
    def has_dropout(self) -> bool:
        return bool(self._dropouts)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device, self.dtype)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = self.module(x)
        return y.float().cpu().numpy()

    def sample(self, batch: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (network units) of `samples` passes with dropout on."""
        for layer in self._dropouts:
            layer.active = True
        try:
            return mean_and_std(self, batch, samples)
        finally:
            for layer in self._dropouts:
                layer.active = False


class OnnxEngine:
    """An exported generator in onnxruntime (CUDA provider when installed and a GPU is present)."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        ort = _import_onnxruntime()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise CheckpointError(f"{path}: not a readable ONNX model ({str(exc).splitlines()[0]})") from exc
        self.input_name = self.session.get_inputs()[0].name
        #: Exports older than the batch-norm modes ran eval-mode batch norm, i.e. `running`.
        self.norm = self.session.get_modelmeta().custom_metadata_map.get(NORM_KEY, "running")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError("the ONNX backend needs onnxruntime: pip install 'sarclear[onnx]'") from exc
    return onnxruntime


def onnx_spec(engine: OnnxEngine, path: str | Path) -> ModelSpec:
    """The `ModelSpec` that `sarclear export-onnx` stored in the ONNX file's metadata."""
    meta = engine.session.get_modelmeta().custom_metadata_map
    if SPEC_KEY not in meta:
        raise CheckpointError(f"{path}: no sarclear model spec in its metadata (not written by sarclear export-onnx?)")
    return ModelSpec.from_dict(json.loads(meta[SPEC_KEY]))


def load_engine(
    checkpoint: str | Path,
    *,
    backend: str | None = None,
    device: str | None = None,
    precision: str = "auto",
    norm: str | None = None,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Engine, ModelSpec]:
    """An engine and its spec from a checkpoint (run folder, generator file) or an `.onnx` export.

    `backend=None` picks onnx for a `.onnx` file and torch otherwise. The onnx backend given a
    torch checkpoint exports it to a temporary file first (deleted once the session holds it).
    `norm` is the batch-norm mode (None: `DEFAULT_NORM_MODE`, `auto`, resolved from the checkpoint's
    spec; an `.onnx` file holds the mode it was exported with), `seed` seeds the dropout masks of `sample`.
    """
    path = Path(checkpoint)
    is_onnx = path.suffix.lower() == ".onnx"
    backend = backend or ("onnx" if is_onnx else "torch")
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend}: expected one of {', '.join(BACKENDS)}")
    if backend == "torch":
        if is_onnx:
            raise ConfigError(f"{path}: an ONNX model runs with --backend onnx, not torch")
        dev = parse_device(device)
        generator, spec = load_generator(path, dev)
        mode = resolve_norm_mode(norm or DEFAULT_NORM_MODE, spec.norm_batch)
        engine = TorchEngine(generator, dev, precision, owned=True, norm=mode, seed=seed)
        log(
            f"model: {spec.in_channels} -> {spec.out_channels} channels, ngf {spec.ngf}; torch on {dev}, {engine.precision}, "
            f"batch norm: {engine.norm}"
        )
        return engine, spec
    if is_onnx:
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint not found")
        onnx_engine = OnnxEngine(path)
    else:
        from sarclear.predict.onnx_export import export_onnx

        with tempfile.TemporaryDirectory(prefix="sarclear-onnx-") as tmp:
            exported = export_onnx(path, Path(tmp) / "generator.onnx", norm=norm or DEFAULT_NORM_MODE)
            onnx_engine = OnnxEngine(exported)
    spec = onnx_spec(onnx_engine, path)
    if norm not in (None, "auto") and onnx_engine.norm != norm:
        raise ConfigError(f"{path}: exported with batch norm mode {onnx_engine.norm}, not {norm}; re-export with --norm-mode {norm}")
    log(f"model: {spec.in_channels} -> {spec.out_channels} channels, ngf {spec.ngf}; onnxruntime {onnx_engine.session.get_providers()[0]}")
    return onnx_engine, spec
