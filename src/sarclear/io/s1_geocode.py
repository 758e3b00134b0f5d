"""A Sentinel-1 GRD product onto a map grid: calibrated, denoised sigma0 in dB, as the GeoTIFF sarclear reads.

The output is what the models were trained on as closely as the product allows: VV and VH
sigma0 in dB (SEN12MS-CR's S1 is Google Earth Engine's `COPERNICUS/S1_GRD`: orbit file, border
noise and thermal noise removal, calibration, terrain correction). The output's tags say what
was and was not done:

- **terrain correction only with a DEM** (`dem=`, `io/s1_terrain.py`). Without one, pixels are
  placed by the product's geolocation grid (tie points at the heights of a coarse terrain model,
  thin-plate-spline interpolated between them, GDAL's `GCP_TPS`); where the ground is higher or
  lower than those heights, a pixel lands `dh / tan(incidence)` off in range: about 1.0-1.7 x the
  height difference (incidence 30-46 degrees). Good on plains; in hills give a DEM.
- **no precise orbit.** The annotation's own geometry is used (good to a few metres for GRD).
- **border noise** of products processed before IPF 2.90 (2018) is found and masked
  (`io/s1_border.py`); later products blank it themselves.

The work is done tile by tile: each output tile's footprint is mapped back into radar geometry
through the tie points, that window of DN is read, calibrated (`io/s1_grd.py`), and resampled
onto the tile (bilinear, in linear power, then converted to dB), so memory stays bounded for a
whole 10980 x 10980 Sentinel-2 tile. Without a DEM GDAL's warper does the resampling
(`rasterio.warp.reproject`; `rasterio.vrt.WarpedVRT` is not used: with an explicit output grid it
ignores a source's GCPs, rasterio 1.4); with one, each pixel's radar position is computed and
sampled in numpy, since GDAL's warper cannot move pixels by a per-pixel height.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.transform import Affine, GCPTransformer, array_bounds, xy
from rasterio.warp import calculate_default_transform, reproject, transform
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from sarclear.cores import allowed_threads
from sarclear.errors import RasterError
from sarclear.io.atomic import atomic_output
from sarclear.io.cog import gtiff_to_cog, open_work_gtiff, work_path
from sarclear.io.dem import Dem
from sarclear.io.s1_border import BorderMask, find_border, has_border_noise
from sarclear.io.s1_grd import Calibration, S1Product, read_calibration
from sarclear.io.s1_terrain import (
    GCP_CRS,
    TiePoints,
    flatten_tie_points,
    footprint_px,
    layover_and_shadow,
    radar_positions,
    sample_bilinear,
    shift_for_terrain,
    tent_average,
    window_around,
)
from sarclear.io.sources import dataset_name

#: Output tiles: full-height block rows of the COG, cut into columns so the radar window stays small.
TILE_ROWS, TILE_COLS = 512, 1024
#: Radar pixels of margin around a tile's back-projected footprint (the bilinear kernel's reach plus rounding).
WINDOW_MARGIN_PX: int = 3
#: With a DEM, output pixels this many radar pixels across or more sample the radar averaged over their size.
COARSE_OUTPUT_PX: float = 1.5
#: Points per tile edge mapped back into radar geometry to bound its footprint.
EDGE_POINTS: int = 17


@dataclass(frozen=True)
class Grid:
    """A map grid: what the output's pixels are."""

    crs: CRS
    transform: Affine
    width: int
    height: int


