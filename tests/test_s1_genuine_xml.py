"""sarclear's Sentinel-1 reader on genuine ESA annotation, calibration and noise files.

The synthetic test product (make_s1_grd.py) follows the product specification; these files are
what ESA's processor wrote for S1B's pass of 2021-04-01 over the Alps (datatake 205463), as
xarray-sentinel keeps them for its tests, trimmed to what sarclear reads (whole elements removed;
tests/data/real-scenes/s1-genuine-xml/SOURCE.md): the GRD product's annotation of both
polarisations, and the calibration and noise tables of the same pass's SLC, sub-swath IW1 (GRD's
tables have the same elements; no genuine GRD table is available here).
"""

from __future__ import annotations

import dataclasses
import gzip
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.io.s1_geocode import utm_grid
from sarclear.io.s1_grd import Polarisation, read_calibration, read_s1_product
from sarclear.io.s1_terrain import TiePoints, flatten_tie_points

GENUINE = Path(__file__).parent / "data" / "real-scenes" / "s1-genuine-xml"
GRD = "S1B_IW_GRDH_1SDV_20210401T052623_20210401T052648_026269_032297_ECC8"
SLC_TABLES = GENUINE / "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE" / "annotation" / "calibration"
SYNTHETIC = Path(__file__).parent / "data" / "real-scenes" / "s1-grd" / "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457.SAFE"


def genuine_grd(tmp_path: Path) -> Path:
    """The genuine GRD annotation in a .SAFE folder, beside 1 x 1 px placeholder images and the synthetic
    product's calibration files under the genuine names (what is read from those is tested elsewhere)."""
    safe = tmp_path / f"{GRD}.SAFE"
    (safe / "measurement").mkdir(parents=True)
    (safe / "annotation" / "calibration").mkdir(parents=True)
    shutil.copy(SYNTHETIC / "manifest.safe", safe / "manifest.safe")
    for packed in sorted((GENUINE / f"{GRD}.SAFE" / "annotation").glob("*.xml.gz")):
        stem = packed.name.removesuffix(".xml.gz")
        (safe / "annotation" / f"{stem}.xml").write_bytes(gzip.decompress(packed.read_bytes()))
        pol = stem.split("-")[3]
        with rasterio.open(safe / "measurement" / f"{stem}.tiff", "w", driver="GTiff", width=1, height=1, count=1, dtype="uint16") as dst:
            dst.write(np.ones((1, 1, 1), np.uint16))
        synthetic = next((SYNTHETIC / "annotation" / "calibration").glob(f"calibration-s1a-iw-grd-{pol}-*.xml"))
        shutil.copy(synthetic, safe / "annotation" / "calibration" / f"calibration-{stem}.xml")
    return safe


pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # the placeholder images


def test_genuine_grd_annotation_header_geometry_and_tie_points(tmp_path: Path) -> None:
    product = read_s1_product(genuine_grd(tmp_path))
    assert (product.name, product.mission, product.mode, product.product_type) == (GRD, "S1B", "IW", "GRD")
    assert product.pass_direction == "Descending" and product.datatake == "205463"
    assert product.start_time == "2021-04-01T05:26:23.794457"
    assert product.size == (16685, 25788) and product.range_spacing_m == 10.0
    # the geolocation grid: 10 lines x 21 pixels, GDAL's convention (annotation's first centre = 0.5, 0.5)
    assert len(product.gcps) == 210
    assert sorted({g.row for g in product.gcps})[:2] == [0.5, 2003.5] and len({g.col for g in product.gcps}) == 21
    first, last = product.gcps[0], product.gcps[-1]
    assert (first.row, first.col, last.row, last.col) == (0.5, 0.5, 16684.5, 25787.5)
    # a descending, right-looking pass: the first line is the north end, near range (pixel 0) the east side;
    # the synthetic test product's geometry (make_s1_grd.Geometry) assumes the same
    line0 = [g for g in product.gcps if g.row == 0.5]
    assert first.y > last.y and line0[0].x > line0[-1].x
    assert (round(first.x, 2), round(first.y, 2)) == (12.43, 47.12)
    # incidence from near to far range, and heights of a terrain model over the Alps (not one height)
    incidence = np.array(product.incidence_deg)
    assert 30.0 < incidence.min() < 31.0 and 46.0 < incidence.max() < 46.5
    assert incidence[20] > incidence[0]  # along the first line of tie points, far range is steeper
    heights = np.array([g.z for g in product.gcps])
    assert heights.min() < 100 and heights.max() > 2500
    ties = TiePoints(product.gcps, product.incidence_deg, product.path)
    height, tan = ties.at(np.array([first.row, 8000.0]), np.array([first.col, 12000.0]))
    assert height[0] == pytest.approx(first.z) and tan[0] == pytest.approx(np.tan(np.radians(incidence[0])))
    assert 0.5 < tan[1] < 1.1
    # for terrain correction the points are moved to one height (their mean): each by (h - mean) / tan(incidence)
    # along range, up to kilometres here
    flat, flat_incidence, reference = flatten_tie_points(product.gcps, product.incidence_deg, product.path)
    assert len(flat) == 210 and flat_incidence == product.incidence_deg and reference == pytest.approx(heights.mean())
    moved = np.hypot(np.radians([f.x - g.x for f, g in zip(flat, product.gcps)]) * 6378137 * np.cos(np.radians(46.5)),
                     np.radians([f.y - g.y for f, g in zip(flat, product.gcps)]) * 6378137)
    expected = np.abs(heights - reference) / np.tan(np.radians(incidence))
    np.testing.assert_allclose(moved, expected, rtol=0.02, atol=1.0)
    assert expected.max() > 2000
    # and what is left is smooth geometry: a cubic surface in (line, pixel) fits the flattened points to 48 m RMS,
    # the points as given to 503 m (their relief); measured when written
    assert cubic_residual_m(flat) < 0.15 * cubic_residual_m(product.gcps)
    # the whole footprint in its UTM zone: 258 km of ground range by 167 km of azimuth (16,685 lines of 10 m),
    # turned about 9 degrees by the track at 47 N: a bounding box of about 280 x 205 km (measured: 27,936 x 20,635 px)
    grid = utm_grid(product)
    assert grid.crs.to_epsg() == 32632  # 8.8-12.4 E
    assert 27_000 < grid.width < 29_000 and 19_800 < grid.height < 21_500, (grid.width, grid.height)


