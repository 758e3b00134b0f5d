"""Terrain correction of a GRD product with a DEM: where each map pixel's ground really is in the radar image.

A GRD product's geolocation grid ties (line, pixel) to (longitude, latitude) at the heights it
lists (a coarse terrain model sampled every 13 km in range and 20 km in azimuth: over the Alps,
25-2818 m in one product). A point of the ground that stands `dh`
metres above that height is nearer the radar, so it is imaged `dh / tan(incidence)` metres
nearer in ground range: on a 10 m grid, 1.0-1.7 pixels per 10 m of height at Sentinel-1 IW's
30-46 degrees. With a DEM, the tie points are first moved to one height (`flatten_tie_points`),
then each output pixel's radar position from them is moved by its own height's share along
range before the radar is sampled; that is geometric terrain correction by
backward geocoding, as SNAP's Range-Doppler Terrain Correction does it, with the tie points'
geometry in place of the orbit. The first-order shift is exact to well under a pixel for any
relief (the radar is 700 km away, so the look direction hardly changes over a mountain); what
it does not do:

- no radiometric terrain flattening: sigma0 stays on the ellipsoid's reference area, as in
  SEN12MS-CR (Earth Engine's `COPERNICUS/S1_GRD`), so slopes facing the radar stay brighter;
- layover and shadow are not masked: a pixel in either still gets the radar value at its
  position (layover squeezes several slopes onto one radar pixel; shadow gives noise);
- no precise orbit: the tie points' geometry is the product's own.

Heights: the tie points' heights are above the WGS 84 ellipsoid; the DEM's are read as such by
`io/dem.py` (a geoid's converted with PROJ). Smooth fields are computed on a lattice of the
tile's pixels and interpolated in between (`io/lattice.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.transform import GCPTransformer
from rasterio.warp import transform
from rasterio.windows import Window
from scipy import ndimage
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator, RegularGridInterpolator

from sarclear.errors import RasterError
from sarclear.io.lattice import lattice, pixel_xy, upsample

#: The tie points' coordinate system: longitude, latitude on WGS 84 (the annotation's ellipsoid). Not in
#: s1_grd.py, which every reader imports: a CRS built at import would fail there when PROJ is broken.
GCP_CRS = CRS.from_epsg(4326)
#: WGS 84's equatorial radius (m), to turn the tie points' small moves into degrees.
EARTH_RADIUS_M: float = 6378137.0
#: Output pixels between the points where the tie points' mapping is evaluated (it is smooth: linear in between).
LATTICE_STEP: int = 16
#: Radar pixels of margin around the positions sampled (the bilinear kernel's reach plus rounding).
WINDOW_MARGIN_PX: int = 2


def _tie_arrays(gcps: Sequence[GroundControlPoint], incidence_deg: Sequence[float], product: Path
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, heights, incidence angles) of the tie points, refused in one line when terrain correction cannot use them."""
    rows = np.array([g.row for g in gcps], dtype=np.float64)
    cols = np.array([g.col for g in gcps], dtype=np.float64)
    heights = np.array([g.z if g.z is not None else np.nan for g in gcps], dtype=np.float64)
    incidence = np.asarray(incidence_deg, dtype=np.float64)
    if incidence.size != rows.size or not np.isfinite(incidence).all() or not np.isfinite(heights).all():
        raise RasterError(product, "its geolocation grid lacks heights or incidence angles, which terrain correction "
                                   "needs; download the product again, or leave out --dem")  # fmt: skip
    if not ((incidence > 5.0) & (incidence < 70.0)).all():
        raise RasterError(product, f"its geolocation grid gives incidence angles of {incidence.min():.1f}-{incidence.max():.1f} "
                                   "degrees, outside Sentinel-1's 20-50; download the product again")  # fmt: skip
    return rows, cols, heights, incidence


