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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.windows import Window

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2].parent / "shared" / "data" / "real-scenes"
NAME = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
SSL4EO_S1 = Path("ssl4eo-s12/s1/0000200") / NAME
OUT = HERE / "s1-grd"
STEM = "s1a-iw-grd-{pol}-20200607t010800-20200607t010825-032904-03cfba-001"

LINES = SAMPLES = 330  # the test product
SPACING_M = 10.0
HEADING_DEG = -167.0  # descending: flying south, slightly west
ASCENDING_HEADING_DEG = -13.0  # ascending: flying north, slightly west (range then runs east)
HEIGHT_M = 250.0
DURATION_S = 25.0
EARTH_RADIUS_M = 6378137.0


@dataclass(frozen=True)
class Layout:
    """A product's image size, and the table grids that follow from it (as spaced in genuine products)."""

    lines: int
    samples: int
    #: a slice of a longer pass: this product's line 0 is the pass's line `first_line` (its times follow)
    first_line: int = 0
    #: pixels over which the incidence goes from 31 to 46 degrees: the product's width by default (the test
    #: product's 330 px then span a whole swath's angles), or a genuine IW swath's 25,000 px, so that the
    #: angle changes by 0.0006 degrees per pixel as it does in genuine products
    swath_px: int = 0

    @property
    def grid_lines(self) -> np.ndarray:
        """Tie-point lines: whole lines, first and last included."""
        return np.rint(np.linspace(0, self.lines - 1, 6))

    @property
    def grid_pixels(self) -> np.ndarray:
        return np.rint(np.linspace(0, self.samples - 1, 11))

    @property
    def azimuth_blocks(self) -> tuple[tuple[int, int, str], ...]:
        half = self.samples // 2
        return (0, half - 1, "IW1"), (half, self.samples - 1, "IW2")

    @property
    def calibration_lines(self) -> np.ndarray:
        step = max(110, self.lines // 3)
        return np.arange(-30.0, self.lines + step, step)

    @property
    def calibration_pixels(self) -> np.ndarray:
        return np.arange(0, self.samples + 40, 40, dtype=np.float64)

    @property
    def noise_lines(self) -> np.ndarray:
        step = max(170, self.lines // 2)
        return np.arange(-50.0, self.lines + step, step)

    def noise_pixels(self, vector: int) -> np.ndarray:
        step = (45, 50, 45, 55)[vector % 4]  # a different count per vector, as in genuine products
        return np.arange(0, self.samples + step, step, dtype=np.float64)

    @property
    def azimuth_lines(self) -> np.ndarray:
        return np.arange(0, self.lines + 30, 30, dtype=np.float64)

    def time(self, line: float) -> str:
        seconds = max(line + self.first_line, 0.0) * DURATION_S / LINES
        minutes, rest = divmod(seconds, 60.0)
        whole = int(rest)
        return f"2020-06-07T01:{8 + int(minutes):02d}:{whole:02d}.{int(round((rest - whole) * 1e6)):06d}"


@dataclass(frozen=True)
class BorderNoise:
    """The noisy strips that ESA's processor left along a GRD image's edges before IPF 2.90 (2018).

    Widths in pixels from each edge (near range: column 0; far range: the last column; the first
    and the last lines), each varying by half along its edge, as the genuine strips wander. Their
    DN are at the thermal-noise level, sqrt(u N) with u uniform in [0, 1) (zero included), so that
    with the noise removed they hold no signal: what the border-noise walk tests for.
    """

    near_px: int = 40
    far_px: int = 30
    top_px: int = 15
    bottom_px: int = 0
    seed: int = 7

    def mask(self, layout: Layout, rows: np.ndarray) -> np.ndarray:
        """Boolean (rows, samples): True on the border-noise pixels of these image rows."""
        cols = np.arange(layout.samples)
        rows = np.asarray(rows, dtype=np.float64)

        def width(base: int, along: np.ndarray, phase: float) -> np.ndarray:
            return np.rint(base * (1.0 + 0.5 * np.sin(along / 37.0 + phase))).astype(np.int64)

        near = width(self.near_px, rows, 0.0)[:, None]
        far = layout.samples - width(self.far_px, rows, 1.0)[:, None]
        top, bottom = width(self.top_px, cols, 2.0)[None, :], layout.lines - width(self.bottom_px, cols, 3.0)[None, :]
        return (cols[None, :] < near) | (cols[None, :] >= far) | (rows[:, None] < top) | (rows[:, None] >= bottom)

    def dn(self, noise_power: np.ndarray, rows: np.ndarray, pol: str) -> np.ndarray:
        """The strips' DN: at or below the noise level (deterministic per row and polarisation)."""
        rng = np.random.default_rng([self.seed, int(rows[0]), 0 if pol == "vv" else 1])
        return np.floor(np.sqrt(rng.uniform(0.0, 1.0, size=noise_power.shape) * noise_power))


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def numbers(values: np.ndarray, fmt: str = "{:.6e}") -> str:
    return " ".join(fmt.format(v) for v in values)


class Geometry:
    """Radar (line, pixel) centre -> (lon, lat): a descending right-looking pass over the scene centre."""

    def __init__(self, centre_lon: float, centre_lat: float, layout: Layout, *, centre_line: float | None = None,
                 heading_deg: float = HEADING_DEG) -> None:
        self.lon0, self.lat0, self.layout = centre_lon, centre_lat, layout
        #: the pass's line at (lon0, lat0); a slice's lines are counted from its own first line
        self.centre_line = (layout.lines - 1) / 2 if centre_line is None else centre_line
        self.heading_deg = heading_deg
        h = np.radians(heading_deg)
        self.along = np.array([np.sin(h), np.cos(h)])  # (east, north) unit vector of flight
        right = h + np.pi / 2
        self.across = np.array([np.sin(right), np.cos(right)])  # looking right of the track

    def slice(self, first_line: int, lines: int) -> Geometry:
        """Lines `first_line` ... `first_line + lines - 1` of this pass, as a product of their own."""
        layout = Layout(lines, self.layout.samples, first_line=self.layout.first_line + first_line, swath_px=self.layout.swath_px)
        return Geometry(self.lon0, self.lat0, layout, centre_line=self.centre_line, heading_deg=self.heading_deg)

    @property
    def pass_direction(self) -> str:
        return "Descending" if abs(self.heading_deg) > 90 else "Ascending"

    def lonlat(self, line: np.ndarray, pixel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = (np.asarray(line, dtype=np.float64) + self.layout.first_line - self.centre_line) * SPACING_M
        r = (np.asarray(pixel, dtype=np.float64) - (self.layout.samples - 1) / 2) * SPACING_M
        east = a * self.along[0] + r * self.across[0]
        north = a * self.along[1] + r * self.across[1]
        lat = self.lat0 + np.degrees(north / EARTH_RADIUS_M)
        lon = self.lon0 + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(self.lat0))))
        return lon, lat