def utm_grid(product: S1Product, resolution_m: float = 10.0) -> Grid:
    """The product's whole footprint on the UTM zone of its centre, at `resolution_m` (10 m: SEN12MS-CR's)."""
    lon = float(np.mean([g.x for g in product.gcps]))
    lat = float(np.mean([g.y for g in product.gcps]))
    zone = int((lon + 180) // 6) % 60 + 1
    crs = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    lines, samples = product.size
    dst_transform, width, height = calculate_default_transform(
        GCP_CRS, crs, samples, lines, gcps=list(product.gcps), resolution=resolution_m)
    return Grid(crs, dst_transform, int(width), int(height))


def grid_of(path: str | Path) -> Grid:
    """The grid of the S2 scene the S1 is meant for: any raster, or an S2 product sarclear reads (its 10 m grid)."""
    try:
        with rasterio.open(dataset_name(path)) as src:
            if src.crs is None:
                raise RasterError(path, "has no CRS; give --like a georeferenced raster")
            return Grid(src.crs, src.transform, src.width, src.height)
    except RasterioError as exc:
        raise RasterError(path, f"cannot be read as a raster: {str(exc).splitlines()[0]}") from exc


class _RadarReader:
    """The product's VV and VH measurement files, calibrated on request for a window of radar pixels."""

    def __init__(self, product: S1Product, remove_noise: bool, border_noise: str = "auto") -> None:
        self.product = product
        self.remove_noise = remove_noise
        self.calibrations: dict[str, Calibration] = {pol: read_calibration(product, pol) for pol in ("VV", "VH")}
        self.datasets = {}
        for pol in ("VV", "VH"):
            image = product.polarisations[pol].image
            try:
                self.datasets[pol] = rasterio.open(image)
            except RasterioError as exc:
                raise RasterError(image, f"cannot be read ({str(exc).splitlines()[0]}); download the product again") from exc
            if self.datasets[pol].shape != product.size:
                raise RasterError(image, f"is {self.datasets[pol].shape} px but the annotation says {product.size}; download the product again")
        remove_border = border_noise == "remove" or (border_noise == "auto" and has_border_noise(product.ipf_version))
        #: where the product's border noise is (None: not looked for; IPF 2.90 and later blank it to 0 themselves)
        self.border: BorderMask | None = (
            find_border(lambda window: self._read("VV", window), self.calibrations["VV"].noise, product.size)
            if remove_border else None)

    @property
    def has_noise(self) -> bool:
        return all(calibration.has_noise for calibration in self.calibrations.values())

    def sigma0(self, window: Window) -> np.ndarray:
        """`(2, h, w)` float32 linear sigma0 of VV, VH on a radar window; NaN where the product has no data."""
        out = []
        for pol in ("VV", "VH"):
            dn = self._read(pol, window)
            out.append(self.calibrations[pol].sigma0(dn, int(window.row_off), int(window.col_off), remove_noise=self.remove_noise))
        sigma = np.stack(out)
        if self.border is not None:
            sigma[:, self.border.noise(int(window.row_off), int(window.col_off), *sigma.shape[1:])] = np.nan
        return sigma

    def _read(self, pol: str, window: Window) -> np.ndarray:
        try:
            return self.datasets[pol].read(1, window=window)
        except RasterioError as exc:
            image = self.product.polarisations[pol].image
            raise RasterError(image, f"pixels unreadable ({str(exc).splitlines()[0]}); download the product again") from exc

    def close(self) -> None:
        for dataset in self.datasets.values():
            dataset.close()


def _footprint_window(locator: GCPTransformer, grid: Grid, r0: int, r1: int, c0: int, c1: int,
                      size: tuple[int, int]) -> Window | None:
    """The radar window that an output tile's pixels come from, or None when the tile is outside the product."""
    t = np.linspace(0.0, 1.0, EDGE_POINTS)
    cols = np.concatenate([c0 + t * (c1 - c0), c0 + t * (c1 - c0), np.full_like(t, c0), np.full_like(t, c1)])
    rows = np.concatenate([np.full_like(t, r0), np.full_like(t, r1), r0 + t * (r1 - r0), r0 + t * (r1 - r0)])
    xs, ys = xy(grid.transform, rows, cols, offset="ul")  # pixel edges: the tile's outline, not its centres
    lons, lats = transform(grid.crs, GCP_CRS, list(xs), list(ys))
    radar_rows, radar_cols = locator.rowcol(lons, lats, op=lambda v: v)
    radar_rows, radar_cols = np.asarray(radar_rows, dtype=np.float64), np.asarray(radar_cols, dtype=np.float64)
    lines, samples = size
    top = max(0, math.floor(radar_rows.min()) - WINDOW_MARGIN_PX)
    bottom = min(lines, math.ceil(radar_rows.max()) + WINDOW_MARGIN_PX + 1)
    left = max(0, math.floor(radar_cols.min()) - WINDOW_MARGIN_PX)
    right = min(samples, math.ceil(radar_cols.max()) + WINDOW_MARGIN_PX + 1)
    if bottom <= top or right <= left:
        return None
    return Window(left, top, right - left, bottom - top)


def _warp_tile(sigma: np.ndarray, window: Window, gcps: tuple[GroundControlPoint, ...], grid: Grid,
               r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Warp a radar window of linear sigma0 onto output rows r0..r1, columns c0..c1 (bilinear, thin-plate spline)."""
    shifted = [GroundControlPoint(row=g.row - window.row_off, col=g.col - window.col_off, x=g.x, y=g.y, z=g.z) for g in gcps]
    out = np.full((2, r1 - r0, c1 - c0), np.nan, dtype=np.float32)
    reproject(
        source=sigma, destination=out, gcps=shifted, src_crs=GCP_CRS, src_nodata=np.nan,
        dst_transform=window_transform(Window(c0, r0, c1 - c0, r1 - r0), grid.transform), dst_crs=grid.crs, dst_nodata=np.nan,
        resampling=Resampling.bilinear, SRC_METHOD="GCP_TPS", num_threads=allowed_threads(),
    )
    return out


def _terrain_tile(reader: _RadarReader, locator: GCPTransformer, ties: TiePoints, grid: Grid, heights: np.ndarray,
                  r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Linear sigma0 on output rows r0..r1, columns c0..c1, each pixel taken where its height puts it in the radar
    image (`io/s1_terrain.py`), and a mask of the pixels in layover (1) or shadow (2); None when the tile is
    outside the product."""
    product = reader.product
    rows, flat_cols, tie_heights, tan_incidence = radar_positions(locator, ties, grid.crs, grid.transform, r0, r1, c0, c1)
    cols = shift_for_terrain(flat_cols, heights, tie_heights, tan_incidence, product.range_spacing_m)
    window = window_around(rows, cols, product.size)
    if window is None:
        return None
    sigma = reader.sigma0(window)
    across = footprint_px(rows, cols)
    if across >= COARSE_OUTPUT_PX:  # output coarser than the radar: average what a pixel covers, not pick one
        sigma = tent_average(sigma, across)
    layover, shadow = layover_and_shadow(flat_cols, heights, tan_incidence, product.range_spacing_m)
    return sample_bilinear(sigma, rows - window.row_off, cols - window.col_off), layover.astype(np.uint8) + 2 * shadow


def to_db(sigma: np.ndarray) -> np.ndarray:
    """10 log10 of linear sigma0, NaN kept (the unit every sarclear S1 input is in)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (10.0 * np.log10(sigma)).astype(np.float32)


def output_tags(products: Sequence[S1Product], remove_noise: bool, has_noise: bool = True, dem: Dem | None = None,
                border: str = "") -> dict[str, str]:
    """What the file is and what was not done to it, for whoever opens it later (`border`: what `border_report` says)."""
    if not remove_noise:
        noise = "not removed (--keep-noise)"
    else:
        noise = "removed (the product's noise LUTs)" if has_noise else "not removed: the product has no noise table"
    return {
        "SARCLEAR_S1_SOURCE": " + ".join(product.name for product in products),
        "SARCLEAR_S1_PASS": products[0].pass_direction,
        "SARCLEAR_S1_START_TIME": products[0].start_time,
        "SARCLEAR_S1_CALIBRATION": "sigma0 (the product's sigmaNought LUT), dB",
        "SARCLEAR_S1_THERMAL_NOISE": noise,
        **({"SARCLEAR_S1_BORDER_NOISE": border} if border else {}),
        "SARCLEAR_S1_TERRAIN_CORRECTION": (
            "none: placed by the product's geolocation grid (thin-plate spline)" if dem is None else
            f"geometric, DEM {dem.path.name} ({dem.describe_heights()}): tie points moved to their mean height, range "
            "moved by (height - that height) / tan(incidence); no radiometric flattening, layover and shadow not masked"),
    }


def border_report(products: Sequence[S1Product], border_noise: str, masks: Sequence[BorderMask | None]) -> str:
    """One phrase on the border noise: whether it was looked for, why, and how wide the masked strips were."""
    versions = sorted({f"{p.ipf_version:.2f}" for p in products if p.ipf_version is not None})
    made_by = f"IPF {' / '.join(versions)}" if versions else "IPF version not in manifest.safe"
    found = [mask for mask in masks if mask is not None]
    if found:
        how = "--border-noise remove" if border_noise == "remove" else f"processed before IPF 2.90: {made_by}"
        return f"border noise masked ({how}; {' + '.join(mask.describe() for mask in found)})"
    if border_noise == "keep":
        return f"border noise not looked for (--border-noise keep; {made_by})"
    if not versions:
        return f"border noise not looked for ({made_by}; --border-noise remove if the swath's edges show dark stripes)"
    return f"border noise blanked by ESA's processor ({made_by})"


def one_acquisition(products: Sequence[S1Product]) -> list[S1Product]:
    """The slices in time order, after checking they are of one pass (one datatake of one satellite).

    A Sentinel-2 tile often straddles two consecutive GRD slices; slices of other passes or dates
    differ in geometry and in the ground's own state (moisture, wind on water) and are refused.
    """
    if not products:
        raise ValueError("no product given")
    ordered = sorted(products, key=lambda product: product.start_time)
    first = ordered[0]
    for other in ordered[1:]:
        if (other.mission, other.datatake) != (first.mission, first.datatake):
            raise RasterError(other.path, f"is another acquisition than {first.path.name} ({other.mission} datatake "
                                          f"{other.datatake}, not {first.mission} {first.datatake}); give slices of one pass")
    return ordered


def geocode_s1(products: S1Product | Sequence[S1Product], grid: Grid, out: str | Path, *, remove_noise: bool = True,
               dem: Dem | None = None, border_noise: str = "auto",
               tick: Callable[[int], None] | None = None) -> dict[str, float | str]:
    """Write `out`: a float32 COG of VV, VH sigma0 dB on `grid` (NaN where no product has data).

    Several products are consecutive slices of one pass (`one_acquisition`); each output pixel
    comes from the first slice, in time order, that has data there. With `dem`, pixels are placed
    by their height (terrain correction; where the DEM has no data, by the tie points as without
    one). Returns the share of output pixels with data (`covered`), whether the noise was removed,
    the share of pixels the DEM did not cover (`dem_missing`), and with a DEM the shares in layover
    and in radar shadow (`layover`, `shadow`: slopes too steep for the radar, valued anyway),
    and `border`, what was done about border noise (`border_report`): `border_noise` "auto" masks
    it in products processed before IPF 2.90, "remove" in any product, "keep" in none.
    `tick(rows)` is called after each block row.
    """
    if border_noise not in ("auto", "remove", "keep"):
        raise ValueError(f"border_noise must be auto, remove or keep, not {border_noise!r}")
    out = Path(out)
    slices = one_acquisition([products] if isinstance(products, S1Product) else list(products))
    readers: list[_RadarReader] = []
    locators: list[GCPTransformer] = []
    ties: list[TiePoints] = []
    covered = dem_missing = layover = shadow = 0
    try:
        for product in slices:
            readers.append(_RadarReader(product, remove_noise, border_noise))
            if dem is None:
                locators.append(GCPTransformer(list(product.gcps), tps=True))
                continue
            if not np.isfinite(product.range_spacing_m) or product.range_spacing_m <= 0:
                raise RasterError(product.path, "its annotation gives no rangePixelSpacing, which terrain correction needs; "
                                                "download the product again, or leave out --dem")  # fmt: skip
            flat, incidence, _ = flatten_tie_points(product.gcps, product.incidence_deg, product.path)
            locators.append(GCPTransformer(list(flat), tps=True))
            ties.append(TiePoints(flat, incidence, product.path))
        if dem is not None:
            if not dem.covers(grid.crs, array_bounds(grid.height, grid.width, grid.transform)):
                raise RasterError(dem.path, "does not overlap the output grid; give a DEM of the scene's area")
        has_noise = all(reader.has_noise for reader in readers)
        border = border_report(slices, border_noise, [reader.border for reader in readers])
        with atomic_output(out) as tmp:
            work = work_path(tmp)
            try:
                with open_work_gtiff(work, count=2, height=grid.height, width=grid.width, dtype="float32", crs=grid.crs,
                                     transform=grid.transform, nodata=float("nan"), descriptions=("VV", "VH"),
                                     tags=output_tags(slices, remove_noise, has_noise, dem, border)) as writer:  # fmt: skip
                    for r0 in range(0, grid.height, TILE_ROWS):
                        r1 = min(grid.height, r0 + TILE_ROWS)
                        strip = np.full((2, r1 - r0, grid.width), np.nan, dtype=np.float32)
                        for c0 in range(0, grid.width, TILE_COLS):
                            c1 = min(grid.width, c0 + TILE_COLS)
                            tile = strip[:, :, c0:c1]
                            heights = None
                            if dem is not None:
                                heights = dem.ellipsoidal(grid.crs, grid.transform, r0, r1, c0, c1)
                                dem_missing += int((~np.isfinite(heights)).sum())
                            for index, (product, reader, locator) in enumerate(zip(slices, readers, locators)):
                                if heights is None:
                                    window = _footprint_window(locator, grid, r0, r1, c0, c1, product.size)
                                    if window is None:
                                        continue
                                    warped = _warp_tile(reader.sigma0(window), window, product.gcps, grid, r0, r1, c0, c1)
                                else:
                                    found = _terrain_tile(reader, locator, ties[index], grid, heights, r0, r1, c0, c1)
                                    if found is None:
                                        continue
                                    warped, steep = found
                                empty = ~np.all(np.isfinite(tile), axis=0)
                                tile[:, empty] = warped[:, empty]
                                if heights is not None:
                                    filled = empty & np.all(np.isfinite(warped), axis=0)
                                    layover += int((filled & (steep == 1)).sum())
                                    shadow += int((filled & (steep == 2)).sum())
                                if not empty.any():
                                    break
                        db = to_db(strip)
                        covered += int(np.all(np.isfinite(db), axis=0).sum())
                        writer.write(db)
                        if tick is not None:
                            tick(r1 - r0)
                if covered == 0:  # before the rename: an all-NaN file would only mislead
                    raise RasterError(slices[0].path, "does not cover any pixel of the output grid; check that the "
                                                      "product and the --like scene are of the same place")
                gtiff_to_cog(work, tmp)
            finally:
                work.unlink(missing_ok=True)
    finally:
        for reader in readers:
            reader.close()
        for locator in locators:
            locator.close()
    pixels = float(grid.width * grid.height)
    return {"covered": covered / pixels, "noise_removed": float(remove_noise and has_noise), "dem_missing": dem_missing / pixels,
            "layover": layover / pixels, "shadow": shadow / pixels, "border": border}
