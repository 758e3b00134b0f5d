"""When an input was acquired, from what its files say: how far apart the radar and the optical image are.

The fusion model takes the radar as a picture of the ground under the clouds on the optical
image's date. The ground changes (crops grow and are cut, fields are ploughed or flooded, snow
comes and goes), so a radar acquisition weeks away from the optical one shows another state,
and the model paints that state under the clouds. Nothing else would say so: the files open,
the grids match. The dates come from what the files carry:

- the S1 GeoTIFF `sarclear prepare-s1` writes: its `SARCLEAR_S1_START_TIME` tag;
- product and folder names: `S2A_MSIL1C_20230612T103031_...`, `S1A_IW_GRDH_1SDV_20200607T010800_...`,
  SSL4EO-S12's `20200823T054639_20200823T055618_T43RCP`, BigEarthNet's `S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48`
  (the file's own name first, then its folders, up to `NAME_LEVELS` above it).

SEN12MS-CR's files carry no date, nor do most hand-made GeoTIFFs: then nothing is said.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from sarclear.io.band_folder import sensing_date

#: How many folders above a file may name its product (SSL4EO-S12: `s1/0000200/S1A_.../VV.tif`).
NAME_LEVELS: int = 3
#: Days between the radar and the optical image beyond which `predict` and `adapt` warn.
MAX_GAP_DAYS: int = 30


def date_from_names(path: str | Path) -> date | None:
    """The first sensing date in the file's name, else in its folders' names (nearest first)."""
    path = Path(path)
    for part in [path.name, *[parent.name for parent in list(path.parents)[:NAME_LEVELS]]]:
        found = sensing_date(part)
        if found is not None:
            return found
    return None


def s1_date(paths: str | Path | Sequence[str | Path]) -> date | None:
    """When the radar was acquired: the tag prepare-s1 writes, else the product name in the path."""
    first = Path(paths if isinstance(paths, (str, Path)) else paths[0])
    if first.is_file():
        try:
            with rasterio.open(first) as src:
                start = src.tags().get("SARCLEAR_S1_START_TIME", "")
        except RasterioError:
            start = ""
        found = iso_date(start)
        if found is not None:
            return found
    return date_from_names(first)


def iso_date(text: str) -> date | None:
    """The date of an ISO time (`2020-06-07T01:08:00.123456`), None when it is not one."""
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def gap_report(optical: date, radar: date) -> tuple[str, str | None]:
    """(a line saying both dates and the days between them, a warning when they are more than `MAX_GAP_DAYS` apart)."""
    days = abs((optical - radar).days)
    line = f"acquired: optical {optical}, radar {radar} ({days} day{'' if days == 1 else 's'} apart)"
    if days <= MAX_GAP_DAYS:
        return line, None
    return line, (f"WARNING: the radar was acquired {days} days from the optical image: the ground changes in that time "
                  "(crops, ploughing, water, snow) and the model paints the radar's state under the clouds; use a "
                  "Sentinel-1 acquisition closer in time (Sentinel-1 passes every 6 to 12 days)")


def acquisition_gap(s2_path: str | Path, s1_paths: str | Path | Sequence[str | Path]) -> tuple[date, date, int] | None:
    """(optical date, radar date, days apart), or None when either date is unknown."""
    optical, radar = date_from_names(s2_path), s1_date(s1_paths)
    if optical is None or radar is None:
        return None
    return optical, radar, abs((optical - radar).days)
