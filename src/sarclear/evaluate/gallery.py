"""The report gallery: best, median and worst tiles of the main method, rendered side by side.

Tiles are chosen after the streaming pass from the per-tile PSNR scalars, then re-read and
re-predicted (a tile's prediction depends on that tile alone: per-window batch norm, dropout
masks re-seeded per tile; an adapt method reads back the GeoTIFF it wrote instead of fitting
again), so no image is held in memory during the pass however many tiles there are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sarclear.evaluate.figures import ERROR_VMAX, error_rgb, mask_rgb
from sarclear.evaluate.methods import Method, predict_batch
from sarclear.evaluate.samples import EvalDataset, collate
from sarclear.evaluate.uncertainty import uncertainty_rgb
from sarclear.report.images import jpeg_bytes
from sarclear.report.render import optical_rgb, sar_grey

CATEGORIES: tuple[str, ...] = ("best", "median", "worst")


def _rank(scores: Mapping[int, float]) -> list[int]:
    """Tile indexes from best to worst score (ties: lower index first), the gallery's one ordering."""
    return sorted((i for i, s in scores.items() if math.isfinite(s)), key=lambda i: (-scores[i], i))


class Candidates:
    """Cloud masks of the tiles currently among the `k` best or `k` worst, kept during the pass.

    Cloud detection is a large share of an evaluation's time (a 13-band read and the s2cloudless
    classifier per tile), so the best and worst gallery tiles keep their masks (at most 2k of them)
    rather than recomputing them; only the median tiles, unknown until the end, are recomputed.
    """

    def __init__(self, k: int) -> None:
        self.k = k
        self.scores: dict[int, float] = {}
        self.masks: dict[int, np.ndarray] = {}

    def offer(self, index: int, score: float, mask: np.ndarray) -> None:
        if self.k < 1 or not math.isfinite(score):
            return
        self.scores[index], self.masks[index] = score, mask
        if len(self.scores) > 2 * self.k:
            order = _rank(self.scores)
            keep = set(order[: self.k]) | set(order[-self.k :])
            for i in [i for i in self.scores if i not in keep]:
                del self.scores[i], self.masks[i]


@dataclass
class GalleryTile:
    """One gallery row: which tile, why it was picked, its scores, and its pictures."""

    category: str
    sample_id: str
    season: str
    cloud_cover_pct: float
    psnr: dict[str, float]
    images: list[tuple[str, bytes]]


def pick_tiles(scores: Sequence[float], per_category: int = 2) -> list[tuple[str, int]]:
    """`(category, tile index)` of the best, median and worst tiles by score, without repeats.

    Each category gets `per_category` tiles, fewer when there are under three per category, so a
    two-tile evaluation shows one best and one worst tile rather than the same tile twice.
    """
    order = _rank(dict(enumerate(scores)))
    if not order or per_category < 1:
        return []
    k = max(1, min(per_category, len(order) // 3))
    middle = (len(order) - k) // 2
    candidates = {"best": order[:k], "median": order[middle : middle + k], "worst": order[::-1][:k]}
    picked: list[tuple[str, int]] = []
    seen: set[int] = set()
    for category in CATEGORIES:
        for index in candidates[category]:
            if index not in seen:
                seen.add(index)
                picked.append((category, index))
    return picked


def render_tiles(
    dataset: EvalDataset,
    picks: Sequence[tuple[str, int]],
    methods: Sequence[Method],
    psnr_by_method: Mapping[str, Sequence[float]],
    device: torch.device,
    s2_clip_max: float,
    masks: Mapping[int, np.ndarray] | None = None,
) -> list[GalleryTile]:
    """Re-read and re-predict the picked tiles; pictures: SAR, cloudy, mask, predictions, target, error."""
    tiles = []
    primary = methods[0].name
    for category, index in picks:
        item = dataset.item(index, (masks or {}).get(index))
        batch = collate([item])
        cloudy_dn, target_dn, preds, stds = predict_batch(batch, methods, device, s2_clip_max, dataset.samples)
        cloudy, target = cloudy_dn[0].cpu().numpy(), target_dn[0].cpu().numpy()
        images = [
            ("SAR (VV)", jpeg_bytes(sar_grey(item["sar"].numpy()))),  # type: ignore[union-attr]
            ("cloudy input", jpeg_bytes(optical_rgb(cloudy))),
            ("cloud mask", jpeg_bytes(mask_rgb(np.asarray(item["cloud_mask"], dtype=bool)))),
        ]
        images += [(name, jpeg_bytes(optical_rgb(pred[0].cpu().numpy()))) for name, pred in preds.items()]
        images.append(("target (clear)", jpeg_bytes(optical_rgb(target))))
        images.append((f"|error| {primary}", jpeg_bytes(error_rgb(preds[primary][0].cpu().numpy(), target))))
        if primary in stds:  # on the error map's scale, so the two pictures compare directly
            images.append((f"uncertainty (std) {primary}", jpeg_bytes(uncertainty_rgb(stds[primary][0].cpu().numpy(), ERROR_VMAX))))
        tiles.append(
            GalleryTile(
                category=category,
                sample_id=str(item["id"]),
                season=str(item["season"]),
                cloud_cover_pct=float(item["cloud_cover_pct"]),  # type: ignore[arg-type]
                psnr={name: float(values[index]) for name, values in psnr_by_method.items()},
                images=images,
            )
        )
    return tiles
