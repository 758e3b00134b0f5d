"""`sarclear check S1.tif S2_CLOUDY.tif S2.tif`: validate a triplet the way every command reads it.

Headers first (`check_triplet`: band counts, dtypes, one shared grid), then every pixel
(`read_triplet`: readable strips, finite values), in row windows so a whole scene fits in memory.
Prints one line per file; any problem is the same one-line error (exit 2) training would give.

`sarclear check S1 S2` (no clear target: the user's own scene) asks instead what `predict` and
`adapt` ask of their inputs (`predict.scene.inspect_scene`: every form they take, S1 on its own
grid, offsets, level, sampled units, dates), without the minutes of reading, masking and fitting,
and says how the pair will be read.
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
    parser.add_argument("s1", type=Path, help="Sentinel-1 GeoTIFF: 2 bands (VV, VH) float32 dB (for a pair: also a VV/VH folder, "
                        "or VV.tif VH.tif as the first two arguments)")  # fmt: skip
    parser.add_argument("s2_cloudy", type=Path, help="cloudy Sentinel-2 GeoTIFF: 13 bands (L1C) or 3 (RGB)")
    parser.add_argument("s2", type=Path, nargs="?",
                        help="clear Sentinel-2 GeoTIFF on the same grid; leave it out to check an S1 + S2 pair as predict and adapt "
                             "read it (any form they take: product folders, SAFE, S1 on its own grid)")  # fmt: skip


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
    return describe_header(name, info) + f", {what} {low:g} .. {high:g}"


def check_pair(s1: Path | list[Path], s2: Path) -> list[str]:
    """What predict and adapt will make of the pair, as lines; the same one-line errors (exit 2)."""
    from sarclear.predict.scene import covered_share, inspect_scene

    said: list[str] = []
    inputs = inspect_scene(s2, s1, use_sar=True, bands="rgb", log=said.append)
    assert inputs.s1 is not None
    info, radar = inputs.s2, inputs.s1
    lines = [f"  {line}" for line in said]
    lines.append(describe_header("s2", info) + f", RGB = bands {inputs.rgb_bands}, level {inputs.radiometry.level or 'unknown'}, "
                 f"offset removed {inputs.radiometry.offset:g} DN")  # fmt: skip
    grid = f"reprojected onto the S2 grid (bilinear), covering {100 * covered_share(info, radar):.1f} % of it" if inputs.s1_warp else "on the S2 grid"
    lines.append(describe_header("s1", radar) + f", VV, VH = bands {inputs.s1_bands}, {grid}")
    lines.append(f"cloud mask (predict --composite, adapt): {cloud_mask_source(inputs.s2, inputs.scl)}")
    lines.append(f"ok: predict and adapt take this pair; the output will be on the S2 grid of {info.width} x {info.height} px "
                 "(headers and sampled pixels checked, not every pixel)")  # fmt: skip
    return lines


def cloud_mask_source(info: RasterInfo, scl: str | None) -> str:
    """Where the composite's and adapt's cloud mask will come from, unless `--mask FILE` is given:
    the product's SCL, or the detector `cloud_bands` picks for these bands (a padded band, found
    only in the pixels, can still demote s2cloudless to the brightness test at run time)."""
    from sarclear.data.cloud_bands import detector_bands

    if scl is not None:
        return f"the product's scene classification {Path(scl).name} (--no-scl: detected instead; --mask FILE: yours)"
    choice = detector_bands(info)
    test = {"s2cloudless": "s2cloudless", "spectral": "Fmask's spectral tests", "brightness": "the RGB brightness test"}[choice.method]
    return f"detected with {test} ({choice.how}); --mask FILE: yours"


def describe_header(name: str, info: RasterInfo) -> str:
    crs = info.crs.to_string() if info.crs is not None else "no CRS"
    return f"{name:<9} {info.path}: {info.count} bands {info.dtype}, {info.width} x {info.height} px, {crs}, pixel {pixel_size_text(info.crs, info.transform)}"


def run(args: argparse.Namespace) -> int:
    from sarclear.errors import ConfigError
    from sarclear.io.s1_pair import polarisation

    s1_as_two_files = {polarisation(args.s1), polarisation(args.s2_cloudy)} == {"VV", "VH"}
    if args.s2 is None:
        if s1_as_two_files:
            raise ConfigError(f"check {args.s1.name} {args.s2_cloudy.name}: give the Sentinel-2 scene after the two S1 files")
        print("\n".join(check_pair(args.s1, args.s2_cloudy)))
        return 0
    if s1_as_two_files:  # then the S2
        print("\n".join(check_pair([args.s1, args.s2_cloudy], args.s2)))
        return 0
    infos = check_triplet(args.s1, args.s2_cloudy, args.s2)
    bands = "all13" if infos[1].count == 13 and infos[2].count == 13 else "rgb"
    ranges = value_ranges(args.s1, args.s2_cloudy, args.s2, bands, infos[0].shape)
    units = ("VV/VH dB", f"{'B1-B12' if bands == 'all13' else 'RGB'} DN", f"{'B1-B12' if bands == 'all13' else 'RGB'} DN")
    for name, info, (low, high), what in zip(_NAMES, infos, ranges, units):
        print(describe(name, info, low, high, what))
    print(f"ok: one grid of {infos[0].width} x {infos[0].height} px, every pixel readable and finite")
    return 0
