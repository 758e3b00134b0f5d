"""A raster's pixel size in words, in the units of its CRS: metres for UTM, degrees for EPSG:4326.

SSL4EO-S12 and many exports are in geographic coordinates, where a 10 m pixel is ~9e-05 degrees;
printing that as "9e-05 m" sends a user looking for a resolution bug that is not there.
"""

from __future__ import annotations

from rasterio.crs import CRS
from rasterio.transform import Affine

#: Metres per degree of latitude (the WGS 84 meridian arc, 111.32 km to 0.5 % at any latitude):
#: good enough for a "~10 m" hint beside a size in degrees.
METRES_PER_DEGREE: float = 111_320.0


def row_spacing_metres(crs: CRS | None, transform: Affine) -> float:
    """The distance between rows in metres: degrees of latitude converted for a geographic CRS,
    the CRS's own units otherwise (metres for UTM)."""
    size = abs(transform.e)
    return size * METRES_PER_DEGREE if crs is not None and crs.is_geographic else size


def pixel_size_text(crs: CRS | None, transform: Affine) -> str:
    """`10 m`, `20 x 10 m`, `8.983e-05° (~10 m)` or `1 (no CRS: pixel units)`."""
    x, y = abs(transform.a), abs(transform.e)
    size = f"{x:.4g}" if x == y else f"{x:.4g} x {y:.4g}"
    if crs is None:
        return f"{size} (no CRS: pixel units)"
    if crs.is_geographic:
        return f"{size}° (~{row_spacing_metres(crs, transform):.3g} m)"
    unit = (crs.linear_units or "m").lower()
    return f"{size} {'m' if unit in ('metre', 'meter', 'm') else unit}"
