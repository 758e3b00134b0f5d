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
def test_l2a_without_b10_gets_the_brightness_test_loudly(tmp_path: Path, named: bool) -> None:
    info = raster_info(_write(tmp_path / "l2a.tif", _stack(12), L2A if named else None))
    choice = detector_bands(info)
    assert choice.method == "brightness" and choice.loud
    assert choice.indexes == (4, 3, 2)  # B4, B3, B2 of B1 ... B9, B11, B12
    assert "B10" in choice.how and "--mask" in choice.how


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


def test_evaluate_masks_an_l2a_file_with_the_brightness_test_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sarclear.evaluate import samples

    stack = _stack(12, value=600, size=32)
    stack[[3, 2, 1], 8:24, 8:24] = 6000  # a white, bright square of cloud in B4, B3, B2
    path = _write(tmp_path / "l2a.tif", stack, L2A)
    samples._WARNED.clear()
    with caplog.at_level(logging.WARNING):
        mask, method = samples.cloudy_input_mask(path)
    assert method == "brightness"
    assert mask[16, 16] and not mask[0, 0]
    assert any("B10" in r.getMessage() and "l2a.tif" in r.getMessage() for r in caplog.records)


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