def cubic_residual_m(points) -> float:
    """RMS distance (m) between tie points and the best cubic surface through them in (line, pixel)."""
    r = np.array([g.row for g in points]) / 16685
    c = np.array([g.col for g in points]) / 25788
    terms = np.stack([np.ones_like(r), r, c, r * r, r * c, c * c, r**3, r * r * c, r * c * c, c**3], axis=1)
    squared = 0.0
    for values, metres in ((np.array([g.x for g in points]), np.radians(1.0) * 6378137 * np.cos(np.radians(46.5))),
                           (np.array([g.y for g in points]), np.radians(1.0) * 6378137)):
        coefficients, *_ = np.linalg.lstsq(terms, values, rcond=None)
        squared += float(np.mean(((terms @ coefficients - values) * metres) ** 2))
    return float(np.sqrt(squared))


def _vectors(root: ET.Element, vector: str, value: str) -> list[tuple[float, np.ndarray, np.ndarray]]:
    return [(float(v.findtext("line")), np.array(v.findtext("pixel").split(), float), np.array(v.findtext(value).split(), float))
            for v in root.iter(vector)]


def test_genuine_calibration_and_noise_tables(tmp_path: Path) -> None:
    """ESA's tables as written: 30 sigmaNought vectors of 542 pixels, 10 range noise vectors, one azimuth
    noise block of 1359 lines; sigma0 at a pixel between their grid points as ESA's formula gives it by hand."""
    files = {name: gzip.decompress(path.read_bytes()) for name, path in
             (("cal.xml", next(SLC_TABLES.glob("calibration-*.xml.gz"))), ("noise.xml", next(SLC_TABLES.glob("noise-*.xml.gz"))))}
    product = dataclasses.replace(
        read_s1_product(genuine_grd(tmp_path)), size=(13509, 21632),  # IW1's image, as its noise table's last line and sample say
        polarisations={"VV": Polarisation("VV", "", "annotation.xml", "cal.xml", "noise.xml")}, read_bytes=files.__getitem__)
    calibration = read_calibration(product, "VV")
    assert calibration.sigma.lines.size == 30 and {p.size for p in calibration.sigma.pixels} == {542}
    assert calibration.has_noise and calibration.noise_range.lines.size == 10
    (block,) = calibration.noise_azimuth
    assert (block.first_line, block.last_line, block.first_sample, block.last_sample) == (0, 13508, 0, 21631)
    assert block.lines.size == block.lut.size == 1359
    # one pixel, by hand: sigma0 = (DN^2 - N_range * N_azimuth) / A^2, each table bilinear between its points
    row, col, dn = 2000, 5020, 180
    sigma_vectors = _vectors(ET.fromstring(files["cal.xml"]), "calibrationVector", "sigmaNought")
    below = max(i for i, (line, _, _) in enumerate(sigma_vectors) if line <= row)
    (l0, p0, a0), (l1, p1, a1) = sigma_vectors[below], sigma_vectors[below + 1]
    fy = (row - l0) / (l1 - l0)
    lut = (1 - fy) * np.interp(col, p0, a0) + fy * np.interp(col, p1, a1)
    noise_root = ET.fromstring(files["noise.xml"])
    ranges = _vectors(noise_root, "noiseRangeVector", "noiseRangeLut")
    below = max(i for i, (line, _, _) in enumerate(ranges) if line <= row)
    (n0, q0, v0), (n1, q1, v1) = ranges[below], ranges[below + 1]
    ty = (row - n0) / (n1 - n0)
    range_noise = (1 - ty) * np.interp(col, q0, v0) + ty * np.interp(col, q1, v1)
    azimuth_block = next(noise_root.iter("noiseAzimuthVector"))
    azimuth = np.interp(row, np.array(azimuth_block.findtext("line").split(), float),
                        np.array(azimuth_block.findtext("noiseAzimuthLut").split(), float))
    expected = (dn**2 - range_noise * azimuth) / lut**2
    got = calibration.sigma0(np.full((1, 1), dn, np.uint16), row, col)[0, 0]
    assert got == pytest.approx(expected, rel=1e-5)
    assert 300 < lut < 340 and 250 < range_noise < 600  # the magnitudes of IW1's tables
    assert -20 < 10 * np.log10(got) < -5  # DN 180 is ordinary land backscatter there
