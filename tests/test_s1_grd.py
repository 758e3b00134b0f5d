"""Sentinel-1 GRD products (folder and zip) to sigma0 dB on a map grid, on genuine Sentinel-1 backscatter.

The product in tests/data/real-scenes/s1-grd/ is built by make_s1_grd.py beside it: SSL4EO-S12's
genuine VV, VH (sigma0 dB from Earth Engine) put into the radar geometry of a descending pass and
written as amplitude DN with the product's own calibration and noise tables. So `prepare-s1`
must give back the genuine backscatter on its genuine grid, and every table, the geolocation
grid's pixel convention and the east-west mirror of a descending pass show in the comparison.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.cli import main
from sarclear.errors import RasterError
from sarclear.io.cog import cog_problems
from sarclear.io.s1_geocode import geocode_s1, grid_of
from sarclear.io.s1_grd import is_s1_product, read_calibration, read_s1_product
from sarclear.predict.scene import inspect_scene
from tests.helpers import s1_grd_builder

REAL = Path(__file__).parent / "data" / "real-scenes"
NAME = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
PRODUCT = REAL / "s1-grd" / f"{NAME}.SAFE"
GENUINE_S1 = REAL / "ssl4eo-s12" / "s1" / "0000200" / NAME  # the same backscatter, as SSL4EO-S12 ships it
L1C = REAL / "ssl4eo-s12" / "s2c" / "0000200" / "20200823T054639_20200823T055618_T43RCP"
STEM = "s1a-iw-grd-{pol}-20200607t010800-20200607t010825-032904-03cfba-001"


def genuine(pol: str) -> np.ndarray:
    with rasterio.open(GENUINE_S1 / f"{pol}.tif") as src:
        return src.read(1)


def prepared(tmp_path: Path, source: Path = PRODUCT, **kwargs: bool) -> np.ndarray:
    """The product on SSL4EO-S12's own S1 grid, (2, H, W) dB."""
    out = tmp_path / "s1.tif"
    geocode_s1(read_s1_product(source), grid_of(GENUINE_S1 / "VV.tif"), out, **kwargs)
    with rasterio.open(out) as src:
        return src.read()


def copy_product(tmp_path: Path) -> Path:
    return Path(shutil.copytree(PRODUCT, tmp_path / PRODUCT.name))


