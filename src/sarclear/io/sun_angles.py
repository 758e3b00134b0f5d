"""The mean sun angles of a Sentinel-2 SAFE product, from its granule metadata (`MTD_TL.xml`).

Where the sun stands says which way cloud shadows fall (`sarclear.data.shadows`). A SAFE product
keeps it per granule: `GRANULE/<id>/MTD_TL.xml`, `Geometric_Info/Tile_Angles/Mean_Sun_Angle` with
`ZENITH_ANGLE` and `AZIMUTH_ANGLE` in degrees (Sentinel-2 Products Specification Document,
S2-PDGS-TAS-DI-PSD). Other inputs (GeoTIFFs, per-band folders) carry no angles: None, and the
shadow search then looks in every direction.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

TILE_METADATA = "MTD_TL.xml"


@dataclass(frozen=True)
class SunAngles:
    """Mean sun angles of a scene, in degrees: zenith from vertical, azimuth clockwise from north
    (the convention of Sentinel-2's MTD_TL.xml `Mean_Sun_Angle`)."""

    zenith: float
    azimuth: float


def sun_angles(product: str | Path) -> SunAngles | None:
    """The mean sun zenith and azimuth of the SAFE product `product` (folder, MTD file or zip), or None.

    None when the input is not a SAFE product, has no (or more than one) granule metadata, or the
    file lacks `Mean_Sun_Angle` (the test products, for one): shadows are then searched without a
    direction, never refused.
    """
    text = _tile_metadata(Path(product))
    if text is None:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    mean = next(root.iter("Mean_Sun_Angle"), None)
    if mean is None:
        return None
    try:
        zenith = float((mean.findtext("ZENITH_ANGLE") or "").strip())
        azimuth = float((mean.findtext("AZIMUTH_ANGLE") or "").strip())
    except ValueError:
        return None
    return SunAngles(zenith, azimuth % 360.0)


def _tile_metadata(path: Path) -> bytes | None:
    if path.is_file() and path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if PurePosixPath(n).name == TILE_METADATA and "GRANULE" in PurePosixPath(n).parts]
                return archive.read(names[0]) if len(names) == 1 else None
        except (zipfile.BadZipFile, OSError):
            return None
    folder = path.parent if path.is_file() else path
    found = sorted(folder.glob(f"GRANULE/*/{TILE_METADATA}")) if folder.is_dir() else []
    return found[0].read_bytes() if len(found) == 1 else None
