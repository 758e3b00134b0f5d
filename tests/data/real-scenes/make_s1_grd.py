"""Build a minimal Sentinel-1 GRD SAFE product in `s1-grd/` from genuine Sentinel-1 backscatter.

Users download Sentinel-1 as Level-1 GRD products (a `.SAFE` folder or its `.zip`, 1-2 GB). No
small genuine GRD product is redistributable as a test file, so this script packs genuine
backscatter into the layout and the calibration that ESA's processor (IPF 3.x) writes
(Sentinel-1 Product Specification S1-RS-MDA-52-7441):

    <name>.SAFE/manifest.safe
    <name>.SAFE/measurement/s1a-iw-grd-vv-<start>-<stop>-<orbit>-<datatake>-001.tiff   uint16 amplitude DN
    <name>.SAFE/annotation/s1a-iw-grd-vv-....xml                 header, image size, geolocation grid
    <name>.SAFE/annotation/calibration/calibration-s1a-iw-grd-vv-....xml   sigmaNought LUT
    <name>.SAFE/annotation/calibration/noise-s1a-iw-grd-vv-....xml         range + azimuth noise LUTs
    (the same for vh)

- The backscatter is SSL4EO-S12's genuine VV and VH of location 0000200 (India, product
  S1A_IW_GRDH_1SDV_20200607T010800_..._D457, the name used here; sigma0 dB from Earth Engine,
  264 x 264 px in EPSG:4326), in `shared/data/real-scenes/ssl4eo-s12/s1/`.
- Radar geometry of a descending pass (heading -167 degrees, right-looking, so range runs
  west and the image is mirrored east-west against the map, as genuine descending GRDs are),
  10 m line and sample spacing, 330 x 330 px. Each radar pixel's centre is placed on the ground
  by that geometry, its sigma0 taken from the genuine grid there (bilinear, in linear power),
  and written as DN = round(sqrt(sigma0 * A^2 + N)) with the product's own LUTs: A, a
  sigmaNought table varying across range (280-360) and along lines, and N = range noise x
  azimuth noise (two sub-swath blocks), so a reader that skips a table or interpolates it
  wrongly gives other values. Pixels outside the genuine footprint are 0 (the product's fill).
- The geolocation grid (11 x 6 tie points, pixel-centre coordinates as the annotation gives
  them) is computed from the same geometry, at a height of 250 m.

The times, orbit and datatake are the genuine product's (from its name); the LUT values, the
noise and the geometry are placeholders of realistic size, said in SOURCE.md. Deterministic: the
same bytes each run. Run from the repository root:
    .venv/bin/python tests/data/real-scenes/make_s1_grd.py [SHARED_REAL_SCENES]
"""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2].parent / "shared" / "data" / "real-scenes"
NAME = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
SSL4EO_S1 = Path("ssl4eo-s12/s1/0000200") / NAME
OUT = HERE / "s1-grd"

LINES = SAMPLES = 330
SPACING_M = 10.0
HEADING_DEG = -167.0  # descending: flying south, slightly west
HEIGHT_M = 250.0
START, STOP = "2020-06-07T01:08:00.000000", "2020-06-07T01:08:25.000000"
LINE_TIME_S = 25.0 / LINES
EARTH_RADIUS_M = 6378137.0
#: Tie points of the geolocation grid: whole lines and pixels, first and last included, as genuine products.
GRID_LINES = np.rint(np.linspace(0, LINES - 1, 6))
GRID_PIXELS = np.rint(np.linspace(0, SAMPLES - 1, 11))


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def numbers(values: np.ndarray, fmt: str = "{:.6e}") -> str:
    return " ".join(fmt.format(v) for v in values)


def azimuth_time(line: float) -> str:
    seconds = 0.0 + line * LINE_TIME_S
    whole = int(np.floor(seconds))
    return f"2020-06-07T01:08:{whole:02d}.{int(round((seconds - whole) * 1e6)):06d}"


