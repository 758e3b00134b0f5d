"""Build the two minimal Sentinel-2 SAFE products in `safe/` from genuine Sentinel-2 pixels.

Users download Sentinel-2 as SAFE products (a `.SAFE` folder, or its `.zip` from the Copernicus
Data Space). No small genuine SAFE product is redistributable as a test file, so this script
packs genuine bands into the SAFE layout that ESA's processor writes and GDAL's SENTINEL2 driver
reads (Sentinel-2 Products Specification Document, S2-PDGS-TAS-DI-PSD, "SAFE_COMPACT" naming):

    <name>.SAFE/MTD_MSIL1C.xml                           product metadata: level, baseline,
    <name>.SAFE/GRANULE/L1C_<tile>_<...>/MTD_TL.xml      offsets, the list of band files;
    <name>.SAFE/GRANULE/L1C_<tile>_<...>/IMG_DATA/<tile>_<date>_B01.jp2   tile geocoding
    (L2A: MTD_MSIL2A.xml, IMG_DATA/R10m|R20m|R60m/<tile>_<date>_B02_10m.jp2)

- L1C: a 96 x 96 px crop of the SEN12MS-CR cloudy scene in `shared/data/real-scenes/
  sen12mscr-no-target/` (13 bands, EPSG:32631, 2018, no offset). SEN12MS-CR stores every band
  resampled to 10 m; the 20 m and 60 m bands are written at their native resolution by
  block-averaging (2 x 2, 6 x 6). +1000 DN is added to every pixel and the MTD says
  processing baseline 04.00 with `RADIO_ADD_OFFSET` = -1000, as every L1C since 25 January 2022.
  The matching S1 crop (same grid) is written beside it, so a test can predict on the SAFE.
- L2A: a 96 x 96 px (10 m) crop of the Major-TOM cell 0U_199R in `shared/data/real-scenes/
  major-tom-l2a/` (product S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419, 12 bands,
  EPSG:32633), whose pixels already carry the N0400 `BOA_ADD_OFFSET` of -1000. Each band's native
  file is the genuine crop; the coarser copies ESA also ships (R20m B02, R60m B05, ...) are
  block-averaged from it (R20m B01 is the 60 m band repeated 3 x 3), so a reader must pick the
  finest genuine one. Also written as `<name>.zip` (the `.SAFE` folder inside), as downloads come.

The georeference of each crop is kept as it is in the source (not snapped onto the 60 m tile
grid), so the SAFE lines up with the rest of the scene. Names, dates and identifiers that the
sources do not give (the L1C product's date, orbits, datatake) are placeholders, said in SOURCE.md.

JP2 files are lossless (JP2OpenJPEG, QUALITY=100, REVERSIBLE=YES) and the zip has fixed
timestamps, so running the script again gives the same bytes.

Run from the repository root:  .venv/bin/python tests/data/real-scenes/make_safe.py [SHARED_REAL_SCENES]
(default: ../shared/data/real-scenes beside the repository, as for make_crops.py).
"""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2].parent / "shared" / "data" / "real-scenes"
SEN12_S2 = Path("sen12mscr-no-target") / "ROIs1868_summer_s2_cloudy_19_p30.tif"
SEN12_S1 = Path("sen12mscr-no-target") / "ROIs1868_summer_s1_19_p30.tif"
MAJOR_TOM = Path("major-tom-l2a/0U/0U_199R/S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419")
OUT = HERE / "safe"

#: The 13 bands in the order of the MTD's `band_id` 0 ... 12, with native resolution in metres
#: (PSD, Spectral_Information_List).
BANDS: tuple[tuple[str, int], ...] = (
    ("B01", 60), ("B02", 10), ("B03", 10), ("B04", 10), ("B05", 20), ("B06", 20), ("B07", 20),
    ("B08", 10), ("B8A", 20), ("B09", 60), ("B10", 60), ("B11", 20), ("B12", 20),
)
NATIVE = dict(BANDS)

#: Bands of each L2A resolution folder (PSD 14.9, Level-2A product: R20m and R60m also hold
#: resampled copies of the finer bands; B08 only at 10 m, B09 only at 60 m, B10 not at all).
L2A_FOLDERS: dict[int, tuple[str, ...]] = {
    10: ("B02", "B03", "B04", "B08"),
    20: ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12"),
    60: ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B09", "B11", "B12"),
}

