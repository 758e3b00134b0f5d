"""PNG grids of a few fixed validation tiles: SAR | cloudy | prediction | target, one tile per row.

Optical images use the display stretch of `data/normalize.py` (DN [0, 3000] -> [0, 255], the
curation rendering), so a grid looks like the curation pictures and the evaluation gallery. SAR
shows VV in grey over its clip range ([-25, 0] dB -> black..white).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sarclear.data.bands import S2_RGB_INDEXES
from sarclear.data.normalize import s2_from_network, to_display
from sarclear.io.atomic import atomic_output

GAP = 2  # px of white between panels


def _rgb(x: torch.Tensor, s2_clip_max: float) -> np.ndarray:
    """`(C, H, W)` network units -> `(H, W, 3)` uint8 with the display stretch (13 bands: B4, B3, B2)."""
    if x.shape[0] == 13:
        x = x[[i - 1 for i in S2_RGB_INDEXES]]
    dn = s2_from_network(x.detach().float().cpu(), s2_clip_max)
    return np.round(to_display(dn).numpy()).astype(np.uint8).transpose(1, 2, 0)


def _grey(x: torch.Tensor) -> np.ndarray:
    """`(H, W)` in [-1, 1] -> `(H, W, 3)` uint8."""
    v = np.round((x.detach().float().cpu().clamp(-1, 1).numpy() + 1.0) * 127.5).astype(np.uint8)
    return np.repeat(v[..., None], 3, axis=2)


def render_grid(
    sar: torch.Tensor, cloudy: torch.Tensor, prediction: torch.Tensor, target: torch.Tensor, s2_clip_max: float
) -> np.ndarray:
    """Batches `(N, C, H, W)` in network units -> one `(rows, cols, 3)` uint8 image with N rows of 4 panels."""
    rows = []
    for i in range(sar.shape[0]):
        panels = [_grey(sar[i, 0]), _rgb(cloudy[i], s2_clip_max), _rgb(prediction[i], s2_clip_max), _rgb(target[i], s2_clip_max)]
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
