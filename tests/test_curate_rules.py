"""The curation rules alone: pure functions of a statistics record, no files."""

from __future__ import annotations

import numpy as np
import pytest

from sarclear.curate import rules, stats
from sarclear.errors import ConfigError

GOOD = {
    "contrast_sigma": 25.0,
    "vv_clip_std": 3.0,
    "vh_clip_std": 2.5,
    "nonfinite_frac": 0.0,
    "nodata_frac": 0.0,
    "target_cloud_cover_pct": 0.0,
    "s1_bands": 2,
    "s1_dtype": "float32",
    "s2_cloudy_bands": 13,
    "s2_cloudy_dtype": "uint16",
    "s2_bands": 13,
    "s2_dtype": "uint16",
    "grid_ok": True,
    "unreadable": [],
}
T = rules.Thresholds()


def decide(season: str = "summer", missing: tuple[str, ...] = (), t: rules.Thresholds = T, **changes: object) -> tuple[str, ...]:
    return rules.decide(missing, {**GOOD, **changes}, season, t)


def test_good_record_is_kept() -> None:
    assert decide() == ()


@pytest.mark.parametrize("sigma", [3.5, 6.0, 9.9])
def test_winter_sigma_between_3_and_10_kept_but_rejected_in_summer(sigma: float) -> None:
    assert decide("winter", contrast_sigma=sigma) == ()
    assert decide("summer", contrast_sigma=sigma) == ("low_optical_contrast",)


def test_threshold_is_inclusive_and_unknown_season_uses_default() -> None:
    assert decide("summer", contrast_sigma=10.0) == ("low_optical_contrast",)
    assert decide("winter", contrast_sigma=3.0) == ("low_optical_contrast",)
    assert decide("monsoon", contrast_sigma=6.0) == ("low_optical_contrast",)
    assert decide("monsoon", contrast_sigma=7.0) == ()


@pytest.mark.parametrize(
    ("changes", "missing", "reason"),
    [
        ({}, ("s1",), "missing_file"),
        ({"unreadable": ["s2"]}, (), "corrupt_file"),
        ({"s1_bands": 3}, (), "band_count"),
        ({"s2_dtype": "float64"}, (), "band_count"),
        ({"s2_cloudy_bands": 4}, (), "band_count"),
        ({"grid_ok": False}, (), "grid_mismatch"),
        ({"nonfinite_frac": 1e-6}, (), "nan_values"),
        ({"nodata_frac": 0.5}, (), "no_data"),
        ({"vh_clip_std": 0.0}, (), "no_sar_variance"),
        ({"target_cloud_cover_pct": 40.0}, (), "cloudy_target"),
    ],
)
def test_each_rule_fires_alone(changes: dict, missing: tuple[str, ...], reason: str) -> None:
    assert decide(missing=missing, **changes) == (reason,)


def test_all_reasons_recorded_in_design_order() -> None:
    got = decide(missing=("s1",), contrast_sigma=0.0, nodata_frac=1.0, target_cloud_cover_pct=90.0, grid_ok=False)
    assert got == ("missing_file", "grid_mismatch", "no_data", "low_optical_contrast", "cloudy_target")
    assert set(rules.REASONS) == {
        "missing_file", "corrupt_file", "band_count", "grid_mismatch", "nan_values",
        "no_data", "low_optical_contrast", "no_sar_variance", "cloudy_target",
    }


def test_unmeasured_statistics_do_not_trigger_rules() -> None:
    record = {"unreadable": ["s1", "s2_cloudy", "s2"], "grid_ok": True}
    assert rules.decide((), record, "summer", T) == ("corrupt_file",)


def test_cloudy_target_rule_disabled_without_cloud_detection() -> None:
    t = rules.Thresholds(max_target_cloud=None)
    assert decide(t=t, target_cloud_cover_pct=99.0) == ()


def test_thresholds_are_flags() -> None:
    t = rules.Thresholds(min_sar_std=5.0, max_nodata_frac=0.6, max_target_cloud=50.0)
    assert decide(t=t) == ("no_sar_variance",)
    assert decide(t=t, vv_clip_std=6, vh_clip_std=6, nodata_frac=0.5, target_cloud_cover_pct=40.0) == ()


def test_parse_season_sigma() -> None:
    parsed = rules.parse_season_sigma("summer=12, Winter=2")
    assert parsed["summer"] == 12.0 and parsed["winter"] == 2.0
    assert parsed["spring"] == rules.DEFAULT_SEASON_SIGMA["spring"]
    assert rules.parse_season_sigma("") == rules.DEFAULT_SEASON_SIGMA
    for bad in ("summer", "summer=x", "=3"):
        with pytest.raises(ConfigError, match="season-sigma"):
            rules.parse_season_sigma(bad)


def test_contrast_sigma_is_std_of_the_8bit_rendering() -> None:
    rgb = np.zeros((3, 4, 4), np.uint16)
    rgb[:, :, :2] = 3000  # half white, half black: values 255 and 0
    measured = stats.contrast_stats(rgb, 3000.0)
    assert measured["contrast_sigma"] == pytest.approx(127.5)
    assert measured["saturated_frac"] == pytest.approx(0.5)
    # A stretch twice as wide halves the rendering and the sigma (rounding aside).
    assert stats.contrast_stats(rgb, 6000.0)["contrast_sigma"] == pytest.approx(64.0)


def test_sar_clip_std_catches_tiles_beyond_the_clip() -> None:
    rng = np.random.default_rng(0)
    s1 = np.stack([rng.normal(-40, 2, (8, 8)), rng.normal(-45, 2, (8, 8))]).astype(np.float32)
    measured = stats.sar_stats(s1)
    assert measured["vv_std"] > 1.0 and measured["vv_clip_std"] == 0.0
    s1[0, 0, 0] = np.nan
    assert np.isfinite(stats.sar_stats(s1)["vv_mean"])


def test_measure_settings_validate() -> None:
    from sarclear.curate.measure import MeasureSettings

    with pytest.raises(ConfigError, match="cloud method"):
        MeasureSettings(cloud_method="auto")
    with pytest.raises(ConfigError, match="positive"):
        MeasureSettings(display_max_dn=0)
    assert MeasureSettings(cloud_method="none").key()["cloud_method"] == "none"
