"""`sarclear export-onnx CKPT OUT.onnx`: the generator as ONNX, checked against torch on export."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from sarclear.inference.defaults import DEFAULT_NORM_MODE, NORM_MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="run folder or generator.safetensors written by sarclear train")
    parser.add_argument("out", type=Path, help="output .onnx file (the model spec is stored in its metadata)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument(
        "--norm-mode", choices=NORM_MODES, default=DEFAULT_NORM_MODE,
        help=f"batch norm at inference: each window's own statistics, the running ones, or (default {DEFAULT_NORM_MODE}) "
        "window for a model trained at batch 1 and running otherwise",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from sarclear.predict.onnx_export import export_onnx

    path = export_onnx(args.checkpoint, args.out, opset=args.opset, norm=args.norm_mode)
    checked = "checked against torch" if importlib.util.find_spec("onnxruntime") else "not checked: onnxruntime not installed"
    print(f"sarclear export-onnx: wrote {path} (dynamic batch, height and width; {checked})", file=sys.stderr)
    return 0