def incidence_deg(layout: Layout, pixel: np.ndarray | float) -> np.ndarray | float:
    """The incidence angle across range, near to far (IW's 31-46 degrees over `Layout.swath_px`)."""
    return 31.0 + 15.0 * np.asarray(pixel, dtype=np.float64) / (layout.swath_px or layout.samples)


def ground_pixels(geometry: Geometry, lines: np.ndarray, pixels: np.ndarray, terrain: Callable[[np.ndarray, np.ndarray], np.ndarray],
                  iterations: int = 40) -> np.ndarray:
    """Where (as a pixel of the tie points' flat geometry) the ground imaged by each radar pixel lies, on hilly ground.

    Ground `dh` above the tie points' height is imaged `dh / tan(incidence)` nearer in range, so
    radar pixel p sees the ground at flat pixel f with f = p + dh(f) / (tan(incidence(f)) * spacing):
    solved by fixed-point iteration (it converges where slopes facing the radar are gentler than
    the incidence angle, i.e. without layover). `terrain(lon, lat)` is the height above the ellipsoid.
    """
    flat = np.asarray(pixels, dtype=np.float64).copy()
    for _ in range(iterations):
        dh = terrain(*geometry.lonlat(lines, flat)) - HEIGHT_M
        flat = pixels + dh / (np.tan(np.radians(incidence_deg(geometry.layout, flat))) * SPACING_M)
    return flat


