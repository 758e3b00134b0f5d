"""GeoTIFF reading, validation and atomic writing through rasterio (GDAL)."""

from sarclear.io.atomic import atomic_output
from sarclear.io.geotiff import (
    RasterInfo,
    check_same_grid,
    raster_info,
    read_raster,
    write_raster,
)

__all__ = [
    "RasterInfo",
    "atomic_output",
    "check_same_grid",
    "raster_info",
    "read_raster",
    "write_raster",
]
