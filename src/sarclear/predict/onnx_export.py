"""Export a checkpoint's generator to ONNX, with its `ModelSpec` in the file's metadata.

Uses the TorchScript-based exporter (`dynamo=False`): the U-Net is a plain feed-forward graph, the
classic exporter handles it without the extra `onnxscript` dependency, and dynamic batch, height
and width axes work out of the box. Opset 17 runs on every onnxruntime >= 1.17 (the `onnx` extra).
The exported model is checked against torch on one window before the file is kept.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from sarclear.errors import ConfigError
from sarclear.inference.norm import DEFAULT_NORM_MODE, NORM_KEY, resolve_norm_mode, use_window_norm
from sarclear.io.atomic import atomic_output
from sarclear.models.checkpoint import SPEC_KEY, load_generator

OPSET: int = 17
#: Largest |onnxruntime - torch| (network units, range [-1, 1]) accepted at export: float32 kernels
#: differ in summation order only, which stays orders of magnitude below this.
EXPORT_TOLERANCE: float = 1e-3


def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ConfigError("ONNX export needs the onnx package: pip install 'sarclear[onnx]'") from exc
    return onnx


def export_onnx(
    checkpoint: str | Path, out: str | Path, *, opset: int = OPSET, check: bool = True, norm: str = DEFAULT_NORM_MODE
) -> Path:
    """Write the generator of `checkpoint` as ONNX to `out` (atomically) and return `out`.

    Input `input` is `(batch, in_channels, H, W)` float32 in network units, H and W multiples of
    2**n_down; output `output` is `(batch, out_channels, H, W)` in [-1, 1]. Batch norm runs in
    `norm` mode (`sarclear.inference.norm`; `auto` resolved from the checkpoint's spec), recorded
    in the metadata. With `check`, and
    onnxruntime installed, the ONNX model must match torch within `EXPORT_TOLERANCE` on a random window.
    """
    onnx = _import_onnx()
    generator, spec = load_generator(checkpoint, "cpu")
    norm = resolve_norm_mode(norm, spec.norm_batch)
    if norm == "window":  # `sarclear.inference.norm`: exported as InstanceNormalization
        use_window_norm(generator)
    example = torch.rand(1, spec.in_channels, spec.tile_size, spec.tile_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = Path(out)
    with atomic_output(out) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                generator,
                (example,),
                str(tmp),
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "height", 3: "width"}},
                opset_version=opset,
            )
        model = onnx.load(str(tmp))
        entry = model.metadata_props.add()
        entry.key, entry.value = SPEC_KEY, json.dumps(spec.to_dict())
        entry = model.metadata_props.add()
        entry.key, entry.value = NORM_KEY, norm
        onnx.save(model, str(tmp))
        if check:
            _check_against_torch(tmp, generator, example)
    return out


def _check_against_torch(path: Path, generator: torch.nn.Module, example: torch.Tensor) -> float | None:
    """Max |onnxruntime - torch| on `example`; raises if above tolerance, None without onnxruntime."""
    try:
        import onnxruntime  # noqa: F401

        from sarclear.predict.engine import OnnxEngine
    except ImportError:
        return None
    with torch.inference_mode():
        expected = generator(example).numpy()
    got = OnnxEngine(path)(example.numpy())
    diff = float(np.abs(got - expected).max())
    if diff > EXPORT_TOLERANCE:
        raise RuntimeError(f"ONNX export differs from torch by {diff:.2e} (> {EXPORT_TOLERANCE}); please report this")
    return diff
