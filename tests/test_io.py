"""GeoTIFF I/O: round trips keep the georeference; bad files fail with one line naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.errors import GridMismatchError, RasterError
from sarclear.io import atomic_output, check_same_grid, raster_info, read_raster, write_raster
from tests.helpers import CRS, transform_for


def test_round_trip_keeps_grid_and_descriptions(tmp_path: Path) -> None:
    data = np.arange(3 * 40 * 48, dtype=np.uint16).reshape(3, 40, 48)
    path = write_raster(tmp_path / "x.tif", data, crs=CRS, transform=transform_for(), descriptions=["B4", "B3", "B2"])
    back, info = read_raster(path)
    np.testing.assert_array_equal(back, data)
    assert info.crs == rasterio.crs.CRS.from_string(CRS)
    assert info.transform == transform_for()
    assert info.descriptions == ("B4", "B3", "B2")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RasterError, match=r"nope\.tif: file not found"):
        read_raster(tmp_path / "nope.tif")


def test_truncated_tiff_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "x.tif", np.ones((2, 64, 64), np.float32), crs=CRS, transform=transform_for(), compress="none")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(RasterError, match=r"x\.tif: .*(corrupt|truncated)"):
        read_raster(path)


def test_wrong_band_count_and_nan(tmp_path: Path) -> None:
    data = np.zeros((3, 8, 8), np.float32)
    data[0, 0, 0] = np.nan
    path = write_raster(tmp_path / "s1.tif", data, crs=CRS, transform=transform_for())
    with pytest.raises(RasterError, match="wrong band count: has 3, expected 2"):
        read_raster(path, expect_count=2)
    with pytest.raises(RasterError, match="1 NaN/inf"):
        read_raster(path, require_finite=True)


def test_grid_mismatch_names_the_odd_file(tmp_path: Path) -> None:
    a = write_raster(tmp_path / "a.tif", np.zeros((1, 8, 8), np.uint16), crs=CRS, transform=transform_for())
    b = write_raster(tmp_path / "b.tif", np.zeros((1, 8, 8), np.uint16), crs=CRS, transform=transform_for(origin_x=500010.0))
    c = write_raster(tmp_path / "c.tif", np.zeros((1, 8, 8), np.uint16), crs="EPSG:32632", transform=transform_for())
    with pytest.raises(GridMismatchError, match=r"b\.tif: grid mismatch: transform"):
        check_same_grid([raster_info(a), raster_info(b)])
    with pytest.raises(GridMismatchError, match=r"c\.tif: grid mismatch: CRS"):
        check_same_grid([raster_info(a), raster_info(c)])


def test_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.tif"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
