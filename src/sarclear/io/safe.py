"""Sentinel-2 SAFE products, as a folder or as the zip users download, read as one file per band.

A SAFE product says everything sarclear needs in its product metadata (`MTD_MSIL1C.xml` /
`MTD_MSIL2A.xml`, Sentinel-2 Products Specification Document S2-PDGS-TAS-DI-PSD): the processing
level, the processing baseline, the radiometric offset (`RADIO_ADD_OFFSET` for L1C,
`BOA_ADD_OFFSET` for L2A, -1000 since baseline 04.00) and the list of JPEG 2000 band files. This
module reads that file with `xml.etree` and hands up the band files as GDAL paths; GDAL's
SENTINEL2 driver reads the same MTD, but it groups bands by resolution into virtual datasets,
while `io/sources.py` wants each band once, at its finest genuine resolution (an L2A product
ships B02 in R10m, R20m and R60m, and B01 resampled to 20 m beside its 60 m original). Inside a zip every path is a `/vsizip/` path, so nothing is extracted and a
1 GB download costs only its central directory to open.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sarclear.errors import RasterError
from sarclear.io.product import (
    S2_BAND_ORDER,
    ProductBands,
    baseline_from_name,
    canonical_band,
    offset_for_baseline,
    scl_resolution,
)
from sarclear.io.s1_grd import is_s1_product, lists_s1_product, prepare_first

#: Product metadata file name -> processing level (PSD, SAFE_COMPACT naming since December 2016).
MTD_NAMES: dict[str, str] = {"MTD_MSIL1C.xml": "L1C", "MTD_MSIL2A.xml": "L2A"}

#: Native resolution of each band in metres (PSD, Spectral_Information_List). L1C names carry no
#: resolution (`T31PGN_20180701T000000_B05.jp2`), so this says which file is the finest.
NATIVE_RESOLUTION_M: dict[str, int] = {
    "B1": 60, "B2": 10, "B3": 10, "B4": 10, "B5": 20, "B6": 20, "B7": 20,
    "B8": 10, "B8A": 20, "B9": 60, "B10": 60, "B11": 20, "B12": 20,
}

#: The metadata element that holds the offset, per level (PSD 14.9; present from baseline 04.00).
OFFSET_TAGS: dict[str, str] = {"L1C": "RADIO_ADD_OFFSET", "L2A": "BOA_ADD_OFFSET"}

#: `Level-1C` / `Level-2A` in PROCESSING_LEVEL.
_LEVEL_TEXT = re.compile(r"Level-(1C|2A)$", re.IGNORECASE)
#: `_10m` at the end of an L2A band file name.
_RESOLUTION_SUFFIX = re.compile(r"_(10|20|60)m$")
#: `04.00` in PROCESSING_BASELINE.
_BASELINE_TEXT = re.compile(r"^(\d{1,2})\.(\d{2})$")

_REDOWNLOAD = "download the product again"


@dataclass(frozen=True)
class _Safe:
    """Where a SAFE product's files are: `root` is the GDAL path of the `.SAFE` folder."""

    product: Path
    root: str
    mtd_name: str
    mtd_bytes: bytes
    #: Size in bytes of each file below the root (relative POSIX path); None for a folder (asked on demand).
    zip_sizes: dict[str, int] | None

    def size(self, relative: str) -> int | None:
        """Bytes in the file at `relative` below the root, None if it is not there."""
        if self.zip_sizes is not None:
            return self.zip_sizes.get(relative)
        path = Path(self.root) / relative
        return path.stat().st_size if path.is_file() else None


def is_safe_product(path: Path) -> bool:
    """True for a `*.SAFE` folder, a folder or file that is a product's MTD, and any `.zip`.

    Every `.zip` counts: sarclear reads zips only as SAFE products, so `read_safe` is the one to
    say what is wrong with a zip that is corrupt or holds no product.
    """
    path = Path(path)
    if path.is_dir():
        return path.suffix.upper() == ".SAFE" or any((path / name).is_file() for name in MTD_NAMES)
    if path.is_file():
        return path.suffix.lower() == ".zip" or path.name in MTD_NAMES
    return False


