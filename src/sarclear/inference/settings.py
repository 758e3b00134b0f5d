"""What an inference ran with, written beside its numbers (metrics.json) and pixels (GeoTIFF tags).

A score or a picture is only comparable with another made the same way: device and precision
move outputs by a few DN, the batch-norm mode by decibels, the window grid decides where seams can
be, and N stochastic passes average what one pass would not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sarclear.inference.defaults import DEFAULT_NORM_MODE


@dataclass(frozen=True)
class EngineSettings:
    backend: str  # torch or onnx
    device: str  # torch device, or the onnxruntime provider
    precision: str  # fp32 or bf16 (onnx: fp32)
    norm: str  # batch-norm mode, `sarclear.inference.norm`
    tile: int  # window size in px
    overlap: int  # overlap between windows in px
    samples: int  # stochastic passes averaged per window (1: one deterministic pass)
    seed: int  # seed of the dropout masks (used when samples > 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tags(self) -> dict[str, str]:
        """GeoTIFF metadata items, `SARCLEAR_ENGINE_*`."""
        return {f"SARCLEAR_ENGINE_{key.upper()}": str(value) for key, value in asdict(self).items()}


def engine_settings(engine: object, *, tile: int, overlap: int, samples: int = 1, seed: int = 0) -> EngineSettings:
    """The settings of a `TorchEngine` / `OnnxEngine` (or any engine: unknown fields read `custom`)."""
    session = getattr(engine, "session", None)
    if session is not None:
        backend, device, precision = "onnx", session.get_providers()[0], "fp32"
    elif hasattr(engine, "device"):
        backend, device, precision = "torch", str(engine.device), str(getattr(engine, "precision", "fp32"))
    else:
        backend, device, precision = "custom", "custom", "custom"
    norm = str(getattr(engine, "norm", DEFAULT_NORM_MODE))
    return EngineSettings(backend, device, precision, norm, tile, overlap, samples, seed)
