"""Pictures for the evaluation report: tile renderings and the PSNR-vs-cloud-cover plot.

Optical and SAR tiles are rendered by `report/render.py` (the 8-bit display stretch of the metrics,
DN [0, 3000] -> [0, 255], so what the eye sees is what the `display` scale scores). Error maps show the per-pixel mean absolute
reflectance error over the bands on a fixed scale (`ERROR_VMAX`), comparable between tiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sarclear.data.normalize import to_reflectance
from sarclear.evaluate.aggregate import CLOUD_BINS, bin_label, cloud_bin
from sarclear.report.images import figure_png

#: Full colour of the error map: 0.1 reflectance, about the error of an uncorrected thin cloud.
ERROR_VMAX = 0.1


def mask_rgb(mask: np.ndarray) -> np.ndarray:
    """`(H, W)` bool cloud mask -> white clouds on slate blue."""
    out = np.empty((*mask.shape, 3), dtype=np.uint8)
    out[:] = (52, 73, 94)
    out[mask] = (245, 245, 245)
    return out


def error_rgb(pred_dn: np.ndarray, target_dn: np.ndarray, vmax: float = ERROR_VMAX) -> np.ndarray:
    """Mean absolute reflectance error per pixel, `magma` colour map over [0, vmax]."""
    from matplotlib import colormaps

    error = np.abs(to_reflectance(pred_dn) - to_reflectance(target_dn)).mean(axis=0)
    rgba = colormaps["magma"](np.clip(error / vmax, 0.0, 1.0))
    return np.round(rgba[..., :3] * 255).astype(np.uint8)


def psnr_vs_cloud_plot(points: Mapping[str, Sequence[tuple[float, float]]], scale_label: str = "reflectance") -> bytes:
    """PNG: each tile's PSNR against its cloud cover, one colour per method, with per-bin means."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 4.2))
    axes = figure.add_subplot()
    edges = sorted({e for b in CLOUD_BINS for e in b})
    for edge in edges[1:-1]:
        axes.axvline(edge, color="#cccccc", lw=0.8, zorder=0)
    for index, (method, pairs) in enumerate(points.items()):
        color = f"C{index}"
        data = np.array([p for p in pairs if np.isfinite(p[0]) and np.isfinite(p[1])], dtype=float).reshape(-1, 2)
        axes.scatter(data[:, 0], data[:, 1], s=22, alpha=0.6, color=color, label=method, edgecolors="none")
        labels = np.array([cloud_bin(c) for c in data[:, 0]])
        for low, high in CLOUD_BINS:
            inside = labels == bin_label(low, high)
            if inside.any():
                axes.hlines(data[inside, 1].mean(), low, high, color=color, lw=2.5)
    axes.set_xlim(0, 100)
    axes.set_xlabel("cloud cover of the cloudy input (%)")
    axes.set_ylabel(f"PSNR (dB, {scale_label})")
    axes.set_title("PSNR per tile (dots) and mean per cloud-cover bin (bars)")
    axes.grid(axis="y", color="#eeeeee")
    axes.legend(loc="best", fontsize=9)
    return figure_png(figure)
