"""The two pictures of a curation run: contrast sigma per season, and rejected tiles per reason.

matplotlib's object API with the Agg canvas (no pyplot, no global backend state, no display
needed on a cluster node). PNGs are written atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sarclear.data.bands import s2_band_indexes
from sarclear.errors import RasterError
from sarclear.io.atomic import atomic_output
from sarclear.io.geotiff import read_raster
from sarclear.report.render import optical_rgb

THUMB_PX = 128


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return path


def sigma_histogram(
    path: Path, sigma: Mapping[str, Sequence[float]], threshold_for: Callable[[str], float], display_max_dn: float
) -> Path:
    """One histogram per season of the clear targets' contrast sigma, its threshold as a red line."""
    seasons = sorted(sigma) or ["(no measurable tile)"]
    fig = Figure(figsize=(4.0 * len(seasons), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(seasons)))
    for ax, season in zip(axes, seasons):
        values = np.asarray(sigma.get(season, []), dtype=np.float64)
        if values.size:
            top = max(float(values.max()), threshold_for(season)) * 1.05 + 1e-6
            ax.hist(values, bins=min(60, max(10, values.size // 5)), range=(0.0, top), color="#4a7fb0")
            ax.axvline(threshold_for(season), color="#c0392b", lw=2, label=f"threshold {threshold_for(season):g}")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_title(f"{season} (n={values.size})")
        ax.set_xlabel(f"contrast sigma (8-bit, DN 0-{display_max_dn:g})")
    axes[0].set_ylabel("triplets")
    return _save(fig, path)


def _thumbnail(sample: Mapping[str, Any], display_max_dn: float) -> np.ndarray | None:
    """The clear target's RGB rendering (the cloudy image when the target cannot be read), downsampled."""
    for key in ("s2_path", "s2_cloudy_path"):
        value = sample.get(key)
        if not value:
            continue
        try:
            dn, info = read_raster(value)
            idx, _ = s2_band_indexes(info, "rgb")
        except RasterError:
            continue
        rgb = optical_rgb(np.nan_to_num(dn[[i - 1 for i in idx]].astype(np.float32)), display_max_dn)
        step = max(1, max(rgb.shape[:2]) // THUMB_PX)
        return rgb[::step, ::step]
    return None


def contact_sheet(path: Path, samples: Mapping[str, Sequence[Mapping[str, Any]]], display_max_dn: float) -> Path:
    """A grid: one row per rejection reason, a few of its rejected triplets, each labelled."""
    reasons = [r for r in samples if samples[r]]
    cols = max((len(samples[r]) for r in reasons), default=1)
    fig = Figure(figsize=(1.9 * cols + 1.2, 2.1 * max(1, len(reasons))), layout="constrained")
    if not reasons:
        fig.text(0.5, 0.5, "no rejected triplets", ha="center", va="center", fontsize=14)
        return _save(fig, path)
    axes = np.asarray(fig.subplots(len(reasons), cols, squeeze=False))
    for row, reason in enumerate(reasons):
        for col in range(cols):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(samples[reason]):
                ax.axis("off")
                continue
            sample = samples[reason][col]
            thumb = _thumbnail(sample, display_max_dn)
            if thumb is None:
                ax.set_facecolor("#999999")
                ax.text(0.5, 0.5, "unreadable\nor missing", ha="center", va="center", fontsize=7, transform=ax.transAxes)
            else:
                ax.imshow(thumb, interpolation="nearest")
            others = [r for r in sample.get("reasons") or () if r != reason]
            label = str(sample["sample_id"]) + (f"\n+{';'.join(others)}" if others else "")
            ax.set_title(label, fontsize=6)
            if col == 0:
                ax.set_ylabel(reason, fontsize=8)
    return _save(fig, path)
