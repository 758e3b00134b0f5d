"""Find a truncated GeoTIFF from its header, before any pixel is read.

A copy cut short (an interrupted `scp`, a full disk, a partial download) usually keeps its header,
so it opens and describes itself normally; the missing strips fail only when they are read, which
for a whole scene can be minutes into a run. The TIFF directory lists where every strip or tile of
pixel data starts and how long it is (the StripOffsets/TileOffsets and ...ByteCounts tags); GDAL
exposes them as `BLOCK_OFFSET_x_y` / `BLOCK_SIZE_x_y` in the `TIFF` metadata domain of each band.
If the file is shorter than the end of its last block, it is truncated. This costs opening the
header and a metadata look-up or two, no pixel I/O.
"""

from __future__ import annotations

import os
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from sarclear.errors import RasterError

def tiff_data_end(src: rasterio.DatasetReader) -> int | None:
    """The byte just past the last strip/tile of pixel data of an open GeoTIFF, or None if not a TIFF.

    Only the last block of each band's full-resolution image is looked at: GDAL (GTiff and COG
    drivers alike, a COG's overviews coming first) writes blocks in row order, so that block holds
    the file's last pixel bytes. Pixel-interleaved files share blocks between bands, so band 1 is
    enough; band-interleaved (planar) files have a last block per band.
    """
    if src.driver not in ("GTiff", "COG"):
        return None
    block_h, block_w = src.block_shapes[0]
    x, y = -(-src.width // block_w) - 1, -(-src.height // block_h) - 1
    bands = range(1, src.count + 1) if src.profile.get("interleave") == "band" else range(1, 2)
    end = 0
    for band in bands:
        offset = src.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=band)
        size = src.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=band)
        if offset is None or size is None:
            return None  # GDAL does not expose the layout (not a plain TIFF)
        end = max(end, int(offset) + int(size))  # a sparse block is (0, 0)
    return end


def check_not_truncated(path: str | Path, dataset: str | None = None) -> None:
    """Raise `RasterError` naming `path` if it (or, for a VRT `dataset`, any TIFF it reads) is cut short.

    Rasters that are not TIFFs, or that GDAL cannot open here, are left to the ordinary open and
    read errors.
    """
    path = Path(path)
    try:
        with rasterio.open(dataset or str(path)) as src:
            files = [Path(f) for f in src.files if Path(f).suffix.lower() in (".tif", ".tiff")]
            own_tiff = dataset is None or not files
            if own_tiff:
                _raise_if_short(path, src)
    except RasterioError:
        return
    if not own_tiff:
        for member in files:
            try:
                with rasterio.open(member) as src:
                    _raise_if_short(member, src)
            except RasterioError:
                continue


def _raise_if_short(path: Path, src: rasterio.DatasetReader) -> None:
    end = tiff_data_end(src)
    if end is None:
        return
    size = os.path.getsize(path)
    if size < end:
        raise RasterError(
            path,
            f"truncated: the file has {size} bytes but its TIFF directory places pixel data up to byte {end} "
            f"({100 * size / end:.0f}% present); copy or download it again",
        )
