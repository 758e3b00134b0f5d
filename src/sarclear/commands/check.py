"""`sarclear check S1.tif S2_CLOUDY.tif S2.tif`: validate a triplet the way every command reads it.

Headers first (`check_triplet`: band counts, dtypes, one shared grid), then every pixel
(`read_triplet`: readable strips, finite values), in row windows so a whole scene fits in memory.
Prints one line per file; any problem is the same one-line error (exit 2) training would give.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from sarclear.data.triplet import check_triplet, read_triplet
from sarclear.io.geotiff import RasterInfo
from sarclear.io.pixel_size import pixel_size_text

_WINDOW_ROWS = 512
_NAMES = ("s1", "s2_cloudy", "s2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("s1", type=Path, help="Sentinel-1 GeoTIFF: 2 bands (VV, VH) float32 dB")
    parser.add_argument("s2_cloudy", type=Path, help="cloudy Sentinel-2 GeoTIFF: 13 bands (L1C) or 3 (RGB)")
    parser.add_argument("s2", type=Path, help="clear Sentinel-2 GeoTIFF on the same grid")


def value_ranges(s1: Path, cloudy: Path, clear: Path, bands: str, shape: tuple[int, int]) -> list[tuple[float, float]]:
    """(min, max) per file over every pixel, read `_WINDOW_ROWS` rows at a time."""
    height, width = shape
    lows, highs = [np.inf] * 3, [-np.inf] * 3
    for top in range(0, height, _WINDOW_ROWS):
        window = Window(0, top, width, min(_WINDOW_ROWS, height - top))
        arrays = read_triplet(s1, cloudy, clear, bands=bands, window=window)
        for i, array in enumerate((arrays.s1, arrays.cloudy, arrays.clear)):
            lows[i] = min(lows[i], float(array.min()))
            highs[i] = max(highs[i], float(array.max()))
    return list(zip(lows, highs))


def describe(name: str, info: RasterInfo, low: float, high: float, what: str) -> str:
    crs = info.crs.to_string() if info.crs is not None else "no CRS"
    pixel = pixel_size_text(info.crs, info.transform)
    return (
        f"{name:<9} {info.path}: {info.count} bands {info.dtype}, {info.width} x {info.height} px, "
        f"{crs}, pixel {pixel}, {what} {low:g} .. {high:g}"
    )


def run(args: argparse.Namespace) -> int:
    infos = check_triplet(args.s1, args.s2_cloudy, args.s2)
    bands = "all13" if infos[1].count == 13 and infos[2].count == 13 else "rgb"
    ranges = value_ranges(args.s1, args.s2_cloudy, args.s2, bands, infos[0].shape)
    units = ("VV/VH dB", f"{'B1-B12' if bands == 'all13' else 'RGB'} DN", f"{'B1-B12' if bands == 'all13' else 'RGB'} DN")
    for name, info, (low, high), what in zip(_NAMES, infos, ranges, units):
        print(describe(name, info, low, high, what))
    print(f"ok: one grid of {infos[0].width} x {infos[0].height} px, every pixel readable and finite")
    return 0