def gaussian_hill(lon0: float, lat0: float, height_m: float, sigma_m: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Heights above the ellipsoid (m) of a round hill `height_m` above the tie points' height, centred on (lon0, lat0)."""

    def heights(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        east = np.radians(np.asarray(lon) - lon0) * EARTH_RADIUS_M * np.cos(np.radians(lat0))
        north = np.radians(np.asarray(lat) - lat0) * EARTH_RADIUS_M
        return HEIGHT_M + height_m * np.exp(-(east**2 + north**2) / (2 * sigma_m**2))

    return heights


def sample_linear(db: np.ndarray, transform: rasterio.Affine, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Bilinear sample of a dB grid, in linear power, at lon/lat; NaN outside it."""
    inverse = ~transform  # applied by its six numbers, in the order Affine itself uses (its `*` on points is deprecated)
    col = lon * inverse.a + lat * inverse.b + inverse.c
    row = lon * inverse.d + lat * inverse.e + inverse.f
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


def sigma_lut(layout: Layout, lines: np.ndarray) -> np.ndarray:
    """The sigmaNought table (amplitude units): larger in far range, slightly varying along lines."""
    pixels = layout.calibration_pixels
    return 280.0 + 80.0 * (pixels[None, :] / layout.samples) + 6.0 * np.sin(lines[:, None] / 90.0)


def range_noise(layout: Layout, pol: str, line: float, pixels: np.ndarray) -> np.ndarray:
    """Range noise (DN^2): a bowl per sub-swath, VH relatively stronger (its backscatter is lower)."""
    scale = 60.0 if pol == "vv" else 110.0
    half = layout.samples / 2
    swath = np.where(pixels < half, pixels, pixels - half) / half
    return scale * (0.8 + 0.6 * (swath - 0.5) ** 2) * (1.0 + 0.05 * np.cos(line / 70.0))


def azimuth_noise(block: int, lines: np.ndarray) -> np.ndarray:
    return 1.0 + (0.08 if block == 0 else -0.06) * np.sin(lines / 60.0 + block)


def between_lines(vector_lines: np.ndarray, per_vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    index = np.clip(np.searchsorted(vector_lines, rows, side="right") - 1, 0, len(vector_lines) - 2)
    t = np.clip((rows - vector_lines[index]) / (vector_lines[index + 1] - vector_lines[index]), 0, 1)[:, None]
    return per_vector[index] * (1 - t) + per_vector[index + 1] * t


def amplitude_lut(layout: Layout, rows: np.ndarray) -> np.ndarray:
    """The sigma table on image rows, bilinear between its vectors, as a reader must rebuild it."""
    cols = np.arange(layout.samples, dtype=np.float64)
    lines = layout.calibration_lines
    per_vector = np.stack([np.interp(cols, layout.calibration_pixels, row) for row in sigma_lut(layout, lines)])
    return between_lines(lines, per_vector, rows)


def noise_at(layout: Layout, pol: str, rows: np.ndarray) -> np.ndarray:
    """The noise N on image rows as a reader must rebuild it: both tables, interpolated bilinearly."""
    cols = np.arange(layout.samples, dtype=np.float64)
    lines = layout.noise_lines
    per_vector = np.stack([np.interp(cols, layout.noise_pixels(i), range_noise(layout, pol, line, layout.noise_pixels(i)))
                           for i, line in enumerate(lines)])
    power = between_lines(lines, per_vector, rows)
    azimuth = np.ones_like(power)
    for block, (first, last, _) in enumerate(layout.azimuth_blocks):
        azimuth[:, first:last + 1] = np.interp(rows, layout.azimuth_lines, azimuth_noise(block, layout.azimuth_lines))[:, None]
    return power * azimuth


def header(parent: ET.Element, pol: str, layout: Layout) -> None:
    ads = sub(parent, "adsHeader")
    for tag, text in (("missionId", "S1A"), ("productType", "GRD"), ("polarisation", pol.upper()), ("mode", "IW"),
                      ("swath", "IW"), ("startTime", layout.time(0)), ("stopTime", layout.time(layout.lines)),
                      ("absoluteOrbitNumber", "32904"), ("missionDataTakeId", "249786"), ("imageNumber", "001")):
        sub(ads, tag, text)


def tie_points(geometry: Geometry, tie_terrain: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
               ) -> list[tuple[float, float, float, float, float]]:
    """The geolocation grid: (line, pixel, lon, lat, height) per tie point, pixel centres as the annotation counts.

    Without `tie_terrain` every point is at `HEIGHT_M`. With it the grid knows a terrain at its points,
    as a genuine product's coarse terrain model: each point lies where its radar pixel sees that
    terrain (`ground_pixels`), at that terrain's height.
    """
    points = []
    for line in geometry.layout.grid_lines:
        for pixel in geometry.layout.grid_pixels:
            if tie_terrain is None:
                lon, lat = geometry.lonlat(line, pixel)
                height = HEIGHT_M
            else:
                flat = ground_pixels(geometry, np.array([line]), np.array([pixel]), tie_terrain)
                lon, lat = (float(v[0]) for v in geometry.lonlat(np.array([line]), flat))
                height = float(tie_terrain(np.array(lon), np.array(lat)))
            points.append((float(line), float(pixel), float(lon), float(lat), float(height)))
    return points


def annotation(pol: str, geometry: Geometry, tie_terrain: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> ET.ElementTree:
    layout = geometry.layout
    root = ET.Element("product")
    header(root, pol, layout)
    info = sub(sub(root, "generalAnnotation"), "productInformation")
    sub(info, "pass", geometry.pass_direction)
    sub(info, "rangeSamplingRate", "6.433332e+07")
    image_annotation = sub(root, "imageAnnotation")
    image = sub(image_annotation, "imageInformation")
    for tag, text in (("productFirstLineUtcTime", layout.time(0)), ("productLastLineUtcTime", layout.time(layout.lines)),
                      ("rangePixelSpacing", f"{SPACING_M:.6e}"), ("azimuthPixelSpacing", f"{SPACING_M:.6e}"),
                      ("numberOfSamples", str(layout.samples)), ("numberOfLines", str(layout.lines)),
                      ("outputPixels", "16 bit Unsigned Integer")):
        sub(image, tag, text)
    processing = sub(image_annotation, "processingInformation")
    sub(processing, "ellipsoidName", "WGS84")
    sub(processing, "ellipsoidSemiMajorAxis", "6.378137e+06")
    sub(processing, "ellipsoidSemiMinorAxis", "6.356752e+06")
    count = layout.grid_lines.size * layout.grid_pixels.size
    points = sub(sub(root, "geolocationGrid"), "geolocationGridPointList", count=str(count))
    for line, pixel, lon, lat, height in tie_points(geometry, tie_terrain):
        point = sub(points, "geolocationGridPoint")
        sub(point, "azimuthTime", layout.time(line))
        sub(point, "slantRangeTime", f"{5.3e-3 + pixel * 6.7e-8:.12e}")
        sub(point, "line", str(int(line)))
        sub(point, "pixel", str(int(pixel)))
        sub(point, "latitude", f"{float(lat):.12e}")
        sub(point, "longitude", f"{float(lon):.12e}")
        sub(point, "height", f"{height:.6e}")
        sub(point, "incidenceAngle", f"{incidence_deg(layout, pixel):.6e}")
        sub(point, "elevationAngle", f"{27.5 + 12.0 * pixel / layout.samples:.6e}")
    return ET.ElementTree(root)


def calibration_xml(pol: str, layout: Layout) -> ET.ElementTree:
    root = ET.Element("calibration")
    header(root, pol, layout)
    sub(sub(root, "calibrationInformation"), "absoluteCalibrationConstant", "1.000000e+00")
    lines, pixels = layout.calibration_lines, layout.calibration_pixels
    vectors = sub(root, "calibrationVectorList", count=str(len(lines)))
    for line, row in zip(lines, sigma_lut(layout, lines)):
        vector = sub(vectors, "calibrationVector")
        sub(vector, "azimuthTime", layout.time(line))
        sub(vector, "line", str(int(line)))
        sub(vector, "pixel", numbers(pixels, "{:.0f}"), count=str(pixels.size))
        sub(vector, "sigmaNought", numbers(row), count=str(pixels.size))
        sub(vector, "betaNought", numbers(np.full(pixels.size, 237.0)), count=str(pixels.size))
        sub(vector, "gamma", numbers(row * 0.95), count=str(pixels.size))
        sub(vector, "dn", numbers(np.full(pixels.size, 237.0)), count=str(pixels.size))
    return ET.ElementTree(root)


def noise_xml(pol: str, layout: Layout) -> ET.ElementTree:
    root = ET.Element("noise")
    header(root, pol, layout)
    ranges = sub(root, "noiseRangeVectorList", count=str(len(layout.noise_lines)))
    for i, line in enumerate(layout.noise_lines):
        pixels = layout.noise_pixels(i)
        vector = sub(ranges, "noiseRangeVector")
        sub(vector, "azimuthTime", layout.time(line))
        sub(vector, "line", str(int(line)))
        sub(vector, "pixel", numbers(pixels, "{:.0f}"), count=str(pixels.size))
        sub(vector, "noiseRangeLut", numbers(range_noise(layout, pol, line, pixels)), count=str(pixels.size))
    azimuths = sub(root, "noiseAzimuthVectorList", count=str(len(layout.azimuth_blocks)))
    lines = layout.azimuth_lines
    for block, (first, last, swath) in enumerate(layout.azimuth_blocks):
        vector = sub(azimuths, "noiseAzimuthVector")
        for tag, text in (("swath", swath), ("firstAzimuthLine", "0"), ("firstRangeSample", str(first)),
                          ("lastAzimuthLine", str(layout.lines - 1)), ("lastRangeSample", str(last))):
            sub(vector, tag, text)
        sub(vector, "line", numbers(lines, "{:.0f}"), count=str(lines.size))
        sub(vector, "noiseAzimuthLut", numbers(azimuth_noise(block, lines)), count=str(lines.size))
    return ET.ElementTree(root)


def write_product(safe: Path, geometry: Geometry, sigma_rows: Callable[[str, np.ndarray], np.ndarray],
                  rows_per_strip: int = 512, compress: str | None = "deflate",
                  tie_terrain: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                  border: BorderNoise | None = None, ipf: str | None = None) -> Path:
    """Write a GRD product at `safe` whose linear sigma0 on image rows is `sigma_rows(pol, rows)` (NaN: no data).

    The measurement files are written strip by strip, so a product of full size fits in memory.
    Genuine products' GeoTIFFs are uncompressed (`compress=None`); the test product's are deflated
    to keep the repository small (same pixels). `border` puts pre-2018 border noise along the
    image's edges; `ipf` ("002.72") names the processor version in manifest.safe, as genuine
    manifests do (the test product's manifest names none).
    """
    layout = geometry.layout
    shutil.rmtree(safe, ignore_errors=True)
    (safe / "measurement").mkdir(parents=True)
    (safe / "annotation" / "calibration").mkdir(parents=True)
    gcps = [GroundControlPoint(row=line + 0.5, col=pixel + 0.5, x=lon, y=lat, z=height)
            for line, pixel, lon, lat, height in tie_points(geometry, tie_terrain)]
    for pol in ("vv", "vh"):
        stem = STEM.format(pol=pol)
        profile = {"driver": "GTiff", "width": layout.samples, "height": layout.lines, "count": 1, "dtype": "uint16",
                   **({"compress": compress} if compress else {}), "gcps": gcps, "crs": CRS.from_epsg(4326)}
        with rasterio.open(safe / "measurement" / f"{stem}.tiff", "w", **profile) as dst:
            for r0 in range(0, layout.lines, rows_per_strip):
                rows = np.arange(r0, min(layout.lines, r0 + rows_per_strip), dtype=np.float64)
                sigma = sigma_rows(pol, rows)
                noise = noise_at(layout, pol, rows)
                power = np.nan_to_num(sigma) * amplitude_lut(layout, rows) ** 2 + noise
                dn = np.where(np.isfinite(sigma), np.clip(np.rint(np.sqrt(power)), 1, 65535), 0).astype(np.uint16)
                if border is not None:
                    strips = border.mask(layout, rows)
                    dn[strips] = border.dn(noise, rows, pol)[strips]
                dst.write(dn, 1, window=Window(0, r0, layout.samples, rows.size))
        for tree, relative in ((annotation(pol, geometry, tie_terrain), f"annotation/{stem}.xml"),
                               (calibration_xml(pol, layout), f"annotation/calibration/calibration-{stem}.xml"),
                               (noise_xml(pol, layout), f"annotation/calibration/noise-{stem}.xml")):
            tree.write(safe / relative, encoding="UTF-8", xml_declaration=True)
    (safe / "manifest.safe").write_text(manifest(layout, ipf), encoding="UTF-8")
    return safe


def write_from_map(safe: Path, db: dict[str, np.ndarray], transform: rasterio.Affine, geometry: Geometry,
                   compress: str | None = "deflate",
                   terrain: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                   tie_terrain: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                   border: BorderNoise | None = None, ipf: str | None = None) -> Path:
    """A GRD product at `safe` holding the backscatter of dB maps {"vv": ..., "vh": ...} on `transform`.

    With `terrain(lon, lat)` (heights above the ellipsoid, m) the ground is hilly: each radar
    pixel images the ground where `ground_pixels` finds it. The geolocation grid keeps its flat
    heights, or, with `tie_terrain`, knows that terrain at its points only (`tie_points`), as a
    genuine product's knows a coarse terrain model, not the hills between its points.
    """
    samples = np.arange(geometry.layout.samples, dtype=np.float64)

    def sigma_rows(pol: str, rows: np.ndarray) -> np.ndarray:
        lines, pixels = np.meshgrid(rows, samples, indexing="ij")
        if terrain is not None:
            pixels = ground_pixels(geometry, lines, pixels, terrain)
        return sample_linear(db[pol], transform, *geometry.lonlat(lines, pixels))

    return write_product(safe, geometry, sigma_rows, compress=compress, tie_terrain=tie_terrain, border=border, ipf=ipf)


def read_map(folder: Path) -> tuple[dict[str, np.ndarray], rasterio.Affine, tuple[float, float]]:
    """SSL4EO-S12's VV.tif / VH.tif: the dB maps, their transform and their centre (lon, lat)."""
    with rasterio.open(folder / "VV.tif") as vv_src, rasterio.open(folder / "VH.tif") as vh_src:
        db = {"vv": vv_src.read(1), "vh": vh_src.read(1)}
        transform, (height, width) = vv_src.transform, vv_src.shape
    centre = (width / 2 * transform.a + height / 2 * transform.b + transform.c, width / 2 * transform.d + height / 2 * transform.e + transform.f)
    return db, transform, centre


def build(source: Path) -> None:
    """The test product: SSL4EO-S12's genuine backscatter in the radar geometry of a 330 x 330 px GRD."""
    db, transform, (lon, lat) = read_map(source / SSL4EO_S1)
    shutil.rmtree(OUT, ignore_errors=True)
    write_from_map(OUT / f"{NAME}.SAFE", db, transform, Geometry(lon, lat, Layout(LINES, SAMPLES)))


def manifest(layout: Layout, ipf: str | None = None) -> str:
    """The XFDU manifest's outline: the product's identity and the list of its data objects.

    With `ipf`, the processing history's outermost element names that processor version, where a
    genuine manifest does (its `safe:processing` / `safe:facility` / `safe:software`).
    """
    rows = []
    for pol in ("vv", "vh"):
        stem = STEM.format(pol=pol)
        for kind, href in (("s1Level1MeasurementSchema", f"./measurement/{stem}.tiff"),
                           ("s1Level1ProductSchema", f"./annotation/{stem}.xml"),
                           ("s1Level1CalibrationSchema", f"./annotation/calibration/calibration-{stem}.xml"),
                           ("s1Level1NoiseSchema", f"./annotation/calibration/noise-{stem}.xml")):
            rows.append(f'    <dataObject ID="{kind}-{pol}" repID="{kind}"><byteStream mimeType="application/octet-stream">'
                        f'<fileLocation locatorType="URL" href="{href}"/></byteStream></dataObject>')
    objects = "\n".join(rows)
    stop = layout.time(layout.lines)
    processing = "" if ipf is None else (
        '    <metadataObject ID="processing" classification="PROVENANCE" category="PDI"><metadataWrap mimeType="text/xml" '
        'vocabularyName="SAFE" textInfo="Processing"><xmlData><safe:processing name="GRD Post Processing"><safe:facility '
        f'name="Copernicus S1 Core Ground Segment" organisation="ESA"><safe:software name="Sentinel-1 IPF" version="{ipf}"/>'
        '</safe:facility></safe:processing></xmlData></metadataWrap></metadataObject>\n')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel-1.0" version="esa/safe/sentinel-1.0/sentinel-1/sar/level-1/standard">
  <metadataSection>
{processing}    <metadataObject ID="platform" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Platform Description"><xmlData><safe:platform><safe:nssdcIdentifier>2014-016A</safe:nssdcIdentifier><safe:familyName>SENTINEL-1</safe:familyName><safe:number>A</safe:number></safe:platform></xmlData></metadataWrap></metadataObject>
    <metadataObject ID="acquisitionPeriod" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Acquisition Period"><xmlData><safe:acquisitionPeriod><safe:startTime>{layout.time(0)}</safe:startTime><safe:stopTime>{stop}</safe:stopTime></safe:acquisitionPeriod></xmlData></metadataWrap></metadataObject>
  </metadataSection>
  <dataObjectSection>
{objects}
  </dataObjectSection>
</xfdu:XFDU>
"""


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
    print(f"wrote {OUT}")
