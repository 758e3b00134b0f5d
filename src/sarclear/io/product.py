"""What every Sentinel-2 product reader hands up: one file per band, plus level and radiometric offset.

Users bring Sentinel-2 as one file per band (SSL4EO-S12, Major-TOM, BigEarthNet, every SAFE
product) at 10, 20 and 60 m. Each reader in `io/` (a folder of band files, a SAFE folder or zip)
says which file holds which band and what it knows of the product; `io/sources.py` then stacks
the bands onto the 10 m grid. Nothing above `io/` sees which kind of source it was.

Band names are canonical: `B1` ... `B12` and `B8A` (no zero padding), so `B04`, `b4`,
`..._B04.tif` and `T33NZA_..._B04_10m.jp2` all mean `B4`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: Sentinel-2 band names in SEN12MS-CR order (the 13 L1C bands; L2A products have no B10).
S2_BAND_ORDER: tuple[str, ...] = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")

#: A band name at the end of a file stem, after `_` or alone, with an optional `_10m`-style suffix
#: (L2A SAFE: `T33NZA_20220706T085611_B02_10m.jp2`; BigEarthNet: `..._87_48_B04.tif`; SSL4EO: `B4.tif`).
_BAND_IN_STEM = re.compile(r"(?:^|_)(B(?:0?[1-9]|1[0-2]|8A))(?:_(?:10|20|60)m)?$", re.IGNORECASE)

#: Processing levels sarclear knows. SEN12MS-CR (and so every model trained on it) is L1C.
LEVELS: tuple[str, ...] = ("L1C", "L2A")

#: DN added to every valid pixel since processing baseline 04.00 (25 January 2022):
#: `RADIO_ADD_OFFSET` (L1C) / `BOA_ADD_OFFSET` (L2A) = -1000 in the product metadata
#: (ESA, "Sentinel-2: new processing baseline 04.00", S2-PDGS-MPC-L1C/L2A product specification).
BASELINE_OFFSET_DN: float = 1000.0


def canonical_band(text: str | None) -> str | None:
    """`B4` for `B04`, `b4`, `B04_10m`, `..._B04`; `B8A` for `B8a`; None when `text` names no band."""
    if not text:
        return None
    match = _BAND_IN_STEM.search(text.strip())
    if match is None:
        return None
    name = match.group(1).upper()
    if name == "B8A":
        return name
    return "B" + str(int(name[1:]))


@dataclass(frozen=True)
class ProductBands:
    """One Sentinel-2 product as a set of per-band files, and what is known of its radiometry.

    `bands` maps canonical band names to GDAL-openable paths (a file path, or `/vsizip/...` inside a
    zip). `offset` is the DN to subtract from every valid pixel to get SEN12MS-CR-like DN
    (reflectance x 10000): 1000 for processing baseline 04.00 and later, 0 before, None when the
    source cannot tell (a plain folder without a product name). `*_source` say how each was found,
    in words for the log.
    """

    path: Path
    bands: dict[str, str]
    level: str | None = None
    level_source: str = "unknown"
    offset: float | None = None
    offset_source: str = "unknown"
    baseline: str | None = None
    notes: tuple[str, ...] = field(default=())
    #: GDAL path of the product's Scene Classification Layer (L2A's SCL, its finest file), None if it has none.
    scl: str | None = None

    def ordered_names(self) -> tuple[str, ...]:
        """The bands present, in SEN12MS-CR order."""
        return tuple(name for name in S2_BAND_ORDER if name in self.bands)


#: `SCL`, `..._SCL`, `..._SCL_20m` (with any extension): the L2A Scene Classification Layer's file name.
_SCL_NAME = re.compile(r"(^|_)SCL(_(10|20|60)m)?$", re.IGNORECASE)


def scl_resolution(stem: str) -> int | None:
    """For an SCL file name (without extension), its resolution in m (20 when not in the name); None otherwise."""
    match = _SCL_NAME.search(stem)
    if match is None:
        return None
    return int(match.group(3)) if match.group(3) else 20


def baseline_from_name(name: str) -> str | None:
    """`N0400` from a product name such as `S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_...`; None if absent."""
    match = re.search(r"_(N\d{4})_", f"_{name}_")
    return match.group(1) if match else None


def offset_for_baseline(baseline: str) -> float:
    """The DN offset a baseline implies: N0400 and later, and N9999 reprocessings, carry +1000."""
    number = int(baseline.lstrip("Nn"))
    return BASELINE_OFFSET_DN if number >= 400 else 0.0


def level_from_name(name: str) -> str | None:
    """`L1C` / `L2A` from a product name (`MSIL1C`, `MSIL2A`, `S2A_MSIL2A_...`); None if absent."""
    match = re.search(r"MSI(L1C|L2A)", name, re.IGNORECASE)
    return match.group(1).upper() if match else None
