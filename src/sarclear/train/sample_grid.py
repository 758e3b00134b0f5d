"""PNG grids of a few fixed validation tiles: SAR | cloudy | prediction | target, one tile per row.

Tiles are rendered by `report/render.py`, the rendering of the curation pictures and the
evaluation gallery, so a grid looks like them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sarclear.data.normalize import s2_from_network
from sarclear.io.atomic import atomic_output
from sarclear.report.render import optical_rgb, sar_grey

GAP = 2  # px of white between panels


def _rgb(x: torch.Tensor, s2_clip_max: float) -> np.ndarray:
    """`(C, H, W)` network units -> `(H, W, 3)` uint8 (13 bands: B4, B3, B2)."""
    return optical_rgb(s2_from_network(x.detach().float().cpu(), s2_clip_max).numpy())


def _grey(x: torch.Tensor) -> np.ndarray:
    """`(2, H, W)` SAR in network units -> VV as `(H, W, 3)` uint8 grey."""
    return np.repeat(sar_grey(x.detach().float().cpu().numpy())[..., None], 3, axis=2)


def render_grid(
    sar: torch.Tensor, cloudy: torch.Tensor, prediction: torch.Tensor, target: torch.Tensor, s2_clip_max: float
) -> np.ndarray:
    """Batches `(N, C, H, W)` in network units -> one `(rows, cols, 3)` uint8 image with N rows of 4 panels."""
    rows = []
    for i in range(sar.shape[0]):
        panels = [_grey(sar[i]), _rgb(cloudy[i], s2_clip_max), _rgb(prediction[i], s2_clip_max), _rgb(target[i], s2_clip_max)]
        height = panels[0].shape[0]
        gap = np.full((height, GAP, 3), 255, np.uint8)
        rows.append(np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1))
    width = rows[0].shape[1]
    hgap = np.full((GAP, width, 3), 255, np.uint8)
    return np.concatenate([r for row in rows for r in (row, hgap)][:-1], axis=0)


def write_png(path: Path, image: np.ndarray) -> Path:
    """Write an `(H, W, 3)` uint8 image atomically."""
    with atomic_output(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return path