def zip_product(folder: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                archive.write(item, f"{folder.name}/{item.relative_to(folder).as_posix()}")
    return zip_path


def test_product_header_files_and_tie_points() -> None:
    product = read_s1_product(PRODUCT)
    assert is_s1_product(PRODUCT) and is_s1_product(PRODUCT / "manifest.safe")
    assert (product.name, product.mission, product.mode, product.product_type) == (NAME, "S1A", "IW", "GRD")
    assert product.pass_direction == "Descending" and product.size == (330, 330)
    assert sorted(product.polarisations) == ["VH", "VV"]
    assert product.polarisations["VH"].image.endswith(f"measurement/{STEM.format(pol='vh')}.tiff")
    # 11 x 6 tie points; annotation (0, 0) is the first pixel's centre, GDAL's (0.5, 0.5)
    assert len(product.gcps) == 66
    assert (product.gcps[0].row, product.gcps[0].col) == (0.5, 0.5)
    assert (product.gcps[-1].row, product.gcps[-1].col) == (329.5, 329.5)


def _vectors(xml: Path, vector: str, value: str) -> list[tuple[float, np.ndarray, np.ndarray]]:
    root = ET.parse(xml).getroot()
    return [(float(v.findtext("line")), np.array(v.findtext("pixel").split(), float), np.array(v.findtext(value).split(), float))
            for v in root.iter(vector)]


def test_sigma0_is_dn_squared_minus_noise_over_the_lut_squared() -> None:
    """At one pixel between the tables' grid points, by the formula of ESA's technical notes, by hand."""
    product = read_s1_product(PRODUCT)
    calibration = read_calibration(product, "VH")
    row, col = 100, 60  # between calibration lines 80 and 190, pixels 40 and 80
    (l0, p, a0), (l1, _, a1) = _vectors(PRODUCT / "annotation/calibration" / f"calibration-{STEM.format(pol='vh')}.xml",
                                        "calibrationVector", "sigmaNought")[1:3]
    i = int(np.searchsorted(p, col)) - 1
    fx, fy = (col - p[i]) / (p[i + 1] - p[i]), (row - l0) / (l1 - l0)
    lut = (1 - fy) * ((1 - fx) * a0[i] + fx * a0[i + 1]) + fy * ((1 - fx) * a1[i] + fx * a1[i + 1])
    ranges = _vectors(PRODUCT / "annotation/calibration" / f"noise-{STEM.format(pol='vh')}.xml", "noiseRangeVector", "noiseRangeLut")
    (n0, q0, v0), (n1, q1, v1) = ranges[0], ranges[1]  # lines -50 and 120
    ty = (row - n0) / (n1 - n0)
    range_noise = (1 - ty) * np.interp(col, q0, v0) + ty * np.interp(col, q1, v1)
    noise_root = ET.parse(PRODUCT / "annotation/calibration" / f"noise-{STEM.format(pol='vh')}.xml").getroot()
    block = next(noise_root.iter("noiseAzimuthVector"))  # IW1: samples 0 ... 164
    azimuth = np.interp(row, np.array(block.findtext("line").split(), float), np.array(block.findtext("noiseAzimuthLut").split(), float))
    with rasterio.open(product.polarisations["VH"].image) as src:
        dn = src.read(1)
    expected = (float(dn[row, col]) ** 2 - range_noise * azimuth) / lut**2
    got = calibration.sigma0(dn[row:row + 1, col:col + 1], row, col)[0, 0]
    assert got == pytest.approx(expected, rel=1e-5)
    # the same pixel read as part of a larger window: tables are placed by absolute line and pixel
    assert calibration.sigma0(dn[90:120, 50:80], 90, 50)[10, 10] == pytest.approx(expected, rel=1e-5)
    assert np.isnan(calibration.sigma0(np.zeros((2, 2), np.uint16), 0, 0)).all()  # DN 0 is the product's fill


def test_genuine_backscatter_comes_back_on_its_grid(tmp_path: Path) -> None:
    """Calibration, noise removal and placement undo the product's making: the genuine dB, unshifted.

    Measured when written, on this crop: VV MAE 0.49 dB, correlation 0.973; VH 0.69 dB, 0.968 (two
    bilinear resamplings of speckle). On the whole 264 px scene, with the tie points half a pixel
    off: correlation 0.90; one line off: 0.84.
    """
    out = prepared(tmp_path)
    for band, pol in enumerate(("VV", "VH")):
        ref, got = genuine(pol), out[band]
        ok = np.isfinite(got)
        assert ok.mean() > 0.99
        diff = got[ok] - ref[ok]
        assert abs(float(np.median(diff))) < 0.2, pol
        assert float(np.abs(diff).mean()) < (0.6 if pol == "VV" else 0.8), pol
        inner = (slice(6, -6), slice(6, -6))
        scores = {}
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = np.roll(ref, (dy, dx), axis=(0, 1))[inner]
                keep = np.isfinite(got[inner])
                scores[(dy, dx)] = np.corrcoef(got[inner][keep], shifted[keep])[0, 1]
        assert max(scores, key=scores.get) == (0, 0), (pol, scores)
        assert scores[(0, 0)] > 0.95, pol


def test_keeping_the_noise_raises_the_weak_vh(tmp_path: Path) -> None:
    removed = prepared(tmp_path)
    kept = prepared(tmp_path / "kept", remove_noise=False)
    ok = np.isfinite(removed[1]) & np.isfinite(kept[1])
    assert float(np.median(kept[1][ok] - removed[1][ok])) > 0.1  # VH: noise is a larger share of its power
    assert np.all(kept[1][ok] >= removed[1][ok] - 1e-4)  # pixel by pixel: less is subtracted


def test_zip_as_downloaded_reads_like_the_folder(tmp_path: Path) -> None:
    archive = zip_product(PRODUCT, tmp_path / f"{NAME}.zip")
    assert is_s1_product(archive)
    product = read_s1_product(archive)
    assert product.polarisations["VV"].image.startswith(f"/vsizip/{archive}/{NAME}.SAFE/measurement/")
    np.testing.assert_array_equal(prepared(tmp_path / "zip", archive), prepared(tmp_path / "folder"))


def test_cli_writes_a_cog_on_the_s2_grid_that_predict_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s1.tif"
    assert main(["prepare-s1", str(PRODUCT), "--like", str(L1C), "--out", str(out), "--quiet"]) == 0
    assert "100.0% covered" in capsys.readouterr().out
    s2 = grid_of(L1C)
    with rasterio.open(out) as src:
        assert (src.crs, src.transform, src.width, src.height) == (s2.crs, s2.transform, s2.width, s2.height)
        assert src.descriptions == ("VV", "VH") and src.dtypes == ("float32", "float32") and np.isnan(src.nodata)
        tags = src.tags()
        values = src.read()
    assert tags["SARCLEAR_S1_SOURCE"] == NAME and tags["SARCLEAR_S1_TERRAIN_CORRECTION"].startswith("none")
    assert tags["SARCLEAR_S1_THERMAL_NOISE"].startswith("removed")
    assert cog_problems(out) == []
    assert -30 < float(np.nanmedian(values[1])) < float(np.nanmedian(values[0])) < 0  # VH below VV, in dB
    scene = inspect_scene(L1C, out, use_sar=True, bands="rgb")
    assert scene.s1_warp is False  # already on the S2 grid


def test_without_like_the_whole_footprint_in_its_utm_zone(tmp_path: Path) -> None:
    out = tmp_path / "s1.tif"
    assert main(["prepare-s1", str(PRODUCT), "--out", str(out), "--quiet"]) == 0
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32643 and src.res == (10.0, 10.0)  # 73.3 E: UTM zone 43 N


def test_a_grd_product_given_as_s1_says_to_prepare_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for given in (PRODUCT, zip_product(PRODUCT, tmp_path / "download.zip")):
        assert main(["adapt", "--s1", str(given), "--s2", str(L1C), "--out", str(tmp_path / "x.tif")]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert str(given) in err and "sarclear prepare-s1" in err
    assert not (tmp_path / "x.tif").exists()


def test_broken_products_are_refused_in_one_line(tmp_path: Path) -> None:
    no_vh = copy_product(tmp_path / "a")
    (no_vh / "measurement" / f"{STEM.format(pol='vh')}.tiff").unlink()
    with pytest.raises(RasterError, match="holds VV but no VH; sarclear's models use VV and VH"):
        read_s1_product(no_vh)
    no_cal = copy_product(tmp_path / "b")
    (no_cal / "annotation" / "calibration" / f"calibration-{STEM.format(pol='vv')}.xml").unlink()
    with pytest.raises(RasterError, match="is incomplete: annotation/calibration/calibration-s1a-iw-grd-vv"):
        read_s1_product(no_cal)
    slc = copy_product(tmp_path / "c")
    for image in (slc / "measurement").iterdir():
        image.rename(image.with_name(image.name.replace("-grd-", "-slc-")))
    with pytest.raises(RasterError, match="is a Sentinel-1 SLC product; sarclear reads Level-1 GRD"):
        read_s1_product(slc)
    cut = tmp_path / f"{NAME}.zip"
    cut.write_bytes(zip_product(PRODUCT, tmp_path / "whole.zip").read_bytes()[:5000])
    with pytest.raises(RasterError, match="not a readable zip archive"):
        read_s1_product(cut)


def test_a_scene_elsewhere_leaves_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere.tif"
    profile = {"driver": "GTiff", "width": 16, "height": 16, "count": 1, "dtype": "uint16", "crs": "EPSG:32631",
               "transform": rasterio.Affine(10, 0, 500000, 0, -10, 5000000)}
    with rasterio.open(elsewhere, "w", **profile) as dst:
        dst.write(np.ones((1, 16, 16), np.uint16))
    out = tmp_path / "s1.tif"
    assert main(["prepare-s1", str(PRODUCT), "--like", str(elsewhere), "--out", str(out), "--quiet"]) == 2
    assert "does not cover any pixel" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [elsewhere]


def _edit_noise(product: Path, edit) -> None:
    for xml in (product / "annotation" / "calibration").glob("noise-*.xml"):
        xml.write_text(edit(xml.read_text()))


def test_noise_tables_of_older_products_and_none(tmp_path: Path) -> None:
    """Before IPF 2.90 the range table is `noiseVector` / `noiseLut` and there is no azimuth table;
    a product without noise files is read as it is, and its tags say the noise stayed."""
    removed = prepared(tmp_path / "now")
    kept = prepared(tmp_path / "kept", remove_noise=False)
    old = copy_product(tmp_path / "old")
    _edit_noise(old, lambda text: text.split("<noiseAzimuthVectorList")[0].replace("noiseRange", "noise").replace("</noise>", "") + "</noise>")
    older = prepared(tmp_path / "older", old)
    ok = np.isfinite(removed[1])
    assert 0.0 < float(np.abs(older[1][ok] - removed[1][ok]).mean()) < 0.1  # only the azimuth factor (1 +- 0.08) is missing
    assert float(np.median(kept[1][ok] - older[1][ok])) > 0.1
    none = copy_product(tmp_path / "none")
    for xml in (none / "annotation" / "calibration").glob("noise-*.xml"):
        xml.unlink()
    np.testing.assert_array_equal(prepared(tmp_path / "none_out", none), kept)
    with rasterio.open(tmp_path / "none_out" / "s1.tif") as src:
        assert src.tags()["SARCLEAR_S1_THERMAL_NOISE"] == "not removed: the product has no noise table"


def test_an_azimuth_block_with_more_lines_than_values(tmp_path: Path) -> None:
    """Seen in genuine GRDs: the pairs that exist are used, a single value holds for the whole block."""
    odd = copy_product(tmp_path / "odd")
    _edit_noise(odd, lambda text: re.sub(r'<noiseAzimuthLut count="12">[^<]*</noiseAzimuthLut>',
                                         '<noiseAzimuthLut count="1">1.000000e+00</noiseAzimuthLut>', text, count=1))
    calibration = read_calibration(read_s1_product(odd), "VV")
    assert calibration.noise_azimuth[0].lut.size == 1 and calibration.noise_azimuth[0].lines.size == 12
    factor = calibration.noise_azimuth[0].at(np.array([0.0, 100.0, 300.0]))
    np.testing.assert_array_equal(factor, [1.0, 1.0, 1.0])
    assert np.isfinite(prepared(tmp_path, odd)).mean() > 0.99


def test_a_scene_across_two_slices_of_one_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Sentinel-2 tile often straddles two consecutive GRD slices: both go in, the seam does not show."""
    builder = s1_grd_builder()
    db, transform, (lon, lat) = builder.read_map(GENUINE_S1)
    whole_pass = builder.Geometry(lon, lat, builder.Layout(170, 170))
    whole = builder.write_from_map(tmp_path / "whole" / "S1A_WHOLE.SAFE", db, transform, whole_pass)
    first = builder.write_from_map(tmp_path / "a" / "S1A_FIRST.SAFE", db, transform, whole_pass.slice(0, 95))
    second = builder.write_from_map(tmp_path / "b" / "S1A_SECOND.SAFE", db, transform, whole_pass.slice(80, 90))
    grid = grid_of(GENUINE_S1 / "VV.tif")

    def run(*products: Path) -> np.ndarray:
        out = tmp_path / f"{'_'.join(p.stem for p in products)}.tif"
        assert main(["prepare-s1", *map(str, products), "--like", str(GENUINE_S1 / "VV.tif"), "--out", str(out), "--quiet"]) == 0
        with rasterio.open(out) as src:
            assert (src.width, src.height) == (grid.width, grid.height)
            return src.read()

    reference, alone = run(whole), run(first)
    both = run(second, first)  # any order: slices are taken in time order
    assert "S1A_FIRST + S1A_SECOND" in capsys.readouterr().out
    covered = lambda image: float(np.isfinite(image[0]).mean())  # noqa: E731
    assert covered(alone) < 0.8 and covered(both) == covered(reference) > 0.95  # the crop's own edge is lost to resampling
    ok = np.isfinite(reference) & np.isfinite(both)
    truth = np.stack([genuine("VV"), genuine("VH")])
    error = {name: float(np.abs(image[ok] - truth[ok]).mean()) for name, image in (("whole", reference), ("slices", both))}
    assert error["slices"] < error["whole"] + 0.02, error  # dB against the genuine map: two slices are as good as one product
    assert float(np.median(np.abs(both[ok] - reference[ok]))) < 0.05  # (DN rounding differs between products)
    other = Path(shutil.copytree(second, tmp_path / "c" / second.name))
    for xml in (other / "annotation").glob("*.xml"):
        xml.write_text(xml.read_text().replace("<missionDataTakeId>249786</missionDataTakeId>", "<missionDataTakeId>1</missionDataTakeId>"))
    assert main(["prepare-s1", str(first), str(other), "--like", str(GENUINE_S1 / "VV.tif"), "--out", str(tmp_path / "x.tif")]) == 2
    assert "is another acquisition than S1A_FIRST.SAFE" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_prepare_s1_never_writes_into_its_product(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out` onto the product's own VV measurement replaced it with the geocoded output, exit 0
    (found by a review run): now refused before any work, as anything inside the SAFE is."""
    product = Path(shutil.copytree(PRODUCT, tmp_path / PRODUCT.name))
    vv = product / "measurement" / f"{STEM.format(pol='vv')}.tiff"
    before = vv.read_bytes()
    for out in (vv, product / "s1.tif"):
        assert main(["prepare-s1", str(product), "--like", str(L1C), "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"sarclear: error: {out}: ") and ("overwrite an input file" in err or "part of the input product" in err)
    assert vv.read_bytes() == before and not (product / "s1.tif").exists()
