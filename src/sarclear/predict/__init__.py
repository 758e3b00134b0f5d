"""Tiled, streamed inference over whole Sentinel scenes, blending, compositing, ONNX export."""

from sarclear.predict.pipeline import predict_scene, predict_with_engine

__all__ = ["predict_scene", "predict_with_engine"]
