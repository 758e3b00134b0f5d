"""Tiled, streamed inference over whole Sentinel scenes, blending, compositing, ONNX export.

The entry points are loaded on first use, so the CLI can read `predict.defaults` without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sarclear.predict.pipeline import predict_scene, predict_with_engine

__all__ = ["predict_scene", "predict_with_engine"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sarclear.predict import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
