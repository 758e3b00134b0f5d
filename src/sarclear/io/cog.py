"""Cloud-Optimized GeoTIFF output written window by window, with bounded memory.

A scene is first written block-row by block-row into a tiled, uncompressed work GeoTIFF, then GDAL's
COG driver (`rasterio.shutil.copy(..., driver="COG")`) rewrites it with internal overviews and the
COG layout (header and overviews first, tiles in order), which is what readers such as QGIS and
web tilers range-request. GDAL's block cache is capped while doing so, so memory does not grow
with the scene (GDAL's default cache is 5% of RAM).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.windows import Window

from sarclear.io.profiles import gtiff_profile

#: Internal tile size of the COG (GDAL's COG default) and of the work file.
BLOCKSIZE: int = 512
#: Deflate level of the COG: level 1 writes several times faster than GDAL's default 6 for a file
#: about a fifth larger (figures in docs/predict.md, "Speed and memory"); `gdal_translate -of COG
#: -co LEVEL=9` recompresses a file for archiving.
DEFLATE_LEVEL: int = 1
#: GDAL block cache, MB, shared by reading and writing: one 512-row block row of a 10980 px wide
#: 3-band uint16 output is 34 MB; reading a 13-band pixel-interleaved input decodes 150 MB per block
#: row, which a larger cache would keep for the next strip but at the price of memory.
GDAL_CACHE_MB: int = 128


def gdal_env() -> rasterio.Env:
    """GDAL settings for streaming a scene: bounded block cache, multithreaded compression.

    Enter it around the whole read-process-write loop: GDAL's cache is shared by reads and writes.
    rasterio applies `GDAL_CACHEMAX` through `GDALSetCacheMax64`, which takes bytes (not MB).
    `NUM_THREADS` lets the (de)compressors use every core; `GDAL_NUM_THREADS` does the same for
    overview computation, which about halves the COG step (docs/predict.md).
    """
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20, NUM_THREADS="ALL_CPUS", GDAL_NUM_THREADS="ALL_CPUS")


def work_path(path: str | Path) -> Path:
    """A hidden work-file name beside `path` (same filesystem, so it is cheap to create and remove)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.work-{os.getpid()}.tif")


@contextlib.contextmanager
def open_work_gtiff(
    path: str | Path,
    *,
    count: int,
    height: int,
    width: int,
    dtype: str,
    crs: CRS | str | None,
    transform: Affine,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[BlockRowWriter]:
    """A `BlockRowWriter` over a new tiled work GeoTIFF at `path`; the file is removed on error."""
    # a scratch file, read once by the COG driver: uncompressed halves the time to write it and to
    # read it back, at the price of disk space while the run lasts (figures: docs/predict.md)
    profile = gtiff_profile(count=count, height=height, width=width, dtype=dtype, crs=crs, transform=transform,
                            nodata=nodata, compress=None, blocksize=BLOCKSIZE, tile_small_images=True, bigtiff=True)
    path = Path(path)
    try:
        with gdal_env(), rasterio.open(path, "w", **profile) as dst:
            for index, text in enumerate(descriptions or (), start=1):
                dst.set_band_description(index, text)
            if tags:
                dst.update_tags(**tags)
            writer = BlockRowWriter(dst, BLOCKSIZE)
            yield writer
            writer.close()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


class BlockRowWriter:
    """Buffers full-width rows and writes them in whole block rows, so no tile is written twice.

    A tile written in two parts would be decompressed and recompressed, and the first copy left
    as dead space in the file; whole block rows avoid both.
    """

    def __init__(self, dst: rasterio.io.DatasetWriter, block_rows: int) -> None:
        self.dst = dst
        self.block_rows = block_rows
        self.next_row = 0
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0

    def write(self, rows: np.ndarray) -> None:
        """Append `(count, n, width)` rows directly below those already written."""
        self._pending.append(rows)
        self._pending_rows += rows.shape[1]
        if self._pending_rows >= self.block_rows:
            block = np.concatenate(self._pending, axis=1)
            keep = block.shape[1] - block.shape[1] % self.block_rows
            self._emit(block[:, :keep])
            self._pending = [block[:, keep:]] if keep < block.shape[1] else []
            self._pending_rows = block.shape[1] - keep

    def close(self) -> None:
        """Write what is left (the last, partial block row) and check the raster is complete."""
        if self._pending_rows:
            self._emit(np.concatenate(self._pending, axis=1))
            self._pending, self._pending_rows = [], 0
        if self.next_row != self.dst.height:
            raise RuntimeError(f"wrote {self.next_row} of {self.dst.height} rows")

    def _emit(self, block: np.ndarray) -> None:
        n = block.shape[1]
        self.dst.write(block, window=Window(0, self.next_row, self.dst.width, n))
        self.next_row += n


def gtiff_to_cog(
    src: str | Path,
    dst: str | Path,
    *,
    compress: str = "deflate",
    resampling: str = "average",
) -> Path:
    """Rewrite `src` as a COG at `dst`: tiled, compressed (with a predictor), internal overviews.

    `average` overviews suit reflectance; a categorical raster (a mask) should use `nearest`.
    """
    with gdal_env():
        rasterio.shutil.copy(
            str(src),
            str(dst),
            driver="COG",
            compress=compress.upper(),
            **({"level": DEFLATE_LEVEL} if compress.lower() == "deflate" else {}),
            predictor="YES",
            blocksize=BLOCKSIZE,
            overviews="AUTO",
            overview_resampling=resampling,
            resampling=resampling,
            bigtiff="IF_SAFER",
        )
    return Path(dst)


def cog_problems(path: str | Path) -> list[str]:
    """Why `path` is not a tiled, compressed COG with overviews (empty list: it is)."""
    problems = []
    with rasterio.open(path) as src:
        if src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") != "COG":
            problems.append("not written with the COG layout")
        if src.profile.get("tiled") is not True:
            problems.append("not tiled")
        if src.compression is None:
            problems.append("not compressed")
        if max(src.width, src.height) > BLOCKSIZE and not src.overviews(1):
            problems.append("no overviews")
    return problems
