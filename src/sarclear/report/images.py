"""Encode arrays and matplotlib figures as PNG/JPEG bytes, for embedding in reports.

Figures are drawn with the Agg canvas on a bare `matplotlib.figure.Figure` (no pyplot), so report
code runs on headless cluster nodes and never touches global plotting state.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def _as_image(rgb: np.ndarray) -> Image.Image:
    if rgb.dtype != np.uint8 or rgb.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    return Image.fromarray(rgb)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Lossless PNG of a uint8 `(H, W)` or `(H, W, 3)` array."""
    buffer = io.BytesIO()
    _as_image(rgb).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG of a uint8 array: several times smaller than PNG for imagery, for galleries of many tiles."""
    buffer = io.BytesIO()
    _as_image(rgb).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def figure_png(figure, dpi: int = 110) -> bytes:
    """PNG of a `matplotlib.figure.Figure`, rendered with the Agg backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
