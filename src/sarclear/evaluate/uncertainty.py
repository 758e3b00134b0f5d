"""How well the predicted uncertainty ranks the errors: Spearman correlation and a binned plot.

A useful uncertainty map is one whose bright pixels are where the prediction is wrong; its scale
need not match the error's (the dropout spread is not calibrated), so the score is rank-based:
Spearman's correlation (torchmetrics) between the per-pixel standard deviation of the stochastic
passes and the per-pixel absolute error, both averaged over the bands, pooled over the tiles'
valid pixels. Every tile contributes the same number of pixels (an even-strided subset of at most
`PIXELS_PER_TILE`), so memory stays flat in the number of tiles and big tiles do not dominate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torchmetrics.functional import spearman_corrcoef

from sarclear.data.normalize import to_reflectance

#: Pixels kept per tile for the pooled correlation (a 256 px tile has 65,536).
PIXELS_PER_TILE: int = 4096
#: Uncertainty bins of the plot (equal counts: deciles).
PLOT_BINS: int = 10


class UncertaintyScore:
    """Collects (std, |error|) pixel pairs tile by tile; `result()` gives Spearman and the bins."""

    def __init__(self, pixels_per_tile: int = PIXELS_PER_TILE) -> None:
        self.pixels_per_tile = pixels_per_tile
        self._std: list[np.ndarray] = []
        self._err: list[np.ndarray] = []
        self._per_tile: list[float] = []

    def add(self, std_dn: torch.Tensor, pred_dn: torch.Tensor, target_dn: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        """One batch: `(B, C, H, W)` std and prediction in DN, the target in DN, optional `(B, H, W)` valid mask."""
        std = (std_dn.float() / 10000.0).mean(dim=1).flatten(1).cpu()  # reflectance units, as the error
        err = (to_reflectance(pred_dn.float()) - to_reflectance(target_dn.float())).abs().mean(dim=1).flatten(1).cpu()
        keep = valid.bool().flatten(1).cpu() if valid is not None else torch.ones_like(std, dtype=torch.bool)
        for s, e, k in zip(std, err, keep):
            s, e = s[k], e[k]
            if s.numel() < 2:
                continue
            step = max(1, s.numel() // self.pixels_per_tile)
            self._std.append(s[::step][: self.pixels_per_tile].numpy())
            self._err.append(e[::step][: self.pixels_per_tile].numpy())
            self._per_tile.append(_spearman(s, e))

    def result(self) -> dict[str, Any]:
        if not self._std:
            return {"spearman": math.nan, "spearman_per_tile_mean": math.nan, "pixels": 0, "tiles": 0, "bins": []}
        std, err = np.concatenate(self._std), np.concatenate(self._err)
        per_tile = np.asarray(self._per_tile, dtype=float)
        edges = np.unique(np.quantile(std, np.linspace(0, 1, PLOT_BINS + 1)))
        index = np.clip(np.searchsorted(edges, std, side="right") - 1, 0, max(len(edges) - 2, 0))
        bins = [
            {"std_mean": float(std[index == b].mean()), "abs_error_mean": float(err[index == b].mean()), "pixels": int((index == b).sum())}
            for b in range(max(len(edges) - 1, 1))
            if (index == b).any()
        ]
        return {
            "spearman": _spearman(torch.from_numpy(std), torch.from_numpy(err)),
            "spearman_per_tile_mean": float(np.nanmean(per_tile)) if np.isfinite(per_tile).any() else math.nan,
            "pixels": int(std.size),
            "tiles": len(self._std),
            "units": "reflectance (DN / 10000), mean over bands",
            "bins": bins,
        }


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rho of two 1-D tensors; NaN when either is constant (no ranking to compare)."""
    if a.numel() < 2 or float(a.std()) == 0.0 or float(b.std()) == 0.0:
        return math.nan
    return float(spearman_corrcoef(a.double(), b.double()))


def error_vs_uncertainty_plot(result: dict[str, Any]) -> bytes:
    """PNG: mean absolute error per uncertainty decile (the higher the bar to the right, the better)."""
    from matplotlib.figure import Figure

    from sarclear.report.images import figure_png

    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot()
    bins = result.get("bins", [])
    x = [b["std_mean"] for b in bins]
    y = [b["abs_error_mean"] for b in bins]
    axes.plot(x, y, "o-", color="C0", label="mean |error| per uncertainty decile")
    top = max(x + y + [1e-6])
    axes.plot([0, top], [0, top], color="#bbbbbb", lw=1, ls="--", label="error = std")
    axes.set_xlabel("predicted standard deviation (reflectance)")
    axes.set_ylabel("absolute error (reflectance)")
    axes.set_title(f"error vs uncertainty: Spearman {result.get('spearman', math.nan):.3f} over {result.get('pixels', 0):,} px")
    axes.grid(color="#eeeeee")
    axes.legend(loc="best", fontsize=9)
    return figure_png(figure)


def uncertainty_rgb(std_dn: np.ndarray, vmax: float) -> np.ndarray:
    """`(C, H, W)` std in DN -> `(H, W, 3)` uint8, `viridis` over [0, vmax] reflectance (band mean)."""
    from matplotlib import colormaps

    value = (std_dn / 10000.0).mean(axis=0)
    rgba = colormaps["viridis"](np.clip(value / vmax, 0.0, 1.0))
    return np.round(rgba[..., :3] * 255).astype(np.uint8)
