"""The rejection rules: pure functions from a triplet's statistics to reason codes. No I/O.

Because the rules only read the numbers `measure.py` recorded (and the statistics cache keeps),
trying new thresholds on a curated dataset re-runs this module alone, in seconds.

Reason codes (the table in docs/curate.md) and what they mean are in `REASON_DESCRIPTIONS`, in the order they are
listed in the manifest's `reasons` column. Every threshold is a field of `Thresholds` (a CLI flag).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sarclear.data.bands import S2_BAND_COUNTS
from sarclear.data.triplet import S1_DTYPES, S2_DTYPES
from sarclear.errors import ConfigError

REASON_DESCRIPTIONS: dict[str, str] = {
    "missing_file": "one of the three files was not found",
    "corrupt_file": "a file exists but cannot be opened or its pixels cannot be read",
    "band_count": "wrong band count or data type (S1: 2 float bands; S2: 13 or 3 bands, uint16/int16/uint8/float32)",
    "grid_mismatch": "the three files do not share one pixel grid (shape, CRS, transform)",
    "nan_values": "NaN/inf values (fraction of all values above max_nonfinite_frac)",
    "no_data": "fill values (all-zero pixels) in some file above max_nodata_frac of the tile",
    "low_optical_contrast": "contrast sigma of the clear target's 8-bit rendering <= the threshold of its season",
    "no_sar_variance": "VV or VH standard deviation within the network's clip range < min_sar_std dB",
    "cloudy_target": "cloud cover of the clear target > max_target_cloud percent",
}
REASONS: tuple[str, ...] = tuple(REASON_DESCRIPTIONS)

#: Contrast sigma thresholds (8-bit rendering, DN [0, 3000] -> [0, 255]). Summer 10 and winter 3 are
#: the project's calibrated values: winter scenes have low sun, long shadows, dormant vegetation and
#: snow, so a genuine winter tile has far less contrast than a summer one and the same cut would
#: discard most of them. Spring and fall are NOT calibrated: they take the midpoint, 6.5, because
#: the equinox sun elevation is halfway between the two solstices' and vegetation is in transition
#: (green-up, senescence). Check `sigma_histogram.png` and the contact sheet before trusting them.
#: `default` applies to ROI sets outside the four SEN12MS-CR seasons (a user's own data).
DEFAULT_SEASON_SIGMA: dict[str, float] = {"spring": 6.5, "summer": 10.0, "fall": 6.5, "winter": 3.0, "default": 6.5}
#: Multilooked GRD speckle alone (ENL about 4.4) gives a log-domain std of about 2 dB
#: (4.34 * sqrt(trigamma(4.4))), so a genuine tile is never under 0.5 dB unless it is constant or
#: sits entirely beyond the clip range.
DEFAULT_MIN_SAR_STD_DB = 0.5
#: A single NaN makes `read_triplet(require_finite=True)` refuse the triplet at training time.
DEFAULT_MAX_NONFINITE_FRAC = 0.0
#: Edge-of-swath tiles: beyond 5% fill the network learns black borders rather than ground.
DEFAULT_MAX_NODATA_FRAC = 0.05
#: Clear targets are meant to be cloud-free; s2cloudless (with its 2-px dilation) flags a few percent
#: of bright roofs, sand or snow, so 10% leaves room for those and still catches real cloud.
DEFAULT_MAX_TARGET_CLOUD_PCT = 10.0


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the rules use; written to manifest.json and summary.md as they were applied."""

    season_sigma: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SEASON_SIGMA))
    min_sar_std: float = DEFAULT_MIN_SAR_STD_DB
    max_nonfinite_frac: float = DEFAULT_MAX_NONFINITE_FRAC
    max_nodata_frac: float = DEFAULT_MAX_NODATA_FRAC
    #: None disables the cloudy_target rule (used with --cloud-method none).
    max_target_cloud: float | None = DEFAULT_MAX_TARGET_CLOUD_PCT

    def sigma_for(self, season: str) -> float:
        return float(self.season_sigma.get(season, self.season_sigma.get("default", DEFAULT_SEASON_SIGMA["default"])))

    def as_dict(self) -> dict[str, Any]:
        return {
            "season_sigma": dict(sorted(self.season_sigma.items())),  # sorted: manifest.json sorts keys too
            "min_sar_std_db": self.min_sar_std,
            "max_nonfinite_frac": self.max_nonfinite_frac,
            "max_nodata_frac": self.max_nodata_frac,
            "max_target_cloud_pct": self.max_target_cloud,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Thresholds:
        """The inverse of `as_dict` (a shard's `manifest.json` -> the thresholds its merge applies)."""
        return cls(
            season_sigma={str(k): float(v) for k, v in values["season_sigma"].items()},
            min_sar_std=float(values["min_sar_std_db"]),
            max_nonfinite_frac=float(values["max_nonfinite_frac"]),
            max_nodata_frac=float(values["max_nodata_frac"]),
            max_target_cloud=None if values["max_target_cloud_pct"] is None else float(values["max_target_cloud_pct"]),
        )


def parse_season_sigma(text: str | None) -> dict[str, float]:
    """`'summer=10,winter=3'` -> the defaults updated with those values; ConfigError if malformed."""
    merged = dict(DEFAULT_SEASON_SIGMA)
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not name.strip() or math.isnan(number):
            raise ConfigError(f"--season-sigma: {item!r} is not season=number (e.g. summer=10,winter=3)")
        merged[name.strip().lower()] = number
    return merged


def _present(record: Mapping[str, Any], key: str) -> bool:
    return record.get(key) is not None


def format_problem(modality: str, count: int, dtype: str) -> str | None:
    """None when a file has the band count and dtype its modality needs ('s1', 's2_cloudy', 's2'), else why not."""
    if modality == "s1":
        if count != 2:
            return f"wrong band count: has {count}, expected 2 (VV, VH)"
        if dtype not in S1_DTYPES:
            return f"wrong data type: {dtype}, expected float32 dB"
        return None
    if count not in S2_BAND_COUNTS:
        return f"wrong band count: has {count}, expected 13 (L1C), 12 (L2A) or 3 (RGB)"
    if dtype not in S2_DTYPES:
        return f"wrong data type: {dtype}, expected uint16 DN"
    return None


def _bad_format(record: Mapping[str, Any]) -> bool:
    return any(
        format_problem(m, record[f"{m}_bands"], record.get(f"{m}_dtype", "")) is not None
        for m in ("s1", "s2_cloudy", "s2")
        if _present(record, f"{m}_bands")
    )


def _low_contrast(record: Mapping[str, Any], season: str, t: Thresholds) -> bool:
    return _present(record, "contrast_sigma") and record["contrast_sigma"] <= t.sigma_for(season)


def _no_sar_variance(record: Mapping[str, Any], t: Thresholds) -> bool:
    stds = [record[k] for k in ("vv_clip_std", "vh_clip_std") if _present(record, k)]
    return bool(stds) and min(stds) < t.min_sar_std


def _cloudy_target(record: Mapping[str, Any], t: Thresholds) -> bool:
    cover = record.get("target_cloud_cover_pct")
    return t.max_target_cloud is not None and cover is not None and cover > t.max_target_cloud


RuleFn = Callable[[Sequence[str], Mapping[str, Any], str, Thresholds], bool]

RULES: dict[str, RuleFn] = {
    "missing_file": lambda missing, r, s, t: bool(missing),
    "corrupt_file": lambda missing, r, s, t: bool(r.get("unreadable")),
    "band_count": lambda missing, r, s, t: _bad_format(r),
    "grid_mismatch": lambda missing, r, s, t: r.get("grid_ok") is False,
    "nan_values": lambda missing, r, s, t: _present(r, "nonfinite_frac") and r["nonfinite_frac"] > t.max_nonfinite_frac,
    "no_data": lambda missing, r, s, t: _present(r, "nodata_frac") and r["nodata_frac"] > t.max_nodata_frac,
    "low_optical_contrast": lambda missing, r, s, t: _low_contrast(r, s, t),
    "no_sar_variance": lambda missing, r, s, t: _no_sar_variance(r, t),
    "cloudy_target": lambda missing, r, s, t: _cloudy_target(r, t),
}


def decide(missing: Sequence[str], record: Mapping[str, Any], season: str, thresholds: Thresholds) -> tuple[str, ...]:
    """Every reason that applies to a triplet, in `REASONS` order; empty means keep it.

    `missing` names the modalities with no file; `record` is `measure.measure_triplet`'s output.
    """
    return tuple(code for code in REASONS if RULES[code](missing, record, season, thresholds))