def read_safe(path: Path) -> ProductBands:
    """The band files of a SAFE product (folder, MTD file or zip), its level and its radiometric offset.

    Raises `RasterError` (one line naming the file and the fix) for a zip that is corrupt or holds
    no product, a SAFE without its MTD or its band files, and a level other than L1C / L2A.
    """
    path = Path(path)
    if not path.exists():
        raise RasterError(path, "does not exist; check the path to the .SAFE folder or .zip")
    safe = _open_zip(path) if path.is_file() and path.suffix.lower() == ".zip" else _open_folder(path)
    mtd_path = f"{safe.root}/{safe.mtd_name}"
    try:
        metadata = ET.fromstring(safe.mtd_bytes)
    except ET.ParseError as error:
        raise RasterError(mtd_path, f"is not valid XML ({error}); {_REDOWNLOAD}") from None

    product_name = _text(metadata, "PRODUCT_URI") or PurePosixPath(safe.root).name
    level, level_source = _level(metadata, safe, mtd_path)
    baseline, baseline_text = _baseline(metadata, product_name)
    offset, offset_source, offset_notes = _offset(metadata, level, baseline, baseline_text, safe.mtd_name)
    bands, band_notes = _band_files(metadata, safe, level, mtd_path)
    return ProductBands(
        path=path, bands=bands, level=level, level_source=level_source, offset=offset,
        offset_source=offset_source, baseline=baseline, notes=(*offset_notes, *band_notes), scl=_scl_file(metadata, safe),
    )


def _scl_file(metadata: ET.Element, safe: _Safe) -> str | None:
    """GDAL path of the finest Scene Classification file the MTD lists and the product holds (L2A), else None."""
    listed = []
    for relative in _image_files(metadata):
        resolution = scl_resolution(PurePosixPath(relative).stem)
        if resolution is not None and safe.size(relative):
            listed.append((resolution, relative))
    return f"{safe.root}/{min(listed)[1]}" if listed else None


def _image_files(metadata: ET.Element) -> Iterator[str]:
    """The MTD's IMAGE_FILE paths below the `.SAFE` root, with the `.jp2` every product leaves off."""
    for element in metadata.iter("IMAGE_FILE"):
        relative = (element.text or "").strip().lstrip("/")
        if relative:
            yield relative if relative.lower().endswith(".jp2") else relative + ".jp2"


def _open_folder(path: Path) -> _Safe:
    """A `.SAFE` folder, a folder holding the MTD, or the MTD file itself."""
    folder = path.parent if path.is_file() else path
    names = [name for name in MTD_NAMES if (folder / name).is_file()]
    if len(names) == 2:
        raise RasterError(path, "holds both MTD_MSIL1C.xml and MTD_MSIL2A.xml; give one product's .SAFE folder")
    if not names:
        if is_s1_product(folder):
            raise RasterError(path, prepare_first(path))
        fix = "give the .SAFE folder or its .zip as downloaded"
        raise RasterError(path, f"is not a Sentinel-2 L1C/L2A SAFE product (no MTD_MSIL1C.xml or MTD_MSIL2A.xml "
                                f"in it); {fix}")
    mtd = folder / names[0]
    try:
        mtd_bytes = mtd.read_bytes()
    except OSError as error:
        raise RasterError(mtd, f"cannot be read ({error.strerror}); check its permissions") from None
    return _Safe(product=path, root=str(folder), mtd_name=names[0], mtd_bytes=mtd_bytes, zip_sizes=None)


def _open_zip(path: Path) -> _Safe:
    """A zip holding one `.SAFE` folder; its files become `/vsizip/` paths."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info.file_size for info in archive.infolist() if not info.is_dir()}
            mtds = sorted(name for name in members if PurePosixPath(name).name in MTD_NAMES)
            if not mtds and lists_s1_product(members):
                raise RasterError(path, prepare_first(path))
            if not mtds:
                raise RasterError(path, "holds no Sentinel-2 SAFE product (no MTD_MSIL1C.xml or MTD_MSIL2A.xml "
                                        "inside); give the L1C or L2A product zip as downloaded")
            if len(mtds) > 1:
                raise RasterError(path, f"holds {len(mtds)} Sentinel-2 products; unzip it and give one .SAFE folder")
            mtd_bytes = archive.read(mtds[0])
    except PermissionError as error:
        raise RasterError(path, f"cannot be read ({error.strerror}); check its permissions") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        raise RasterError(path, f"is not a readable zip archive (truncated or corrupt download?); {_REDOWNLOAD}, "
                                "or give the unzipped .SAFE folder") from None
    inner = PurePosixPath(mtds[0]).parent.as_posix()
    prefix = "" if inner == "." else f"{inner}/"
    sizes = {name[len(prefix):]: size for name, size in members.items() if name.startswith(prefix)}
    root = f"/vsizip/{path}" + (f"/{inner}" if prefix else "")
    mtd_name = PurePosixPath(mtds[0]).name
    return _Safe(product=path, root=root, mtd_name=mtd_name, mtd_bytes=mtd_bytes, zip_sizes=sizes)


def _text(metadata: ET.Element, tag: str) -> str | None:
    """The stripped text of the first `tag` anywhere in the MTD (its elements carry no namespace)."""
    element = next(metadata.iter(tag), None)
    return element.text.strip() if element is not None and element.text else None


def _level(metadata: ET.Element, safe: _Safe, mtd_path: str) -> tuple[str, str]:
    """L1C / L2A from PROCESSING_LEVEL, else the MTD's name; anything else is refused."""
    text = _text(metadata, "PROCESSING_LEVEL")
    if text:
        match = _LEVEL_TEXT.search(text)
        if match is None:
            raise RasterError(mtd_path, f"is a {text} product; sarclear reads Level-1C and Level-2A products")
        return f"L{match.group(1).upper()}", f"PROCESSING_LEVEL {text} in {safe.mtd_name}"
    return MTD_NAMES[safe.mtd_name], f"the metadata file name {safe.mtd_name}"