def flatten_tie_points(gcps: Sequence[GroundControlPoint], incidence_deg: Sequence[float], product: Path
                       ) -> tuple[tuple[GroundControlPoint, ...], tuple[float, ...], float]:
    """The tie points moved to one height: where each one's radar pixel would see ground at their mean height.

    A genuine product's tie points stand on a coarse terrain model (over the Alps, 25 to 2818 m
    between neighbours 13 km apart): each lies where its pixel sees ground at *its* height, so
    interpolating between them (the thin-plate spline) mixes geometry with relief, and no
    interpolation of their heights undoes that consistently (docs/sentinel1.md has the
    comparison). Moved to one reference height, the points describe the geometry alone,
    and every pixel's own height is then applied once, from the DEM: ground `h - h_ref` higher
    is seen `(h - h_ref) / tan(incidence)` farther from the radar's track, so each point moves
    that much back towards it, along the direction in which its grid line's pixels run.
    Returns the moved points and their incidence angles, line by line, and the reference height.
    Needs a rectilinear grid (every genuine GRD's is); raises otherwise.
    """
    rows, cols, heights, incidences = _tie_arrays(gcps, incidence_deg, product)
    unique_rows, unique_cols = np.unique(rows), np.unique(cols)
    if unique_rows.size * unique_cols.size != rows.size or unique_cols.size < 2:
        raise RasterError(product, "its geolocation grid is not a grid of lines and pixels, which terrain correction "
                                   "needs; leave out --dem")  # fmt: skip
    shape = (unique_rows.size, unique_cols.size)
    index = np.searchsorted(unique_rows, rows) * shape[1] + np.searchsorted(unique_cols, cols)
    order = np.argsort(index)
    lon = np.array([g.x for g in gcps])[order].reshape(shape)
    lat = np.array([g.y for g in gcps])[order].reshape(shape)
    height = heights[order].reshape(shape)
    incidence = incidences[order].reshape(shape)
    tan_incidence = np.tan(np.radians(incidence))
    reference = float(height.mean())
    # the ground direction of increasing range at each point, in metres east and north
    east = np.gradient(lon, axis=1) * np.radians(1.0) * EARTH_RADIUS_M * np.cos(np.radians(lat))
    north = np.gradient(lat, axis=1) * np.radians(1.0) * EARTH_RADIUS_M
    length = np.hypot(east, north)
    if not (length > 0).all():
        raise RasterError(product, "its geolocation grid repeats a point along a line, which terrain correction cannot use; "
                                   "download the product again, or leave out --dem")  # fmt: skip
    move = -(height - reference) / tan_incidence  # metres along range (towards the radar when the point is high)
    new_lon = lon + np.degrees(move * east / length / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    new_lat = lat + np.degrees(move * north / length / EARTH_RADIUS_M)
    flat = [GroundControlPoint(row=float(r), col=float(c), x=float(x), y=float(y), z=reference)
            for r, c, x, y in zip(np.repeat(unique_rows, shape[1]), np.tile(unique_cols, shape[0]), new_lon.ravel(), new_lat.ravel())]
    return tuple(flat), tuple(float(v) for v in incidence.ravel()), reference


class TiePoints:
    """The geolocation grid's heights and incidence angles at any radar position (GDAL's pixel convention)."""

    def __init__(self, gcps: Sequence, incidence_deg: Sequence[float], product: Path) -> None:
        rows, cols, heights, incidence = _tie_arrays(gcps, incidence_deg, product)
        unique_rows, unique_cols = np.unique(rows), np.unique(cols)
        values = np.stack([heights, incidence], axis=-1)  # the angle is near linear across range; its tangent is not
        if unique_rows.size * unique_cols.size == rows.size and unique_rows.size > 1 and unique_cols.size > 1:
            # the usual case: a rectilinear grid (every grid line at the same pixels)
            table = np.full((unique_rows.size, unique_cols.size, 2), np.nan)
            table[np.searchsorted(unique_rows, rows), np.searchsorted(unique_cols, cols)] = values
            if np.isfinite(table).all():
                self._interpolate = RegularGridInterpolator((unique_rows, unique_cols), table, bounds_error=False, fill_value=None)
                return
        linear, nearest = LinearNDInterpolator(np.c_[rows, cols], values), NearestNDInterpolator(np.c_[rows, cols], values)

        def scattered(points: np.ndarray) -> np.ndarray:
            found = linear(points)
            outside = ~np.isfinite(found).all(axis=-1)
            found[outside] = nearest(points[outside])
            return found

        self._interpolate = scattered

    def at(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tie-point height in metres, tan(incidence)) at radar positions of any shape."""
        found = self._interpolate(np.stack([rows.ravel(), cols.ravel()], axis=-1))
        return found[:, 0].reshape(rows.shape), np.tan(np.radians(found[:, 1])).reshape(rows.shape)


def radar_positions(locator: GCPTransformer, ties: TiePoints | None, crs: CRS, grid_transform: rasterio.Affine,
                    r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, ...]:
    """Radar (row, col), GDAL's convention, of every output pixel centre of a tile, at the tie points' heights;
    with `ties`, also the tie points' height and tan(incidence) there.

    All of these are smooth at the scale of a tile (the thin-plate spline, the tie points' grid),
    so they are evaluated on a lattice every `LATTICE_STEP` pixels and interpolated bilinearly in
    between: the error is a few thousandths of a pixel, at a fraction of the cost.
    """
    rows, cols = lattice(r0, r1, LATTICE_STEP), lattice(c0, c1, LATTICE_STEP)
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    xs, ys = pixel_xy(grid_transform, grid_rows, grid_cols)
    lons, lats = transform(crs, GCP_CRS, list(np.ravel(xs)), list(np.ravel(ys)))
    radar_rows, radar_cols = locator.rowcol(lons, lats, op=lambda v: v)
    shape = grid_rows.shape
    on_lattice = [np.asarray(radar_rows, dtype=np.float64).reshape(shape), np.asarray(radar_cols, dtype=np.float64).reshape(shape)]
    if ties is not None:
        on_lattice.extend(ties.at(on_lattice[0], on_lattice[1]))
    every_row, every_col = np.arange(r0, r1) + 0.5, np.arange(c0, c1) + 0.5
    return tuple(upsample(values, rows, cols, every_row, every_col) for values in on_lattice)


def shift_for_terrain(cols: np.ndarray, heights: np.ndarray, tie_heights: np.ndarray, tan_incidence: np.ndarray,
                      range_spacing_m: float) -> np.ndarray:
    """Radar columns moved to where ground at `heights` (ellipsoidal, NaN: unknown, left in place) is imaged.

    Columns count ground range away from the radar, so higher ground moves to smaller columns.
    """
    dh = np.where(np.isfinite(heights), heights - tie_heights, 0.0)
    return cols - dh / (tan_incidence * range_spacing_m)


def layover_and_shadow(cols: np.ndarray, heights: np.ndarray, tan_incidence: np.ndarray,
                       range_spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the DEM's slopes are too steep for the radar: (layover, shadow) masks of an output tile.

    Along the range direction (where the tie points' radar columns grow), ground rising away from
    the radar faster than tan(incidence) images its top before its foot (layover: several slopes
    on one radar pixel); ground falling away faster than 1 / tan(incidence) is hidden behind its
    crest (shadow: the radar sees nothing there). Both get a radar value anyway; this says where.
    """
    if cols.shape[0] < 2 or cols.shape[1] < 2:
        return np.zeros(cols.shape, bool), np.zeros(cols.shape, bool)
    dcol_dy, dcol_dx = np.gradient(cols)  # radar columns per output pixel, down and across
    dh_dy, dh_dx = np.gradient(heights.astype(np.float64))  # metres per output pixel
    along = dcol_dx * dcol_dx + dcol_dy * dcol_dy
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (dh_dx * dcol_dx + dh_dy * dcol_dy) / (along * range_spacing_m)  # metres of height per metre of ground range
        layover = np.nan_to_num(slope, nan=0.0) > tan_incidence
        shadow = np.nan_to_num(slope, nan=0.0) < -1.0 / tan_incidence
    return layover, shadow


def window_around(rows: np.ndarray, cols: np.ndarray, size: tuple[int, int]) -> Window | None:
    """The radar window holding every position (plus the kernel's margin), clipped to the image; None if empty."""
    lines, samples = size
    inside = (rows > -1.0) & (rows < lines + 1.0) & (cols > -1.0) & (cols < samples + 1.0)
    if not inside.any():
        return None
    top = max(0, int(np.floor(rows[inside].min())) - WINDOW_MARGIN_PX)
    bottom = min(lines, int(np.ceil(rows[inside].max())) + WINDOW_MARGIN_PX + 1)
    left = max(0, int(np.floor(cols[inside].min())) - WINDOW_MARGIN_PX)
    right = min(samples, int(np.ceil(cols[inside].max())) + WINDOW_MARGIN_PX + 1)
    if bottom <= top or right <= left:
        return None
    return Window(left, top, right - left, bottom - top)


def footprint_px(rows: np.ndarray, cols: np.ndarray) -> float:
    """How many radar pixels across one output pixel covers (the square root of its area), from the positions' steps."""
    if rows.shape[0] < 2 or rows.shape[1] < 2:
        return 1.0
    dr_dx, dc_dx = float(np.median(np.diff(rows, axis=1))), float(np.median(np.diff(cols, axis=1)))
    dr_dy, dc_dy = float(np.median(np.diff(rows, axis=0))), float(np.median(np.diff(cols, axis=0)))
    return float(np.sqrt(abs(dr_dx * dc_dy - dr_dy * dc_dx)))


def tent_average(image: np.ndarray, across: float) -> np.ndarray:
    """Each band smoothed by a tent `across` radar pixels wide on each side (NaN left out), as GDAL's bilinear
    kernel widens when it shrinks an image: sampled bilinearly afterwards, an output pixel coarser
    than the radar averages what it covers instead of picking one pixel's speckle. Symmetric, so
    nothing moves."""
    reach = int(np.ceil(across)) - 1
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    weights = np.maximum(0.0, 1.0 - np.abs(offsets) / across)
    weights /= weights.sum()
    valid = np.isfinite(image).astype(np.float32)
    values = np.where(valid > 0, image, 0.0).astype(np.float32)
    for axis in (1, 2):
        values = ndimage.convolve1d(values, weights, axis=axis, mode="nearest")
        valid = ndimage.convolve1d(valid, weights, axis=axis, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid > 1e-3, values / valid, np.nan).astype(np.float32)


def sample_bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """`image` (bands, h, w) sampled bilinearly at positions in its own pixel-edge coordinates (GDAL's).

    As GDAL's warper does: positions up to half a pixel past the outer centres take the edge
    pixel; NaN neighbours are left out and the others' weights renormalised (the interpolated
    values over the interpolated share of valid neighbours); NaN outside the image.
    """
    bands, height, width = image.shape
    y, x = rows - 0.5, cols - 0.5
    inside = (y >= -0.5) & (y <= height - 0.5) & (x >= -0.5) & (x <= width - 0.5)
    coordinates = np.stack([y, x])
    out = np.empty((bands, *rows.shape), dtype=np.float32)
    for band in range(bands):
        values = image[band].astype(np.float32, copy=False)
        valid = np.isfinite(values)
        if valid.all():
            out[band] = ndimage.map_coordinates(values, coordinates, order=1, mode="nearest")
            continue
        total = ndimage.map_coordinates(np.where(valid, values, 0.0).astype(np.float32), coordinates, order=1, mode="nearest")
        weight = ndimage.map_coordinates(valid.astype(np.float32), coordinates, order=1, mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            out[band] = np.where(weight > 1e-3, total / weight, np.nan)
    out[:, ~inside] = np.nan
    return out