CROP_PX = 96  # at 10 m; a multiple of 6 so the 60 m bands cover the crop exactly
L1C_OFFSET_DN = 1000  # RADIO_ADD_OFFSET = -1000 since processing baseline 04.00

L1C_NAME = "S2A_MSIL1C_20180701T000000_N0400_R000_T31PGN_20220125T000000"
L1C_TILE, L1C_DATE = "T31PGN", "20180701T000000"
L1C_GRANULE = f"L1C_{L1C_TILE}_A000000_{L1C_DATE}"
L2A_NAME = MAJOR_TOM.name
L2A_TILE, L2A_DATE = "T33NZA", "20220706T085611"
L2A_GRANULE = f"L2A_{L2A_TILE}_A000000_{L2A_DATE}"

JP2_OPTIONS = {"QUALITY": "100", "REVERSIBLE": "YES", "YCBCR420": "NO"}
ZIP_TIME = (2022, 7, 6, 15, 34, 18)


def block_mean(band: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` blocks, rounded to DN: a coarser band from a finer one."""
    rows, cols = band.shape[0] // factor, band.shape[1] // factor
    blocks = band[: rows * factor, : cols * factor].astype(np.float64).reshape(rows, factor, cols, factor)
    return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint16)


def write_jp2(path: Path, band: np.ndarray, crs: rasterio.crs.CRS, transform: Affine) -> None:
    """One band as lossless JPEG 2000 with its georeference, as ESA ships each band."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "JP2OpenJPEG", "width": band.shape[1], "height": band.shape[0], "count": 1,
               "dtype": "uint16", "crs": crs, "transform": transform, **JP2_OPTIONS}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(band, 1)


def scaled(transform: Affine, resolution: int) -> Affine:
    """The same origin at another pixel size."""
    return Affine(resolution, 0.0, transform.c, 0.0, -resolution, transform.f)


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def product_mtd(level: str, name: str, baseline: str, granule: str, image_files: list[str],
                sensing: str) -> ET.ElementTree:
    """MTD_MSIL1C.xml / MTD_MSIL2A.xml with the elements GDAL's SENTINEL2 driver and sarclear read."""
    code = level[1:]  # "1C" / "2A"
    ns = f"https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{code}.xsd"
    ET.register_namespace("n1", ns)
    root = ET.Element(f"{{{ns}}}Level-{code}_User_Product")
    general = sub(root, f"{{{ns}}}General_Info")
    info = sub(general, "Product_Info")
    sub(info, "PRODUCT_START_TIME", sensing)
    sub(info, "PRODUCT_STOP_TIME", sensing)
    sub(info, "PRODUCT_URI", f"{name}.SAFE")
    sub(info, "PROCESSING_LEVEL", f"Level-{code}")
    sub(info, "PRODUCT_TYPE", f"S2MSI{code}")
    sub(info, "PROCESSING_BASELINE", baseline)
    datatake = sub(info, "Datatake", datatakeIdentifier=f"GS2A_{name.split('_')[2]}_000000_N{baseline}")
    sub(datatake, "SPACECRAFT_NAME", "Sentinel-2A")
    sub(datatake, "DATATAKE_TYPE", "INS-NOBS")
    sub(datatake, "DATATAKE_SENSING_START", sensing)
    options = sub(info, "Query_Options", completeSingleTile="true")
    sub(options, "PRODUCT_FORMAT", "SAFE_COMPACT")
    organisation = sub(info, "Product_Organisation")
    granules = sub(organisation, "Granule_List")
    tile = granule.split("_")[1]
    granule_element = sub(granules, "Granule", imageFormat="JPEG2000",
                          datastripIdentifier=f"S2A_OPER_MSI_{level}_DS_PLACEHOLDER_N{baseline}",
                          granuleIdentifier=f"S2A_OPER_MSI_{level}_TL_PLACEHOLDER_{tile}_N{baseline}")
    for image_file in image_files:
        sub(granule_element, "IMAGE_FILE", image_file)

    characteristics = sub(general, "Product_Image_Characteristics")
    for text, index in (("NODATA", "0"), ("SATURATED", "65535")):
        special = sub(characteristics, "Special_Values")
        sub(special, "SPECIAL_VALUE_TEXT", text)
        sub(special, "SPECIAL_VALUE_INDEX", index)
    if level == "L1C":
        sub(characteristics, "QUANTIFICATION_VALUE", "10000", unit="none")
        offsets = sub(characteristics, "Radiometric_Offset_List")
        offset_tag = "RADIO_ADD_OFFSET"
    else:
        quantification = sub(characteristics, "QUANTIFICATION_VALUES_LIST")
        sub(quantification, "BOA_QUANTIFICATION_VALUE", "10000", unit="none")
        sub(quantification, "AOT_QUANTIFICATION_VALUE", "1000.0", unit="none")
        sub(quantification, "WVP_QUANTIFICATION_VALUE", "1000.0", unit="cm")
        offsets = sub(characteristics, "BOA_ADD_OFFSET_VALUES_LIST")
        offset_tag = "BOA_ADD_OFFSET"
    for band_id in range(len(BANDS)):
        sub(offsets, offset_tag, "-1000", band_id=str(band_id))
    spectral = sub(characteristics, "Spectral_Information_List")
    for band_id, (band, resolution) in enumerate(BANDS):
        physical = "B" + band[1:].lstrip("0") if band != "B8A" else band
        entry = sub(spectral, "Spectral_Information", bandId=str(band_id), physicalBand=physical)
        sub(entry, "RESOLUTION", str(resolution))
    ET.indent(root)
    return ET.ElementTree(root)


def tile_mtd(level: str, tile: str, epsg: int, transform: Affine, size_10m: int) -> ET.ElementTree:
    """GRANULE/<granule>/MTD_TL.xml: the tile's CRS, origin and size per resolution (GDAL's geocoding)."""
    code = level[1:]
    ns = f"https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-{code}_Tile_Metadata.xsd"
    ET.register_namespace("n1", ns)
    root = ET.Element(f"{{{ns}}}Level-{code}_Tile_ID")
    general = sub(root, f"{{{ns}}}General_Info")
    sub(general, "TILE_ID", f"S2A_OPER_MSI_{level}_TL_PLACEHOLDER_{tile}", metadataLevel="Brief")
    geometric = sub(root, f"{{{ns}}}Geometric_Info")
    geocoding = sub(geometric, "Tile_Geocoding", metadataLevel="Brief")
    sub(geocoding, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {epsg - 32600}N")
    sub(geocoding, "HORIZONTAL_CS_CODE", f"EPSG:{epsg}")
    for resolution in (10, 20, 60):
        size = sub(geocoding, "Size", resolution=str(resolution))
        sub(size, "NROWS", str(size_10m * 10 // resolution))
        sub(size, "NCOLS", str(size_10m * 10 // resolution))
    for resolution in (10, 20, 60):
        position = sub(geocoding, "Geoposition", resolution=str(resolution))
        sub(position, "ULX", repr(transform.c))
        sub(position, "ULY", repr(transform.f))
        sub(position, "XDIM", str(resolution))
        sub(position, "YDIM", str(-resolution))
    ET.indent(root)
    return ET.ElementTree(root)


def write_xml(tree: ET.ElementTree, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="UTF-8", xml_declaration=True)


def write_metadata(safe: Path, level: str, granule: str, image_files: list[str], sensing: str,
                   crs: rasterio.crs.CRS, transform: Affine) -> None:
    """The product MTD (baseline 04.00) and the granule's MTD_TL.xml of a SAFE whose bands are written."""
    name, tile = safe.stem, granule.split("_")[1]
    write_xml(product_mtd(level, name, "04.00", granule, image_files, sensing), safe / f"MTD_MSI{level}.xml")
    write_xml(tile_mtd(level, tile, crs.to_epsg(), transform, CROP_PX), safe / "GRANULE" / granule / "MTD_TL.xml")


def make_l1c(source: Path, out: Path) -> Path:
    """The L1C SAFE (baseline 04.00, +1000 DN) and the S1 crop on its grid."""
    window = Window(48, 48, CROP_PX, CROP_PX)  # the cloud edge: cumulus upper left, forest and fields
    with rasterio.open(source / SEN12_S2) as src:
        stack = src.read(window=window)
        crs, transform = src.crs, src.window_transform(window)
    safe = out / f"{L1C_NAME}.SAFE"
    granule = f"GRANULE/{L1C_GRANULE}"
    image_files = []
    for band_id, (band, resolution) in enumerate(BANDS):
        pixels = stack[band_id]
        if resolution > 10:
            pixels = block_mean(pixels, resolution // 10)
        pixels = np.where(pixels > 0, pixels.astype(np.uint32) + L1C_OFFSET_DN, 0).astype(np.uint16)
        stem = f"{granule}/IMG_DATA/{L1C_TILE}_{L1C_DATE}_{band}"
        write_jp2(safe / f"{stem}.jp2", pixels, crs, scaled(transform, resolution))
        image_files.append(stem)
    write_metadata(safe, "L1C", L1C_GRANULE, image_files, "2018-07-01T00:00:00.000Z", crs, transform)

    with rasterio.open(source / SEN12_S1) as src:
        s1 = src.read(window=window)
        profile = {"driver": "GTiff", "width": CROP_PX, "height": CROP_PX, "count": 2, "dtype": "float32",
                   "crs": src.crs, "transform": src.window_transform(window), "compress": "deflate"}
    with rasterio.open(out / "S1_for_L1C_SAFE.tif", "w", **profile) as dst:
        dst.write(s1)
        dst.descriptions = ("VV", "VH")
    return safe


def make_l2a(source: Path, out: Path) -> Path:
    """The L2A SAFE (N0400; pixels carry the offset as delivered) with R10m / R20m / R60m folders."""
    start = 480  # a multiple of 6: the crop starts on a 60 m pixel
    native: dict[str, np.ndarray] = {}
    crs = transform = None
    for band, resolution in BANDS:
        if band == "B10":
            continue  # L2A has no cirrus band
        factor = resolution // 10
        window = Window(start // factor, start // factor, CROP_PX // factor, CROP_PX // factor)
        with rasterio.open(source / MAJOR_TOM / f"{band}.tif") as src:
            native[band] = src.read(1, window=window)
            if resolution == 10:
                crs, transform = src.crs, src.window_transform(window)
    assert crs is not None and transform is not None

    safe = out / f"{L2A_NAME}.SAFE"
    granule = f"GRANULE/{L2A_GRANULE}"
    image_files = []
    for resolution, bands in L2A_FOLDERS.items():
        for band in bands:
            ratio = resolution / NATIVE[band]
            pixels = native[band]
            if ratio > 1:
                pixels = block_mean(pixels, int(ratio))
            elif ratio < 1:
                pixels = np.repeat(np.repeat(pixels, int(1 / ratio), axis=0), int(1 / ratio), axis=1)
            stem = f"{granule}/IMG_DATA/R{resolution}m/{L2A_TILE}_{L2A_DATE}_{band}_{resolution}m"
            write_jp2(safe / f"{stem}.jp2", pixels, crs, scaled(transform, resolution))
            image_files.append(stem)
    write_metadata(safe, "L2A", L2A_GRANULE, image_files, "2022-07-06T08:56:11.024Z", crs, transform)
    return safe


def zip_safe(safe: Path, zip_path: Path) -> None:
    """`<name>.zip` holding `<name>.SAFE/...`, entries sorted, fixed timestamps (reproducible bytes)."""
    entries = sorted(safe.rglob("*"))
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in [safe, *entries]:
            name = path.relative_to(safe.parent).as_posix() + ("/" if path.is_dir() else "")
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = (0o40755 if path.is_dir() else 0o100644) << 16
            if path.is_dir():
                archive.writestr(info, b"")
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=9)


def main(source: Path = DEFAULT_SOURCE) -> None:
    if OUT.exists():
        shutil.rmtree(OUT / f"{L1C_NAME}.SAFE", ignore_errors=True)
        shutil.rmtree(OUT / f"{L2A_NAME}.SAFE", ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):  # no .aux.xml side files inside the products
        make_l1c(source, OUT)
        l2a = make_l2a(source, OUT)
    zip_safe(l2a, OUT / f"{L2A_NAME}.zip")
    total = sum(path.stat().st_size for path in OUT.rglob("*") if path.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