def _baseline(metadata: ET.Element, product_name: str) -> tuple[str | None, str | None]:
    """`N0400` (the product-name spelling) and `04.00` from PROCESSING_BASELINE, else from the name."""
    text = _text(metadata, "PROCESSING_BASELINE")
    match = _BASELINE_TEXT.match(text) if text else None
    if match:
        return f"N{int(match.group(1)):02d}{match.group(2)}", text
    return baseline_from_name(product_name), None


def _offset(metadata: ET.Element, level: str, baseline: str | None, baseline_text: str | None,
            mtd_name: str) -> tuple[float | None, str, tuple[str, ...]]:
    """The DN to subtract: minus the MTD's offset, else what the baseline implies, else unknown."""
    tag = OFFSET_TAGS[level]
    values = []
    for element in metadata.iter(tag):
        try:
            values.append(float((element.text or "").strip()))
        except ValueError:
            continue
    if values:
        value, count = Counter(values).most_common(1)[0]
        notes = () if count == len(values) else (
            f"{tag} differs between bands ({', '.join(f'{v:g}' for v in sorted(set(values)))}); "
            f"using {value:g}, the value of {count} of {len(values)} bands",)
        return -value if value else 0.0, f"{tag} = {value:g} in {mtd_name}", notes
    if baseline is not None:
        if baseline_text:
            where = f"processing baseline {baseline_text} in {mtd_name}"
        else:
            where = f"processing baseline {baseline} in the product name"
        return offset_for_baseline(baseline), f"{where} (the metadata lists no {tag})", ()
    return None, "unknown", ()


def _band_files(metadata: ET.Element, safe: _Safe, level: str,
                mtd_path: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """GDAL paths of each band's finest listed file, after checking that every one is there."""
    finest = _finest_listed(metadata, mtd_path)
    missing = [f"{band}: {relative}" for band, (_, relative) in finest.items() if not safe.size(relative)]
    listed = f"{len(finest)} band files {safe.mtd_name} lists"
    if len(missing) == len(finest):
        raise RasterError(safe.product, f"holds no band files: none of the {listed} is there "
                                        f"(first: {missing[0]}); {_REDOWNLOAD}")
    if missing:
        raise RasterError(safe.product, f"is incomplete: {len(missing)} of the {listed} are missing or empty "
                                        f"({'; '.join(missing[:3])}); {_REDOWNLOAD}")
    bands = {band: f"{safe.root}/{finest[band][1]}" for band in S2_BAND_ORDER if band in finest}
    expected = [band for band in S2_BAND_ORDER if not (level == "L2A" and band == "B10")]
    absent = [band for band in expected if band not in bands]
    notes = (f"{safe.mtd_name} lists no {' '.join(absent)}",) if absent else ()
    return bands, notes


def _finest_listed(metadata: ET.Element, mtd_path: str) -> dict[str, tuple[int, str]]:
    """Band -> (resolution in m, path below the root) of its finest file among the MTD's IMAGE_FILEs.

    Finer than native does not count: L2A's R20m B01 is the 60 m band resampled by the
    processor, so the native R60m file is taken and resampled once, by `io/sources.py`.
    IMAGE_FILE paths are relative to the `.SAFE` folder and, in every product, without `.jp2`.
    """
    finest: dict[str, tuple[int, str]] = {}
    for relative in _image_files(metadata):
        stem = PurePosixPath(relative).stem
        band = canonical_band(stem)
        if band is None:
            continue  # TCI, AOT, WVP, SCL: not reflectance
        suffix = _RESOLUTION_SUFFIX.search(stem)
        resolution = int(suffix.group(1)) if suffix else NATIVE_RESOLUTION_M[band]
        if band in finest and finest[band][0] == resolution:
            raise RasterError(mtd_path, f"lists two {band} files at {resolution} m (a multi-tile product from "
                                        "before 2017); sarclear reads single-tile products: download the tile's own")
        if band not in finest or _finer(resolution, finest[band][0], NATIVE_RESOLUTION_M[band]):
            finest[band] = (resolution, relative)
    if not finest:
        raise RasterError(mtd_path, f"lists no band files (no IMAGE_FILE entries); {_REDOWNLOAD}")
    return finest


def _finer(candidate: int, current: int, native: int) -> bool:
    """Whether a file at `candidate` m beats one at `current` m: the finest at or above `native` m."""
    if (candidate >= native) != (current >= native):
        return candidate >= native
    return candidate < current if candidate >= native else candidate > current
