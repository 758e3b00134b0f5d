"""One decision for the cloud detector's bands (issue 12): s2cloudless never sees a missing or padded band.

Files are written as real GeoTIFFs (rasterio) with or without band descriptions, as users have them:
SEN12MS-CR (13 undescribed), a 13-band export in another order, an L2A stack (12 bands, no B10),
an RGB export. The same choice must come out of `curate`, `evaluate` and `predict`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from sarclear.data import clouds
from sarclear.data.bands import S2_BANDS
from sarclear.data.cloud_bands import detector_bands, usable_method
from sarclear.errors import RasterError
from sarclear.io.geotiff import raster_info, write_raster
from tests.helpers import CRS, transform_for

L2A = [b for b in S2_BANDS if b != "B10"]


def _write(path: Path, array: np.ndarray, names: list[str] | None = None) -> Path:
    return write_raster(path, array, crs=CRS, transform=transform_for(), descriptions=names)


def _stack(count: int, value: int = 800, size: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(value // 2, value * 2, (count, size, size)).astype(np.uint16)


def test_sen12mscr_stack_without_descriptions_goes_to_s2cloudless_in_order(tmp_path: Path) -> None:
    choice = detector_bands(raster_info(_write(tmp_path / "s2.tif", _stack(13))))
    assert choice.method == "s2cloudless" and choice.indexes == tuple(range(1, 14)) and not choice.loud


def test_described_13_bands_are_reordered_to_sen12mscr_order(tmp_path: Path) -> None:
    names = [f"B{n[1:].zfill(2)}" if n != "B8A" else "B8A" for n in S2_BANDS][::-1]  # B12 ... B01, zero padded
    choice = detector_bands(raster_info(_write(tmp_path / "s2.tif", _stack(13), names)))
    assert choice.method == "s2cloudless"
    assert choice.indexes == tuple(range(13, 0, -1))  # B1 is band 13 of this file, B12 is band 1


@pytest.mark.parametrize("named", [True, False])
def test_l2a_without_b10_gets_the_spectral_test_loudly(tmp_path: Path, named: bool) -> None:
    info = raster_info(_write(tmp_path / "l2a.tif", _stack(12), L2A if named else None))
    choice = detector_bands(info)
    assert choice.method == "spectral" and choice.loud
    assert choice.indexes == (4, 3, 2, 8, 11, 12)  # B4, B3, B2, B8, B11, B12 of B1 ... B9, B11, B12
    assert "B10" in choice.how and "--mask" in choice.how and "SCL" in choice.how


def test_an_export_with_the_swir_bands_gets_the_spectral_test_quietly(tmp_path: Path) -> None:
    names = ["B02", "B03", "B04", "B08", "B11", "B12"]
    choice = detector_bands(raster_info(_write(tmp_path / "six.tif", _stack(6), names)))
    assert choice.method == "spectral" and choice.indexes == (3, 2, 1, 4, 5, 6) and not choice.loud


def test_an_l1c_product_with_a_band_file_missing_gets_the_brightness_test_loudly_naming_it(tmp_path: Path) -> None:
    """B10 present means top-of-atmosphere L1C, where the spectral test flags haze as cloud (94 % on
    the genuine SSL4EO-S12 scene of 66 % once its B8A file was removed): the brightness test runs
    and the warning names the band file to copy again."""
    names = [b for b in S2_BANDS if b != "B8A"]
    choice = detector_bands(raster_info(_write(tmp_path / "l1c.tif", _stack(12), names)))
    assert choice.method == "brightness" and choice.loud and choice.indexes == (4, 3, 2)
    assert "no B8A among its bands" in choice.how and "copy the missing band file" in choice.how


def test_rgb_export_gets_the_brightness_test_quietly(tmp_path: Path) -> None:
    choice = detector_bands(raster_info(_write(tmp_path / "rgb.tif", _stack(3), ["B02", "B03", "B04"])))
    assert choice.method == "brightness" and choice.indexes == (3, 2, 1) and not choice.loud


def test_unusable_band_sets_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RasterError, match="band count"):
        detector_bands(raster_info(_write(tmp_path / "four.tif", _stack(4))))
    with pytest.raises(RasterError, match="lack B4"):
        detector_bands(raster_info(_write(tmp_path / "named.tif", _stack(3), ["B8", "B11", "B12"])))


def test_a_padded_b10_never_reaches_s2cloudless(tmp_path: Path) -> None:
    stack = _stack(13)
    stack[10] = 0  # B10 padded with zeros, as a user's L2A-to-13-band script does
    choice = detector_bands(raster_info(_write(tmp_path / "padded.tif", stack)))
    method, used_stack, warning = usable_method(choice, stack)
    assert method == "brightness" and used_stack.shape[0] == 3
    np.testing.assert_array_equal(used_stack, stack[[3, 2, 1]])
    assert warning is not None and "B10" in warning
    # A tile that is all fill is constant in every band, not padded: left to s2cloudless (it finds nothing).
    assert usable_method(choice, np.zeros_like(stack))[0] == "s2cloudless"


def test_zero_cloud_on_a_bright_scene_is_a_warning() -> None:
    bright = np.full((3, 16, 16), 4000, np.uint16)  # 0.4 reflectance everywhere: overcast
    clear = np.zeros((16, 16), bool)
    assert "0 % cloud" in (clouds.bright_scene_warning(bright, clear) or "")
    assert clouds.bright_scene_warning(bright, ~clear) is None  # cloud found: nothing to say
    dark = np.full((3, 16, 16), 600, np.uint16)
    assert clouds.bright_scene_warning(dark, clear) is None  # ordinary land, no cloud: fine
    half = bright.copy()
    half[:, :8] = 600
    assert clouds.bright_scene_warning(half, clear) is None


#: Surface reflectance x 10000 of B1 ... B9, B11, B12 (L2A order) for three surfaces (typical
#: spectra: cloud is bright and flat into the SWIR, snow as bright in the visible but dark at 1.6 um,
#: vegetation dark in the visible and bright in the NIR).
VEGETATION = (300, 400, 700, 500, 1200, 2500, 2900, 3000, 3100, 3000, 1800, 900)
CLOUD = (5000, 5200, 5100, 5000, 5000, 5000, 5000, 5000, 5000, 4000, 4200, 3000)
SNOW = (7500, 7600, 7500, 7300, 7000, 6500, 6200, 6000, 5900, 5000, 600, 500)


def _l2a(size: int = 32) -> np.ndarray:
    """A vegetated L2A stack with a square of cloud (rows 4-15) and one of snow (rows 18-29)."""
    stack = np.empty((12, size, size), np.uint16)
    stack[:] = np.array(VEGETATION, np.uint16)[:, None, None]
    stack[:, 4:16, 4:16] = np.array(CLOUD, np.uint16)[:, None, None]
    stack[:, 18:30, 4:16] = np.array(SNOW, np.uint16)[:, None, None]
    return stack


def test_evaluate_masks_an_l2a_file_with_the_spectral_test_cloud_not_snow(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Snow is as bright and white as cloud in the visible (the brightness test flags both); SWIR
    tells them apart, so an L2A product's snowfield is not masked and its cloud is."""
    from sarclear.evaluate import samples

    path = _write(tmp_path / "l2a.tif", _l2a(), L2A)
    samples._WARNED.clear()
    with caplog.at_level(logging.WARNING):
        mask, method = samples.cloudy_input_mask(path)
    assert method == "spectral"
    assert mask[10, 10] and not mask[24, 10] and not mask[10, 28]  # cloud; snow and vegetation clear
    assert any("B10" in r.getMessage() and "l2a.tif" in r.getMessage() for r in caplog.records)
    rgb = _l2a()[[3, 2, 1]].astype(np.float32)
    brightness = clouds.mask_from_probability(clouds.brightness_probability(rgb))
    assert brightness[10, 10] and brightness[24, 10]  # what the RGB test alone would have masked


