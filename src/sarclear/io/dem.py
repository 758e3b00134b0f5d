"""A DEM read onto output tiles as heights above the WGS 84 ellipsoid, its geoid converted by PROJ.

Sentinel-1's geometry (its tie points' heights) is ellipsoidal; most DEMs are above a geoid
(Copernicus DEM: EGM2008; SRTM: EGM96), up to +-100 m away from it. PROJ converts the heights
with the geoid's grid file, and without the file it returns them unchanged, silently: so the
grid is checked for before any work (`geoid_grid_found`), and `sarclear doctor` reports it.
Void values are made no data before resampling, whether the file declares them or not.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioError, WindowError
from rasterio.transform import array_bounds
from rasterio.warp import reproject, transform, transform_bounds
from rasterio.windows import Window, from_bounds
from rasterio.windows import transform as window_transform

from sarclear.cores import allowed_threads
from sarclear.errors import RasterError
from sarclear.io.lattice import lattice, pixel_xy, upsample

#: The vertical datums a DEM's heights may be above: the EPSG code of each geoid's height system.
HEIGHT_DATUMS: dict[str, int | None] = {"egm2008": 3855, "egm96": 5773, "ellipsoid": None}
#: The PROJ grid each geoid needs, for the fix when it is missing (PROJ's CDN names).
GEOID_GRIDS: dict[str, str] = {"egm2008": "us_nga_egm08_25.tif", "egm96": "us_nga_egm96_15.tif"}
#: WGS 84 longitude, latitude and ellipsoidal height.
ELLIPSOIDAL = CRS.from_epsg(4979)
LONLAT = CRS.from_epsg(4326)
#: Heights outside this range (m, above the geoid or the ellipsoid) are a DEM's void markers, read as no data:
#: the Dead Sea's shore is at -430 m, Everest 8849 m, and the geoid is within 110 m of the ellipsoid.
LOWEST_M, HIGHEST_M = -1000.0, 9500.0
#: Output pixels between the points where the geoid is evaluated (it changes by centimetres over a kilometre).
GEOID_STEP: int = 128


def proj_data_folder() -> str:
    """The folder PROJ reads its database and grids from in this process (where a missing geoid grid goes)."""
    from rasterio.env import PROJDataFinder

    return os.environ.get("PROJ_DATA") or os.environ.get("PROJ_LIB") or PROJDataFinder().search() or "(PROJ's data folder)"


def geoid_grid_found(heights: str, lon: float = 10.0, lat: float = 45.0) -> bool:
    """Whether PROJ here converts `heights` ("egm2008", "egm96") to the ellipsoid at (lon, lat): it has the geoid's grid.

    PROJ without the grid returns a height unchanged, so the test is a geoid height of 0 coming
    back as something else. The default place, 10 E 45 N, has both geoids some 40 m above the
    ellipsoid; nowhere is either within centimetres of zero over more than a thin line.
    """
    code = HEIGHT_DATUMS[heights]
    if code is None:
        return True
    _, _, z = transform(CRS.from_string(f"EPSG:4326+{code}"), ELLIPSOIDAL, [lon], [lat], zs=[0.0])
    return bool(np.isfinite(z[0]) and z[0] != 0.0)


class Dem:
    """A DEM file (any raster, any CRS, metres) read onto output tiles as heights above the WGS 84 ellipsoid."""

    def __init__(self, path: str | Path, heights: str = "egm2008") -> None:
        if heights not in HEIGHT_DATUMS:
            raise ValueError(f"heights must be one of {sorted(HEIGHT_DATUMS)}, not {heights!r}")
        self.path, self.heights = Path(path), heights
        if not self.path.exists():
            raise RasterError(self.path, "does not exist; give a DEM raster (Copernicus DEM GLO-30, SRTM: a GeoTIFF in metres)")
        try:
            self.dataset = rasterio.open(self.path)
        except RasterioError as exc:
            raise RasterError(self.path, f"cannot be read as a raster ({str(exc).splitlines()[0]}); give a DEM GeoTIFF") from exc
        if self.dataset.crs is None:
            self.dataset.close()
            raise RasterError(self.path, "has no CRS; give a georeferenced DEM (gdal_edit.py -a_srs EPSG:4326 when it is in degrees)")
        self._geoid_crs: CRS | None = None
        if HEIGHT_DATUMS[heights] is not None:
            try:
                self._geoid_crs = CRS.from_string(f"EPSG:4326+{HEIGHT_DATUMS[heights]}")
            except CRSError as exc:  # pragma: no cover - PROJ's database always has these
                raise RasterError(self.path, f"PROJ does not know the {heights} height system ({exc})") from exc
            self._check_geoid_grid()

    def _check_geoid_grid(self) -> None:
        """Refuse now, not after an hour, when PROJ lacks the geoid grid: it then leaves heights unchanged, silently."""
        try:  # asked at the DEM's centre: a grid of one region (PROJ also has national ones) must cover it
            left, bottom, right, top = transform_bounds(self.dataset.crs, LONLAT, *self.dataset.bounds)
            found = geoid_grid_found(self.heights, (left + right) / 2, (bottom + top) / 2)
        except (RasterioError, CRSError, ValueError):  # an extent with no longitude and latitude: ask at the default place
            found = geoid_grid_found(self.heights)
        if not found:
            grid = GEOID_GRIDS[self.heights]
            self.close()
            raise RasterError(self.path, f"has heights above the {self.heights.upper()} geoid (--dem-heights {self.heights}) but PROJ "
                                         f"has no {grid} to convert them; put that file (https://cdn.proj.org/{grid}) in PROJ's "
                                         f"data folder, {proj_data_folder()}, or set PROJ_NETWORK=ON to let PROJ fetch it, or "
                                         "give a DEM of ellipsoidal heights with --dem-heights ellipsoid")  # fmt: skip

    def describe_heights(self) -> str:
        """What the DEM's heights were above, and what was done to them, for the log and the output's tags."""
        if self._geoid_crs is None:
            return "heights above the WGS 84 ellipsoid"
        return f"heights above the {self.heights.upper()} geoid, converted to the ellipsoid with PROJ"

    def undulation(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """The geoid's height above the ellipsoid (m) at these points; zeros for a DEM of ellipsoidal heights."""
        if self._geoid_crs is None:
            return np.zeros(np.shape(lons))
        _, _, z = transform(self._geoid_crs, ELLIPSOIDAL, list(np.ravel(lons)), list(np.ravel(lats)), zs=[0.0] * np.size(lons))
        return np.asarray(z, dtype=np.float64).reshape(np.shape(lons))

    def covers(self, crs: CRS, bounds: tuple[float, float, float, float]) -> bool:
        """Whether the DEM overlaps these bounds (in `crs`) at all.

        The scene's bounds go into the DEM's CRS, not the other way: a DEM may be a global mosaic,
        whose extent has no meaning in a UTM zone.
        """
        left, bottom, right, top = transform_bounds(crs, self.dataset.crs, *bounds, densify_pts=21)
        dem = self.dataset.bounds
        return left < dem.right and right > dem.left and bottom < max(dem.top, dem.bottom) and top > min(dem.top, dem.bottom)

    def ellipsoidal(self, crs: CRS, grid_transform: rasterio.Affine, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Heights above the ellipsoid on output rows r0..r1, columns c0..c1 (bilinear); NaN where the DEM has none."""
        out = np.full((r1 - r0, c1 - c0), np.nan, dtype=np.float32)
        tile_transform = window_transform(Window(c0, r0, c1 - c0, r1 - r0), grid_transform)
        heights, source_transform = self._heights_around(crs, array_bounds(r1 - r0, c1 - c0, tile_transform))
        if heights is None:
            return out
        reproject(source=heights, destination=out, src_transform=source_transform, src_crs=self.dataset.crs, src_nodata=np.nan,
                  dst_transform=tile_transform, dst_crs=crs, dst_nodata=np.nan, resampling=Resampling.bilinear,
                  num_threads=allowed_threads())  # fmt: skip
        if self._geoid_crs is not None:
            rows, cols = lattice(0, r1 - r0, GEOID_STEP), lattice(0, c1 - c0, GEOID_STEP)
            grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
            xs, ys = pixel_xy(tile_transform, grid_rows, grid_cols)
            lons, lats = transform(crs, LONLAT, list(np.ravel(xs)), list(np.ravel(ys)))
            undulation = self.undulation(np.asarray(lons), np.asarray(lats)).reshape(grid_rows.shape)
            every_row, every_col = np.arange(r1 - r0) + 0.5, np.arange(c1 - c0) + 0.5
            out += upsample(undulation, rows, cols, every_row, every_col).astype(np.float32)
        return out

    def _heights_around(self, crs: CRS, bounds: tuple[float, float, float, float]) -> tuple[np.ndarray | None, rasterio.Affine]:
        """The DEM's heights over `bounds` (in `crs`) and 2 pixels around, float32, NaN where it has none.

        Read into memory (a tile's worth: a few hundred pixels across at 30 m) so that void values
        become NaN *before* resampling: a void marker the file does not declare (-32768, -9999)
        would otherwise be blended into its valid neighbours as a deep pit.
        """
        left, bottom, right, top = transform_bounds(crs, self.dataset.crs, *bounds, densify_pts=21)
        window = from_bounds(left, bottom, right, top, transform=self.dataset.transform)
        window = Window(window.col_off - 2, window.row_off - 2, window.width + 4, window.height + 4).round_offsets().round_lengths()
        try:
            window = window.intersection(Window(0, 0, self.dataset.width, self.dataset.height))
        except WindowError:  # the tile is beyond the DEM
            return None, self.dataset.transform
        try:
            heights = self.dataset.read(1, window=window, masked=True).astype(np.float32).filled(np.nan)
        except RasterioError as exc:
            raise RasterError(self.path, f"pixels unreadable ({str(exc).splitlines()[0]}); download the DEM again") from exc
        heights[(heights < LOWEST_M) | (heights > HIGHEST_M)] = np.nan
        return heights, self.dataset.window_transform(window)

    def close(self) -> None:
        self.dataset.close()
