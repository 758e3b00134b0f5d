"""Streaming aggregation of per-image metrics: overall, per season, per cloud-cover bin, per region.

Only running statistics are kept (Welford's mean and variance per group and metric), so memory
does not grow with the number of tiles. Non-finite values (a region absent from a tile, an
undefined spectral angle) are skipped and the count `n` of each statistic says how many were used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sarclear.data.layout import SEASONS

#: Cloud-cover bins (percent of the cloudy input), as in the issue: [0, 10), [10, 30), [30, 60),
#: [60, 90), [90, 100]. They separate nearly clear, broken, half, mostly and fully cloudy tiles.
CLOUD_BINS: tuple[tuple[float, float], ...] = ((0, 10), (10, 30), (30, 60), (60, 90), (90, 100))
UNKNOWN_BIN = "unknown"
#: Breakdown names in metrics.json, in report order.
BREAKDOWNS: tuple[str, ...] = ("overall", "by_season", "by_cloud_cover", "by_region")
SEASON_ORDER: tuple[str, ...] = tuple(SEASONS.values())


def bin_label(low: float, high: float) -> str:
    return f"{low:g}-{high:g}"


def cloud_bin(pct: float) -> str:
    """The bin label of a cloud cover in percent (`unknown` for NaN)."""
    if not math.isfinite(pct):
        return UNKNOWN_BIN
    for low, high in CLOUD_BINS:
        if pct < high:
            return bin_label(low, high)
    return bin_label(*CLOUD_BINS[-1])


@dataclass
class Running:
    """Welford's running mean and population variance of the finite values added."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        if not math.isfinite(value):
            return
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    def summary(self) -> dict[str, float | int | None]:
        if self.n == 0:
            return {"mean": None, "std": None, "n": 0}
        return {"mean": self.mean, "std": math.sqrt(self.m2 / self.n), "n": self.n}


def _group_order(breakdown: str, name: str) -> tuple[int, str]:
    if breakdown == "by_season" and name in SEASON_ORDER:
        return SEASON_ORDER.index(name), name
    if breakdown == "by_cloud_cover":
        labels = [bin_label(*b) for b in CLOUD_BINS]
        return (labels.index(name) if name in labels else len(labels)), name
    if breakdown == "by_region":
        return (0 if name == "cloud" else 1), name
    return 99, name


class Aggregator:
    """Running statistics of flat metric rows (`scale/metric` or `scale/region/metric` keys)."""

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str, str, str, str], Running] = {}
        self._counts: dict[tuple[str, str, str], int] = {}

    def add(self, method: str, season: str, cover_bin: str, values: Mapping[str, float]) -> None:
        """One image's metrics for one method."""
        touched: set[tuple[str, str, str]] = set()
        for key, value in values.items():
            parts = key.split("/")
            if len(parts) == 2:
                scale, metric = parts
                groups = [("overall", "all"), ("by_season", season), ("by_cloud_cover", cover_bin)]
            else:
                scale, region, metric = parts
                groups = [("by_region", region)]
            for breakdown, name in groups:
                self._stats.setdefault((method, breakdown, name, scale, metric), Running()).add(float(value))
                if math.isfinite(value):
                    touched.add((method, breakdown, name))
        for group in touched:
            self._counts[group] = self._counts.get(group, 0) + 1

    def results(self) -> dict[str, dict[str, Any]]:
        """`{method: {"overall": G, "by_season": {season: G}, ...}}`, G = `{"n", scale: {metric: stats}}`."""
        out: dict[str, dict[str, Any]] = {}
        for (method, breakdown, name, scale, metric), running in self._stats.items():
            group = out.setdefault(method, {b: {} for b in BREAKDOWNS}).setdefault(breakdown, {}).setdefault(name, {})
            group["n"] = self._counts.get((method, breakdown, name), 0)
            group.setdefault(scale, {})[metric] = running.summary()
        for breakdowns in out.values():
            for breakdown in BREAKDOWNS[1:]:
                groups = breakdowns[breakdown]
                breakdowns[breakdown] = {k: groups[k] for k in sorted(groups, key=lambda k: _group_order(breakdown, k))}
            breakdowns["overall"] = breakdowns["overall"].get("all", {"n": 0})
        return out