def test_grey_overcast_is_cloud_for_the_spectral_test_not_for_brightness() -> None:
    """Overcast that is only 0.18 bright in the visible is below the brightness test's ramp; its flat
    spectrum and bright SWIR are cloud to Fmask's tests. The spectrum is the genuine Major-TOM N0400
    scene's median (offset removed), which is covered by cloud."""
    grey = np.array([1606, 1818, 1908, 2618, 1837, 1257], np.float32)[:, None, None] * np.ones((6, 8, 8), np.float32)  # B4 B3 B2 B8 B11 B12
    assert clouds.spectral_probability(grey).min() == 1.0
    assert clouds.brightness_probability(grey[:3]).max() < clouds.DEFAULT_THRESHOLD
    water = np.array([300, 500, 600, 200, 100, 80], np.float32)[:, None, None] * np.ones((6, 8, 8), np.float32)
    assert clouds.spectral_probability(water).max() == 0.0
    probability, used = clouds.cloud_probabilities(grey[None], method="auto")
    assert used == "spectral" and probability.min() == 1.0  # six bands: the spectral test by default


def test_evaluate_warns_when_an_overcast_scene_gets_no_cloud(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sarclear.evaluate import samples

    # Bright and yellowish (not white): the brightness test finds no cloud, but the RGB is bright everywhere.
    stack = np.zeros((3, 32, 32), np.uint16)
    stack[0], stack[1], stack[2] = 5200, 4200, 2600
    path = _write(tmp_path / "rgb.tif", stack, ["B4", "B3", "B2"])
    with caplog.at_level(logging.WARNING):
        mask, _ = samples.cloudy_input_mask(path)
    assert not mask.any()
    assert any("0 % cloud" in r.getMessage() for r in caplog.records)
