"""Cloud detection on the two genuine SEN12MS-CR triplets and on hand-made arrays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sarclear.data import clouds
from sarclear.data.layout import official_paths
from sarclear.errors import ConfigError
from sarclear.io.geotiff import read_raster

FALL = ("ROIs1970_fall", 139, 839)
WINTER = ("ROIs2017_winter", 112, 797)


def _read(root: Path, triplet: tuple[str, int, int], modality: str) -> np.ndarray:
    return read_raster(official_paths(root, *triplet)[modality])[0]


@pytest.fixture(scope="module")
def real_images(real_root: Path) -> dict[str, np.ndarray]:
    return {
        f"{name}_{mod}": _read(real_root, trip, mod)
        for name, trip in (("fall", FALL), ("winter", WINTER))
        for mod in ("s2_cloudy", "s2")
    }


def _cover(dn: np.ndarray, method: str) -> float:
    mask, used = clouds.cloud_mask(dn, method=method)
    assert used == method
    return clouds.cloud_cover_pct(mask, dn.max(axis=0) > 0)


@pytest.mark.parametrize("method", ["s2cloudless", "brightness"])
def test_real_fall_cumulus_detected_and_clear_target_clear(real_images: dict[str, np.ndarray], method: str) -> None:
    cloudy = _cover(real_images["fall_s2_cloudy"], method)
    clear = _cover(real_images["fall_s2"], method)
    # Bright cumulus over about half the tile: s2cloudless also flags the haze between the cumuli.
    assert 30.0 <= cloudy <= 100.0
    assert clear <= 5.0


@pytest.mark.parametrize("method", ["s2cloudless", "brightness"])
def test_real_winter_thin_haze_is_not_opaque_cloud(real_images: dict[str, np.ndarray], method: str) -> None:
    # The winter cloudy image is dark thin haze: neither detector calls it opaque cloud, and its
    # clear target is cloud-free. (A known limit, documented in docs/curate.md.)
    assert _cover(real_images["winter_s2_cloudy"], method) <= 20.0
    assert _cover(real_images["winter_s2"], method) <= 5.0


def test_probability_is_a_bounded_map(real_images: dict[str, np.ndarray]) -> None:
    for method in ("s2cloudless", "brightness"):
        prob, used = clouds.cloud_probability(real_images["fall_s2_cloudy"], method=method)
        assert used == method
        assert prob.shape == (256, 256) and prob.dtype == np.float32
        assert 0.0 <= prob.min() and prob.max() <= 1.0
        # Cloudy tile more cloud-like on average than its clear target.
        assert prob.mean() > clouds.cloud_probability(real_images["fall_s2"], method=method)[0].mean()


def test_numpy_postprocessing_matches_s2cloudless(real_images: dict[str, np.ndarray]) -> None:
    prob, _ = clouds.cloud_probability(real_images["fall_s2_cloudy"], method="brightness")
    ours = clouds.mask_from_probability(prob)
    theirs = clouds._detector().get_mask_from_prob(prob[None])[0].astype(bool)
    assert np.mean(ours == theirs) > 0.999


def test_auto_uses_brightness_for_rgb_and_band_names_reorder() -> None:
    rgb = np.full((3, 16, 16), 500, dtype=np.uint16)
    rgb[:, 4:12, 4:12] = 6000  # a white, bright square
    prob, used = clouds.cloud_probability(rgb)
    assert used == "brightness"
    assert prob[8, 8] == pytest.approx(1.0) and prob[0, 0] == 0.0
    bgr = rgb[::-1].copy()
    prob2, _ = clouds.cloud_probability(bgr, band_names=["B02", "B03", "B04"])
    np.testing.assert_array_equal(prob, prob2)


def test_brightness_rejects_coloured_bright_surface() -> None:
    soil = np.zeros((3, 8, 8), dtype=np.uint16)
    soil[0], soil[1], soil[2] = 4500, 2500, 1200  # bright, strongly red: not spectrally flat
    assert clouds.brightness_probability(soil).max() < clouds.DEFAULT_THRESHOLD


def test_s2cloudless_on_rgb_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="13 L1C bands"):
        clouds.cloud_probability(np.zeros((3, 8, 8), np.uint16), method="s2cloudless")
    with pytest.raises(ConfigError, match="unknown cloud method"):
        clouds.cloud_probability(np.zeros((3, 8, 8), np.uint16), method="magic")


def test_cloud_cover_pct_counts_valid_pixels_only() -> None:
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    valid = np.ones((4, 4), bool)
    valid[:, :2] = False
    assert clouds.cloud_cover_pct(mask) == pytest.approx(50.0)
    assert clouds.cloud_cover_pct(mask, valid) == pytest.approx(50.0)
    valid[:2] = False
    assert clouds.cloud_cover_pct(mask, valid) == 0.0
    assert math.isnan(clouds.cloud_cover_pct(mask, np.zeros((4, 4), bool)))


def test_order_bands_by_name_for_13_band_stacks() -> None:
    from sarclear.data.bands import S2_BANDS

    stack = np.arange(13, dtype=np.uint16)[:, None, None] * np.ones((1, 2, 2), np.uint16)
    shuffled = stack[::-1]
    names = [f"B{n[1:].zfill(2)}" if n != "B8A" else "B8A" for n in S2_BANDS][::-1]  # B01 ... style, reversed
    np.testing.assert_array_equal(clouds.order_bands(shuffled, names), stack)
    with pytest.raises(ValueError, match="neither"):
        clouds.order_bands(stack, [f"band {i}" for i in range(13)])


def _spectral_cover(dn13: np.ndarray) -> float:
    """Cover of the spectral test on a 13-band stack, reading only the bands an L2A product has."""
    six = dn13[list(clouds.SPECTRAL_POSITIONS)]
    mask, used = clouds.cloud_mask(six.astype(np.float32), method="spectral")
    assert used == "spectral"
    return clouds.cloud_cover_pct(mask, six.max(axis=0) > 0)


def test_spectral_test_on_the_genuine_triplets_without_b10(real_images: dict[str, np.ndarray]) -> None:
    """What the spectral test (no B10) makes of the genuine tiles s2cloudless is checked on: the fall
    cumulus (s2cloudless: 97 %) and winter haze as s2cloudless sees them, the clear winter target
    clear. The clear fall target's roads and roofs pass Fmask's tests: 12.7 % flagged, where
    s2cloudless finds none (a known limit, docs/curate.md); the bound keeps it from growing."""
    assert _spectral_cover(real_images["fall_s2_cloudy"]) >= 90.0
    assert _spectral_cover(real_images["winter_s2_cloudy"]) <= 20.0
    assert _spectral_cover(real_images["winter_s2"]) <= 5.0
    assert 5.0 < _spectral_cover(real_images["fall_s2"]) <= 15.0


def test_spectral_test_agrees_with_s2cloudless_on_its_own_genuine_scene() -> None:
    """s2cloudless's reference scene (L1C), read without B10: its mask and the spectral test's overlap
    (IoU 0.65 away from the crop's edges), where the RGB brightness test finds none of its cloud."""
    crop = np.load(Path(__file__).parent / "data" / "s2cloudless-scene" / "crop.npz")
    dn = np.moveaxis(crop["s2_im"], -1, 0) * 10000
    reference = crop["cl_mask"].astype(bool)[8:-8, 8:-8]
    spectral, _ = clouds.cloud_mask(dn[list(clouds.SPECTRAL_POSITIONS)], method="spectral")
    brightness, _ = clouds.cloud_mask(dn[[3, 2, 1]], method="brightness")
    iou = {name: float((m[8:-8, 8:-8] & reference).sum() / (m[8:-8, 8:-8] | reference).sum())
           for name, m in (("spectral", spectral), ("brightness", brightness))}  # fmt: skip
    assert iou["spectral"] > 0.6 and iou["brightness"] < 0.1
