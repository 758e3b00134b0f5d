"""Stack single-band files onto one pixel grid as a GDAL VRT, resampled and offset-corrected on read.

Why a VRT: Sentinel-2 bands come one file per band at 10, 20 and 60 m, on grids whose origins differ
by a fraction of a 10 m pixel. A VRT describes the stack without copying a pixel: GDAL resamples
each source (bilinear for reflectance) window by window as it is read, so a full 10980 x 10980
tile keeps bounded memory, and every reader above `io/` (predict's strips, curate, the training
dataset) opens it like any multi-band GeoTIFF. Fractional source placement (`DstRect` in float
pixels) is supported by GDAL's VRT driver, so a 20 m grid shifted by half a 10 m pixel lands right.

The XML string itself is the dataset name GDAL opens (no temporary file to leak or to share between
DataLoader worker processes).

The radiometric offset of processing baseline 04.00 is removed in the same place, by a lookup table
on each source: 0 (fill) stays 0, valid DN at or below the offset become 1 (so a valid dark pixel
never reads as nodata), and every DN above it loses exactly the offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.transform import Affine

from sarclear.errors import GridMismatchError, RasterError

#: GDAL data type names for the numpy dtypes Sentinel files use.
_GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32", "float32": "Float32", "float64": "Float64"}


@dataclass(frozen=True)
class BandFile:
    """One band of the stack: `band` of the GDAL-openable `path`, described as `name`."""

    name: str
    path: str
    band: int = 1


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    crs: CRS | None
    transform: Affine
    dtype: str
    nodata: float | None


def _header(path: str, band: int) -> _Header:
    try:
        with rasterio.open(path) as src:
            if not 1 <= band <= src.count:
                raise RasterError(path, f"band {band} requested but the file has {src.count}")
            return _Header(src.width, src.height, src.crs, src.transform, src.dtypes[band - 1], src.nodatavals[band - 1])
    except RasterioError as exc:
        raise RasterError(path, f"not a readable raster (corrupt or truncated?): {str(exc).splitlines()[0]}") from exc


def stack_vrt(bands: Sequence[BandFile], *, offset: float = 0.0, resampling: str = "bilinear", origin: Path | None = None) -> str:
    """VRT XML stacking `bands` in order onto the grid of the finest of them (the 10 m grid).

    `offset` DN is removed from every valid pixel (see the module doc). All sources must share
    one CRS and be north-up; `origin` (the folder or product the user gave) names the product in
    errors about that.
    """
    if not bands:
        raise ValueError("stack_vrt needs at least one band")
    headers = [_header(b.path, b.band) for b in bands]
    where = origin if origin is not None else Path(bands[0].path)
    for band, head in zip(bands, headers, strict=True):
        if head.transform.b or head.transform.d:
            raise RasterError(band.path, "rotated or sheared grid; only north-up rasters can be stacked (warp it first)")
        if head.crs != headers[0].crs:
            raise GridMismatchError(
                where, f"band {band.name} ({Path(band.path).name}) is in {head.crs} but {bands[0].name} is in {headers[0].crs}; put all bands in one CRS"
            )
    finest = min(range(len(bands)), key=lambda i: (abs(headers[i].transform.a), i))
    grid = headers[finest]
    t = grid.transform
    parts = [f'<VRTDataset rasterXSize="{grid.width}" rasterYSize="{grid.height}">']
    if grid.crs is not None:
        parts.append(f"<SRS>{escape(grid.crs.to_wkt())}</SRS>")
    parts.append(f"<GeoTransform>{t.c!r}, {t.a!r}, 0.0, {t.f!r}, 0.0, {t.e!r}</GeoTransform>")
    for index, (band, head) in enumerate(zip(bands, headers, strict=True), start=1):
        parts.append(_band_xml(index, band, head, t, offset, resampling))
    parts.append("</VRTDataset>")
    return "".join(parts)


def _band_xml(index: int, band: BandFile, head: _Header, grid: Affine, offset: float, resampling: str) -> str:
    src_t = head.transform
    x_off = (src_t.c - grid.c) / grid.a
    y_off = (src_t.f - grid.f) / grid.e
    x_size = head.width * src_t.a / grid.a
    y_size = head.height * src_t.e / grid.e
    gdal_type = _GDAL_TYPES.get(head.dtype)
    if gdal_type is None:
        raise RasterError(band.path, f"data type {head.dtype} cannot be stacked; expected uint16 DN or float32")
    nodata = f"<NoDataValue>{head.nodata!r}</NoDataValue>" if head.nodata is not None else ""
    kind, extra = "SimpleSource", ""  # a SimpleSource is copied without a per-pixel float pass (several times faster)
    if offset:
        if head.dtype not in ("uint16", "uint32", "int32"):
            raise RasterError(band.path, f"a radiometric offset applies to integer DN, not {head.dtype}")
        top = 65535 if head.dtype == "uint16" else 2**31 - 1
        o = int(round(offset))
        kind, extra = "ComplexSource", f"<NODATA>0</NODATA><LUT>0:0,1:1,{o + 1}:1,{o + 2}:2,{top}:{top - o}</LUT>"
    return (
        f'<VRTRasterBand dataType="{gdal_type}" band="{index}"><Description>{escape(band.name)}</Description>{nodata}'
        f'<{kind} resampling="{resampling}"><SourceFilename relativeToVRT="0">{escape(band.path)}</SourceFilename>'
        f"<SourceBand>{band.band}</SourceBand>"
        f'<SrcRect xOff="0" yOff="0" xSize="{head.width}" ySize="{head.height}"/>'
        f'<DstRect xOff="{x_off!r}" yOff="{y_off!r}" xSize="{x_size!r}" ySize="{y_size!r}"/>{extra}'
        f"</{kind}></VRTRasterBand>"
    )