class Geometry:
    """Radar (line, pixel) centre -> (lon, lat): a descending right-looking pass over the scene centre."""

    def __init__(self, centre_lon: float, centre_lat: float) -> None:
        self.lon0, self.lat0 = centre_lon, centre_lat
        h = np.radians(HEADING_DEG)
        self.along = np.array([np.sin(h), np.cos(h)])  # (east, north) unit vector of flight
        right = h + np.pi / 2
        self.across = np.array([np.sin(right), np.cos(right)])  # looking right of the track

    def lonlat(self, line: np.ndarray, pixel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = (np.asarray(line, dtype=np.float64) - (LINES - 1) / 2) * SPACING_M
        r = (np.asarray(pixel, dtype=np.float64) - (SAMPLES - 1) / 2) * SPACING_M
        east = a * self.along[0] + r * self.across[0]
        north = a * self.along[1] + r * self.across[1]
        lat = self.lat0 + np.degrees(north / EARTH_RADIUS_M)
        lon = self.lon0 + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(self.lat0))))
        return lon, lat


def sample_linear(db: np.ndarray, transform: rasterio.Affine, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Bilinear sample of a dB grid, in linear power, at lon/lat; NaN outside it."""
    col, row = ~transform * (lon, lat)
    col, row = col - 0.5, row - 0.5  # pixel centres
    power = 10 ** (db.astype(np.float64) / 10)
    h, w = power.shape
    c0, r0 = np.floor(col).astype(int), np.floor(row).astype(int)
    inside = (c0 >= 0) & (r0 >= 0) & (c0 + 1 < w) & (r0 + 1 < h)
    c0c, r0c = np.clip(c0, 0, w - 2), np.clip(r0, 0, h - 2)
    fc, fr = col - c0c, row - r0c
    value = (power[r0c, c0c] * (1 - fc) * (1 - fr) + power[r0c, c0c + 1] * fc * (1 - fr)
             + power[r0c + 1, c0c] * (1 - fc) * fr + power[r0c + 1, c0c + 1] * fc * fr)
    return np.where(inside, value, np.nan)


def sigma_lut(lines: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The sigmaNought table (amplitude units): larger in far range, slightly varying along lines."""
    return 280.0 + 80.0 * (pixels[None, :] / SAMPLES) + 6.0 * np.sin(lines[:, None] / 90.0)


def range_noise(pol: str, line: float, pixels: np.ndarray) -> np.ndarray:
    """Range noise (DN^2): a bowl per sub-swath, VH relatively stronger (its backscatter is lower)."""
    scale = 60.0 if pol == "vv" else 110.0
    swath = np.where(pixels < SAMPLES / 2, pixels, pixels - SAMPLES / 2) / (SAMPLES / 2)
    return scale * (0.8 + 0.6 * (swath - 0.5) ** 2) * (1.0 + 0.05 * np.cos(line / 70.0))


AZIMUTH_BLOCKS = ((0, SAMPLES // 2 - 1, "IW1"), (SAMPLES // 2, SAMPLES - 1, "IW2"))


def azimuth_noise(block: int, lines: np.ndarray) -> np.ndarray:
    return 1.0 + (0.08 if block == 0 else -0.06) * np.sin(lines / 60.0 + block)


def noise_at(pol: str, rows: np.ndarray, cols: np.ndarray, range_lines: np.ndarray, range_pixels: list[np.ndarray],
             az_lines: np.ndarray) -> np.ndarray:
    """The noise N on the full image as a reader must rebuild it: both tables, interpolated bilinearly."""
    per_vector = np.stack([np.interp(cols, p, range_noise(pol, line, p)) for line, p in zip(range_lines, range_pixels)])
    index = np.clip(np.searchsorted(range_lines, rows, side="right") - 1, 0, len(range_lines) - 2)
    t = np.clip((rows - range_lines[index]) / (range_lines[index + 1] - range_lines[index]), 0, 1)[:, None]
    power = per_vector[index] * (1 - t) + per_vector[index + 1] * t
    azimuth = np.ones_like(power)
    for block, (first, last, _) in enumerate(AZIMUTH_BLOCKS):
        azimuth[:, first:last + 1] = np.interp(rows, az_lines, azimuth_noise(block, az_lines))[:, None]
    return power * azimuth


def annotation(pol: str, stem: str, geometry: Geometry) -> ET.ElementTree:
    root = ET.Element("product")
    header = sub(root, "adsHeader")
    for tag, text in (("missionId", "S1A"), ("productType", "GRD"), ("polarisation", pol.upper()), ("mode", "IW"),
                      ("swath", "IW"), ("startTime", START), ("stopTime", STOP), ("absoluteOrbitNumber", "32904"),
                      ("missionDataTakeId", "249786"), ("imageNumber", "001")):
        sub(header, tag, text)
    general = sub(root, "generalAnnotation")
    info = sub(general, "productInformation")
    sub(info, "pass", "Descending")
    sub(info, "rangeSamplingRate", "6.433332e+07")
    image = sub(sub(root, "imageAnnotation"), "imageInformation")
    for tag, text in (("productFirstLineUtcTime", START), ("productLastLineUtcTime", STOP),
                      ("rangePixelSpacing", f"{SPACING_M:.6e}"), ("azimuthPixelSpacing", f"{SPACING_M:.6e}"),
                      ("numberOfSamples", str(SAMPLES)), ("numberOfLines", str(LINES)),
                      ("outputPixels", "16 bit Unsigned Integer")):
        sub(image, tag, text)
    processing = sub(root.find("imageAnnotation"), "processingInformation")
    sub(processing, "ellipsoidName", "WGS84")
    sub(processing, "ellipsoidSemiMajorAxis", "6.378137e+06")
    sub(processing, "ellipsoidSemiMinorAxis", "6.356752e+06")
    grid_lines, grid_pixels = GRID_LINES, GRID_PIXELS
    points = sub(sub(root, "geolocationGrid"), "geolocationGridPointList", count=str(grid_lines.size * grid_pixels.size))
    for line in grid_lines:
        for pixel in grid_pixels:
            lon, lat = geometry.lonlat(line, pixel)
            point = sub(points, "geolocationGridPoint")
            sub(point, "azimuthTime", azimuth_time(line))
            sub(point, "slantRangeTime", f"{5.3e-3 + pixel * 6.7e-8:.12e}")
            sub(point, "line", str(int(round(line))))
            sub(point, "pixel", str(int(round(pixel))))
            sub(point, "latitude", f"{float(lat):.12e}")
            sub(point, "longitude", f"{float(lon):.12e}")
            sub(point, "height", f"{HEIGHT_M:.6e}")
            sub(point, "incidenceAngle", f"{31.0 + 15.0 * pixel / SAMPLES:.6e}")
            sub(point, "elevationAngle", f"{27.5 + 12.0 * pixel / SAMPLES:.6e}")
    return ET.ElementTree(root)


def build(source: Path) -> None:
    with rasterio.open(source / SSL4EO_S1 / "VV.tif") as vv_src, rasterio.open(source / SSL4EO_S1 / "VH.tif") as vh_src:
        genuine = {"vv": vv_src.read(1), "vh": vh_src.read(1)}
        transform = vv_src.transform
        height, width = vv_src.shape
    centre_lon, centre_lat = transform * (width / 2, height / 2)
    geometry = Geometry(centre_lon, centre_lat)
    rows = np.arange(LINES, dtype=np.float64)
    cols = np.arange(SAMPLES, dtype=np.float64)
    line_grid, pixel_grid = np.meshgrid(rows, cols, indexing="ij")
    lon, lat = geometry.lonlat(line_grid, pixel_grid)

    cal_lines = np.array([-30.0, 80.0, 190.0, 300.0, 410.0])
    cal_pixels = np.arange(0, SAMPLES + 40, 40, dtype=np.float64)
    lut = sigma_lut(cal_lines, cal_pixels)
    noise_lines = np.array([-50.0, 120.0, 290.0, 460.0])
    noise_pixels = [np.arange(0, SAMPLES + 45, 45, dtype=np.float64), np.arange(0, SAMPLES + 50, 50, dtype=np.float64),
                    np.arange(0, SAMPLES + 45, 45, dtype=np.float64), np.arange(0, SAMPLES + 55, 55, dtype=np.float64)]
    az_lines = np.arange(0, LINES + 30, 30, dtype=np.float64)

    safe = OUT / f"{NAME}.SAFE"
    shutil.rmtree(OUT, ignore_errors=True)
    (safe / "measurement").mkdir(parents=True)
    (safe / "annotation" / "calibration").mkdir(parents=True)
    # the sigma table on the full image, bilinear between its vectors, as the reader must rebuild it
    per_vector = np.stack([np.interp(cols, cal_pixels, row) for row in lut])
    index = np.clip(np.searchsorted(cal_lines, rows, side="right") - 1, 0, len(cal_lines) - 2)
    t = np.clip((rows - cal_lines[index]) / (cal_lines[index + 1] - cal_lines[index]), 0, 1)[:, None]
    amplitude = per_vector[index] * (1 - t) + per_vector[index + 1] * t

    gcps = []
    for line in GRID_LINES:
        for pixel in GRID_PIXELS:
            glon, glat = geometry.lonlat(line, pixel)
            gcps.append(GroundControlPoint(row=line + 0.5, col=pixel + 0.5, x=float(glon), y=float(glat), z=HEIGHT_M))
    for pol in ("vv", "vh"):
        stem = f"s1a-iw-grd-{pol}-20200607t010800-20200607t010825-032904-03cfba-001"
        sigma = sample_linear(genuine[pol], transform, lon, lat)
        noise = noise_at(pol, rows, cols, noise_lines, noise_pixels, az_lines)
        dn = np.where(np.isfinite(sigma), np.rint(np.sqrt(np.nan_to_num(sigma) * amplitude**2 + noise)), 0)
        dn = np.clip(dn, 1, 65535).astype(np.uint16) * np.isfinite(sigma)
        profile = {"driver": "GTiff", "width": SAMPLES, "height": LINES, "count": 1, "dtype": "uint16",
                   "compress": "deflate", "gcps": gcps, "crs": CRS.from_epsg(4326)}
        with rasterio.open(safe / "measurement" / f"{stem}.tiff", "w", **profile) as dst:
            dst.write(dn.astype(np.uint16), 1)
        annotation(pol, stem, geometry).write(safe / "annotation" / f"{stem}.xml", encoding="UTF-8", xml_declaration=True)

        calibration = ET.Element("calibration")
        header = sub(calibration, "adsHeader")
        for tag, text in (("missionId", "S1A"), ("productType", "GRD"), ("polarisation", pol.upper()), ("mode", "IW"),
                          ("swath", "IW"), ("startTime", START), ("stopTime", STOP), ("imageNumber", "001")):
            sub(header, tag, text)
        sub(sub(calibration, "calibrationInformation"), "absoluteCalibrationConstant", "1.000000e+00")
        vectors = sub(calibration, "calibrationVectorList", count=str(len(cal_lines)))
        for line, row in zip(cal_lines, lut):
            vector = sub(vectors, "calibrationVector")
            sub(vector, "azimuthTime", azimuth_time(max(line, 0)))
            sub(vector, "line", str(int(line)))
            sub(vector, "pixel", numbers(cal_pixels, "{:.0f}"), count=str(cal_pixels.size))
            sub(vector, "sigmaNought", numbers(row), count=str(cal_pixels.size))
            sub(vector, "betaNought", numbers(np.full(cal_pixels.size, 237.0)), count=str(cal_pixels.size))
            sub(vector, "gamma", numbers(row * 0.95), count=str(cal_pixels.size))
            sub(vector, "dn", numbers(np.full(cal_pixels.size, 237.0)), count=str(cal_pixels.size))
        ET.ElementTree(calibration).write(safe / "annotation" / "calibration" / f"calibration-{stem}.xml",
                                          encoding="UTF-8", xml_declaration=True)

        noise_xml = ET.Element("noise")
        header = sub(noise_xml, "adsHeader")
        for tag, text in (("missionId", "S1A"), ("productType", "GRD"), ("polarisation", pol.upper()), ("mode", "IW"),
                          ("swath", "IW"), ("startTime", START), ("stopTime", STOP), ("imageNumber", "001")):
            sub(header, tag, text)
        ranges = sub(noise_xml, "noiseRangeVectorList", count=str(len(noise_lines)))
        for line, pixels in zip(noise_lines, noise_pixels):
            vector = sub(ranges, "noiseRangeVector")
            sub(vector, "azimuthTime", azimuth_time(max(line, 0)))
            sub(vector, "line", str(int(line)))
            sub(vector, "pixel", numbers(pixels, "{:.0f}"), count=str(pixels.size))
            sub(vector, "noiseRangeLut", numbers(range_noise(pol, line, pixels)), count=str(pixels.size))
        azimuths = sub(noise_xml, "noiseAzimuthVectorList", count=str(len(AZIMUTH_BLOCKS)))
        for block, (first, last, swath) in enumerate(AZIMUTH_BLOCKS):
            vector = sub(azimuths, "noiseAzimuthVector")
            for tag, text in (("swath", swath), ("firstAzimuthLine", "0"), ("firstRangeSample", str(first)),
                              ("lastAzimuthLine", str(LINES - 1)), ("lastRangeSample", str(last))):
                sub(vector, tag, text)
            sub(vector, "line", numbers(az_lines, "{:.0f}"), count=str(az_lines.size))
            sub(vector, "noiseAzimuthLut", numbers(azimuth_noise(block, az_lines)), count=str(az_lines.size))
        ET.ElementTree(noise_xml).write(safe / "annotation" / "calibration" / f"noise-{stem}.xml",
                                        encoding="UTF-8", xml_declaration=True)
    (safe / "manifest.safe").write_text(manifest(), encoding="UTF-8")


def manifest() -> str:
    """The XFDU manifest's outline: the product's identity and the list of its data objects."""
    rows = []
    for pol in ("vv", "vh"):
        stem = f"s1a-iw-grd-{pol}-20200607t010800-20200607t010825-032904-03cfba-001"
        for kind, href in (("s1Level1MeasurementSchema", f"./measurement/{stem}.tiff"),
                           ("s1Level1ProductSchema", f"./annotation/{stem}.xml"),
                           ("s1Level1CalibrationSchema", f"./annotation/calibration/calibration-{stem}.xml"),
                           ("s1Level1NoiseSchema", f"./annotation/calibration/noise-{stem}.xml")):
            rows.append(f'    <dataObject ID="{kind}-{pol}" repID="{kind}"><byteStream mimeType="application/octet-stream">'
                        f'<fileLocation locatorType="URL" href="{href}"/></byteStream></dataObject>')
    objects = "\n".join(rows)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel-1.0" version="esa/safe/sentinel-1.0/sentinel-1/sar/level-1/standard">
  <metadataSection>
    <metadataObject ID="platform" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Platform Description"><xmlData><safe:platform><safe:nssdcIdentifier>2014-016A</safe:nssdcIdentifier><safe:familyName>SENTINEL-1</safe:familyName><safe:number>A</safe:number></safe:platform></xmlData></metadataWrap></metadataObject>
    <metadataObject ID="acquisitionPeriod" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Acquisition Period"><xmlData><safe:acquisitionPeriod><safe:startTime>{START}</safe:startTime><safe:stopTime>{STOP}</safe:stopTime></safe:acquisitionPeriod></xmlData></metadataWrap></metadataObject>
  </metadataSection>
  <dataObjectSection>
{objects}
  </dataObjectSection>
</xfdu:XFDU>
"""


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
    print(f"wrote {OUT}")
