"""GeoTIFF creation profiles: the one place that decides how the project's GeoTIFFs are laid out.

Why one place: the tiles and triplets of `io.geotiff.write_raster`, the work file of a COG
(`io/cog.py`) and the synthetic scenes (`data/synthetic/bigscene.py`) are all read back by the same
windowed readers, so their tiling, compression and predictor follow the same rules:

- tiled in square blocks (GDAL wants a multiple of 16) when the image holds at least one block, else
  striped (a block larger than the image only wastes space) unless the caller streams whole block rows;
- lossless compression with the predictor that suits the data: floating-point (3) for float32 SAR
  in dB, horizontal differencing (2) for integer DN (the GDAL GTiff driver's documented choices);
- BigTIFF "IF_SAFER" for scene-sized files that may pass 4 GB uncompressed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import Affine

#: Codecs for which GDAL applies a PREDICTOR.
PREDICTOR_CODECS = frozenset({"deflate", "lzw", "zstd"})


def gtiff_profile(
    *,
    count: int,
    height: int,
    width: int,
    dtype: str | np.dtype,
    crs: CRS | str | None,
    transform: Affine,
    nodata: float | None = None,
    compress: str | None = "deflate",
    blocksize: int | None = 256,
    tile_small_images: bool = False,
    bigtiff: bool = False,
) -> dict[str, Any]:
    """The keyword arguments of `rasterio.open(path, "w", ...)` for one GeoTIFF.

    `compress=None` writes uncompressed (scratch files read once); `blocksize=None` writes strips;
    `tile_small_images` keeps the blocks for an image smaller than one (a writer of whole block rows).
    """
    dtype = np.dtype(dtype)
    profile: dict[str, Any] = {
        "driver": "GTiff", "count": count, "height": height, "width": width, "dtype": dtype.name,
        "crs": crs, "transform": transform, "nodata": nodata,
    }
    if compress is not None:
        profile["compress"] = compress
        if compress.lower() in PREDICTOR_CODECS:
            profile["predictor"] = 3 if np.issubdtype(dtype, np.floating) else 2
    fits = height >= blocksize and width >= blocksize if blocksize else False
    if blocksize and blocksize % 16 == 0 and (fits or tile_small_images):
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    if bigtiff:
        profile["BIGTIFF"] = "IF_SAFER"
    return profile
