"""Trim genuine Sentinel-1 annotation XML to what sarclear reads, gzipped (from xarray-sentinel's test data).

    python tests/data/real-scenes/s1-genuine-xml/trim.py XARRAY_SENTINEL_CHECKOUT

Elements are removed whole, never edited: in a GRD annotation everything but the header, the
product information, the terrain heights, the image annotation, the swath timing and the
geolocation grid (dropped: quality, downlink, orbit, attitude, raw data, replica, noise
estimates, Doppler centroid, antenna pattern, coordinate conversion, swath merging); in a
calibration file the betaNought, gamma and dn tables (sarclear uses sigmaNought); in the GRD's
manifest.safe everything but its processing history (where the processor version is). Noise
files are kept whole. SOURCE.md beside this script says where each file comes from.
"""

from __future__ import annotations

import gzip
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRD = "S1B_IW_GRDH_1SDV_20210401T052623_20210401T052648_026269_032297_ECC8.SAFE"
SLC = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE"
KEEP_GRD = {"adsHeader", "generalAnnotation", "imageAnnotation", "swathTiming", "geolocationGrid"}
KEEP_GENERAL = {"productInformation", "terrainHeightList"}
DROP_CALIBRATION = {"betaNought", "gamma", "dn"}
XFDU = "{urn:ccsds:schema:xfdu:1}"


def write(tree: ET.Element, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="utf-8")
    out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def trim_manifest(manifest: Path) -> ET.Element:
    """The manifest's root with only its metadataSection's processing history (prefixes kept as ESA wrote them)."""
    for _, (prefix, uri) in ET.iterparse(manifest, events=("start-ns",)):
        if prefix:  # the nested elements' default namespace is safe's own URI again
            ET.register_namespace(prefix, uri)
    root = ET.parse(manifest).getroot()
    for child in list(root):
        if child.tag != "metadataSection":
            root.remove(child)
    section = root.find("metadataSection")
    for child in list(section):
        if child.get("ID") != "processing":
            section.remove(child)
    return root


def main(checkout: Path) -> None:
    data = checkout / "tests" / "data"
    write(trim_manifest(data / GRD / "manifest.safe"), HERE / GRD / "manifest.safe.gz")
    for xml in sorted((data / GRD / "annotation").glob("s1b-iw-grd-*.xml")):
        root = ET.parse(xml).getroot()
        for child in list(root):
            if child.tag not in KEEP_GRD:
                root.remove(child)
        general = root.find("generalAnnotation")
        for child in list(general):
            if child.tag not in KEEP_GENERAL:
                general.remove(child)
        write(root, HERE / GRD / "annotation" / f"{xml.name}.gz")
    for xml in sorted((data / SLC / "annotation" / "calibration").glob("*-iw1-slc-vv-*.xml")):
        root = ET.parse(xml).getroot()
        if xml.name.startswith("calibration-"):
            for vector in root.iter("calibrationVector"):
                for child in list(vector):
                    if child.tag in DROP_CALIBRATION:
                        vector.remove(child)
        write(root, HERE / SLC / "annotation" / "calibration" / f"{xml.name}.gz")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
