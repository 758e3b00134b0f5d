"""Find a truncated GeoTIFF (or JPEG 2000 band file) from its header, before any pixel is read.

A copy cut short (an interrupted `scp`, a full disk, a partial download) usually keeps its header,
so it opens and describes itself normally; the missing strips fail only when they are read, which
for a whole scene can be minutes into a run. The TIFF directory lists where every strip or tile of
pixel data starts and how long it is (the StripOffsets/TileOffsets and ...ByteCounts tags); GDAL
exposes them as `BLOCK_OFFSET_x_y` / `BLOCK_SIZE_x_y` in the `TIFF` metadata domain of each band.
If the file is shorter than the end of its last block, it is truncated. This costs opening the
header and a metadata look-up or two, no pixel I/O.

The band files of a SAFE product are JPEG 2000 (`.jp2`), which GDAL shows no block layout for. A
JP2 file is a sequence of boxes, each starting with its length (ISO/IEC 15444-1, Annex I), the
image itself in the contiguous-codestream box (`jp2c`), and a codestream ends with the EOC marker
(0xFFD9): a box that claims more bytes than the file holds, or a codestream that runs to the end of
the file without its EOC, means the file was cut short. That is a few bytes read per box.
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
    """Raise `RasterError` naming the file if `path` (or, for a VRT or product `dataset`, any TIFF
    or JPEG 2000 file it reads) is cut short.

    Rasters of other formats, or that GDAL cannot open here, are left to the ordinary open and
    read errors.
    """
    path = Path(path)
    members: list[Path] = []
    if dataset is not None:
        try:
            with rasterio.open(dataset) as src:
                members = [Path(f) for f in src.files if Path(f).suffix.lower() in (".tif", ".tiff", ".jp2")]
        except RasterioError:
            return
    for file in members or [path]:
        _check_file(file)


def _check_file(path: Path) -> None:
    """One file: JPEG 2000 by its boxes (no open needed, so a badly cut one is caught too), else
    a TIFF by its directory."""
    if path.suffix.lower() == ".jp2":
        reason = jp2_truncation(path)
        if reason is not None:
            raise RasterError(path, f"truncated JPEG 2000 band file: {reason}; copy or download the product again")
        return
    try:
        with rasterio.open(path) as src:
            _raise_if_short(path, src)
    except RasterioError:
        return


#: The JP2 signature box that opens every JPEG 2000 file (ISO/IEC 15444-1, I.5.1).
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
#: The end-of-codestream marker.
JP2_EOC = b"\xff\xd9"


def jp2_truncation(path: Path) -> str | None:
    """Why the JPEG 2000 file `path` is cut short, or None (also for files that are not JP2 or
    not on the local file system, e.g. inside a zip: those are left to the ordinary read errors)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            if handle.read(12) != JP2_SIGNATURE:
                return None
            start = 12
            while start < size:
                handle.seek(start)
                header = handle.read(8)
                if len(header) < 8:
                    return f"its last box header stops at byte {size}"
                length, kind = int.from_bytes(header[:4], "big"), header[4:]
                if length == 1:  # a 64-bit length follows
                    extended = handle.read(8)
                    if len(extended) < 8:
                        return f"its last box header stops at byte {size}"
                    length = int.from_bytes(extended, "big")
                elif length == 0:  # the last box, to the end of the file
                    length = size - start
                    if kind == b"jp2c":
                        handle.seek(size - 2)
                        if handle.read(2) != JP2_EOC:
                            return "its image codestream runs to the end of the file without its end marker"
                if length < 8:
                    return None  # not a box structure this check understands: leave it to the reader
                if start + length > size:
                    return f"its {kind.decode('latin-1')!r} box ends at byte {start + length}, past the file's {size} bytes"
                start += length
    except OSError:
        return None
    return None


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
