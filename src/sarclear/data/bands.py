"""Sentinel band conventions: which raster band is which, for 13-band L1C stacks and RGB files."""

from __future__ import annotations

from sarclear.errors import RasterError
from sarclear.io.geotiff import RasterInfo

#: Sentinel-2 L1C band names in SEN12MS-CR order (all 13 bands, resampled to 10 m).
S2_BANDS: tuple[str, ...] = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
#: RGB as 1-based raster indexes of a 13-band stack: B4 (red), B3 (green), B2 (blue).
S2_RGB_INDEXES: tuple[int, int, int] = (4, 3, 2)
#: The same bands as 0-based positions in a 13-band array: `stack[list(S2_RGB_POSITIONS)]`.
S2_RGB_POSITIONS: tuple[int, int, int] = (3, 2, 1)
S1_BANDS: tuple[str, str] = ("VV", "VH")
#: Band counts an S2 input may have: the 13-band L1C stack, a 12-band L2A stack (no B10, as the
#: product readers in `io/` stack L2A products, with band descriptions), or RGB.
S2_BAND_COUNTS: tuple[int, ...] = (13, 12, 3)
RGB_NAMES: tuple[str, str, str] = ("B4", "B3", "B2")

_ALIASES = {"red": "B4", "green": "B3", "blue": "B2", "b04": "B4", "b03": "B3", "b02": "B2"}


def _normalise_name(text: str | None) -> str | None:
    if not text:
        return None
    key = text.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    key = key.upper()
    if key.startswith("B0") and len(key) == 3:
        key = "B" + key[2]
    return key


def s2_band_indexes(info: RasterInfo, mode: str = "rgb") -> tuple[tuple[int, ...], str]:
    """1-based band indexes to read from an S2 file, and a sentence saying how they were chosen.

    `mode` is `rgb` (B4, B3, B2) or `all13`. Band descriptions win when present (a user's own
    export may be ordered B2, B3, B4); otherwise the count decides: 13 bands are the L1C stack in
    SEN12MS-CR order, 3 bands are taken as R, G, B.
    """
    names = [_normalise_name(d) for d in info.descriptions]
    if mode == "all13":
        if info.count != 13:
            raise RasterError(info.path, f"wrong band count: has {info.count}, expected 13 (B1..B12 L1C stack)")
        return tuple(range(1, 14)), "all 13 bands in SEN12MS-CR order"
    if mode != "rgb":
        raise ValueError(f"unknown band mode {mode!r}; expected 'rgb' or 'all13'")
    if all(name in names for name in RGB_NAMES):
        indexes = tuple(names.index(name) + 1 for name in RGB_NAMES)
        return indexes, f"RGB found by band description at bands {indexes}"
    if info.count == 13:
        return S2_RGB_INDEXES, "RGB = bands 4, 3, 2 of a 13-band L1C stack (no band descriptions)"
    if info.count == 3:
        return (1, 2, 3), "RGB = bands 1, 2, 3 of a 3-band file (no band descriptions)"
    raise RasterError(info.path, f"wrong band count: has {info.count}, expected 13 (L1C stack), 3 (RGB), or bands described B4, B3, B2")

