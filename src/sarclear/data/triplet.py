"""Read one triplet from disk with every SEN12MS-CR convention checked, or fail naming the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from sarclear.data.bands import S2_BAND_COUNTS, s2_band_indexes
from sarclear.data.valid import valid_pixels
from sarclear.errors import RasterError
from sarclear.io.geotiff import RasterInfo, check_same_grid, raster_info, read_raster

S1_DTYPES = ("float32", "float64")
S2_DTYPES = ("uint16", "int16", "uint8", "float32")


@dataclass
class TripletArrays:
    """A triplet in physical units: S1 dB `(2, H, W)` float32; S2 DN `(C, H, W)` float32.

    `nodata` holds the nodata values the three files declare (S1, cloudy, clear), for `valid_mask`.
    """

    s1: np.ndarray
    cloudy: np.ndarray
    clear: np.ndarray
    info: RasterInfo
    nodata: tuple[float | None, float | None, float | None] = (None, None, None)

    @property
    def valid_mask(self) -> np.ndarray:
        """`(H, W)` bool: pixels where all three images hold data (`sarclear.data.valid`).

        The cloudy input and S1 count as well as the target: `predict` writes nodata wherever an
        input has none, so a model is neither trained nor scored on pixels it will never be asked for.
        """
        s1_nodata, cloudy_nodata, clear_nodata = self.nodata
        return valid_pixels(self.cloudy, self.s1, s2_nodata=cloudy_nodata, s1_nodata=s1_nodata) & valid_pixels(
            self.clear, s2_nodata=clear_nodata
        )


def check_triplet(s1_path: Path, cloudy_path: Path, clear_path: Path) -> tuple[RasterInfo, RasterInfo, RasterInfo]:
    """Headers only: band counts, dtypes and one shared grid. Cheap enough to run on every row."""
    s1 = raster_info(s1_path)
    if s1.count != 2:
        raise RasterError(s1_path, f"wrong band count: has {s1.count}, expected 2 (S1 VV, VH in dB)")
    if s1.dtype not in S1_DTYPES:
        raise RasterError(s1_path, f"wrong data type: {s1.dtype}, expected float32 backscatter in dB")
    s2 = []
    for path in (cloudy_path, clear_path):
        info = raster_info(path)
        if info.count not in S2_BAND_COUNTS:
            raise RasterError(path, f"wrong band count: has {info.count}, expected 13 (S2 L1C), 12 (L2A) or 3 (RGB)")
        if info.dtype not in S2_DTYPES:
            raise RasterError(path, f"wrong data type: {info.dtype}, expected uint16 reflectance x 10000")
        s2.append(info)
    check_same_grid([s2[0], s1, s2[1]])
    return s1, s2[0], s2[1]


def read_triplet(
    s1_path: Path,
    cloudy_path: Path,
    clear_path: Path,
    *,
    bands: str = "rgb",
    window: Window | None = None,
) -> TripletArrays:
    """Validated arrays of a triplet; `bands` is `rgb` (B4, B3, B2) or `all13`."""
    s1_info, cloudy_info, clear_info = check_triplet(s1_path, cloudy_path, clear_path)
    s1, _ = read_raster(s1_path, window=window, require_finite=True)
    cloudy_idx, _ = s2_band_indexes(cloudy_info, bands)
    clear_idx, _ = s2_band_indexes(clear_info, bands)
    cloudy, _ = read_raster(cloudy_path, bands=cloudy_idx, window=window, require_finite=True)
    clear, _ = read_raster(clear_path, bands=clear_idx, window=window, require_finite=True)
    nodata = (s1_info.nodata, cloudy_info.nodata, clear_info.nodata)
    return TripletArrays(s1.astype(np.float32), cloudy.astype(np.float32), clear.astype(np.float32), clear_info, nodata)
