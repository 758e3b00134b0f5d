"""Border noise of Sentinel-1 GRD products processed before IPF 2.90 (2018): found, masked, said.

Products are built by tests/data/real-scenes/make_s1_grd.py from SSL4EO-S12's genuine backscatter
(the 1 km crop in tests/data), 80 x 80 radar pixels so that the genuine data reaches every edge of
the image, with the noisy strips of a pre-2018 product (`BorderNoise`: widths wandering along
each edge, DN at the thermal noise level; 6-18 px here, tens to hundreds in genuine products) and a manifest naming the processor version, as genuine manifests do. No genuine
pre-2018 product is available here; the processor version is read from a genuine manifest.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.cli import main
from sarclear.io.s1_border import find_border, first_data, has_border_noise
from sarclear.io.s1_geocode import geocode_s1, grid_of
from sarclear.io.s1_grd import ipf_version, read_calibration, read_s1_product
from tests.helpers import s1_grd_builder

REAL = Path(__file__).parent / "data" / "real-scenes"
NAME = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
GENUINE_S1 = REAL / "ssl4eo-s12" / "s1" / "0000200" / NAME
GENUINE_MANIFEST = (REAL / "s1-genuine-xml" / "S1B_IW_GRDH_1SDV_20210401T052623_20210401T052648_026269_032297_ECC8.SAFE"
                    / "manifest.safe.gz")
SIZE = 80
#: the strips, scaled to the small image
STRIPS = {"near_px": 12, "far_px": 10, "top_px": 6, "bottom_px": 0}


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same genuine backscatter as four products: clean or with border noise, processed in 2017 or 2021."""
    builder = s1_grd_builder()
    db, transform, (lon, lat) = builder.read_map(GENUINE_S1)
    geometry = builder.Geometry(lon, lat, builder.Layout(SIZE, SIZE))
    root = tmp_path_factory.mktemp("border")
    made = {}
    for name, border, ipf in (("clean", None, "002.72"), ("noisy", builder.BorderNoise(**STRIPS), "002.72"),
                              ("noisy-2021", builder.BorderNoise(**STRIPS), "003.31"), ("noisy-unknown", builder.BorderNoise(**STRIPS), None)):
        made[name] = builder.write_from_map(root / name / f"{NAME}.SAFE", db, transform, geometry, border=border, ipf=ipf)
    return made


def truth_mask() -> np.ndarray:
    builder = s1_grd_builder()
    return builder.BorderNoise(**STRIPS).mask(builder.Layout(SIZE, SIZE), np.arange(SIZE))


def prepared(product: Path, out: Path, **kwargs: str) -> tuple[dict, np.ndarray]:
    result = geocode_s1(read_s1_product(product), grid_of(GENUINE_S1 / "VV.tif"), out, **kwargs)
    with rasterio.open(out) as src:
        return result, src.read()


def test_processor_version_read_from_a_genuine_manifest() -> None:
    assert ipf_version(gzip.decompress(GENUINE_MANIFEST.read_bytes())) == pytest.approx(3.31)
    assert not has_border_noise(3.31) and not has_border_noise(2.90) and has_border_noise(2.84)
    assert not has_border_noise(None)  # a manifest that does not say: not assumed
    assert ipf_version(b"<not xml") is None and ipf_version(b"<xfdu/>") is None


def test_version_read_from_folder_and_zip(products: dict[str, Path], tmp_path: Path) -> None:
    assert read_s1_product(products["noisy"]).ipf_version == pytest.approx(2.72)
    assert read_s1_product(products["noisy-unknown"]).ipf_version is None
    folder = products["noisy"]
    archive = tmp_path / f"{NAME}.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                out.write(item, f"{folder.name}/{item.relative_to(folder).as_posix()}")
    assert read_s1_product(archive).ipf_version == pytest.approx(2.72)


def test_first_data_walks_from_the_edge() -> None:
    signal = np.array([[False, False, True, False, True], [False] * 5, [True, False, False, False, False]])
    assert first_data(signal).tolist() == [2, 5, 0]


def test_walk_finds_every_strip_pixel_and_no_other(products: dict[str, Path]) -> None:
    product = read_s1_product(products["noisy"])
    calibration = read_calibration(product, "VV")
    with rasterio.open(product.polarisations["VV"].image) as vv:
        mask = find_border(lambda window: vv.read(1, window=window), calibration.noise, product.size)
    found, truth = mask.noise(0, 0, SIZE, SIZE), truth_mask()
    assert truth.sum() > 0.25 * truth.size
    assert np.array_equal(found, truth)
    # a window's mask is the same pixels as the whole image's
    assert np.array_equal(mask.noise(17, 50, 40, 30), truth[17:57, 50:80])
    # the widths said to the user: the strips' medians where no other strip crosses them
    middle = slice(25, 55)
    assert mask.widths["near"] == pytest.approx(np.median(truth[middle].argmin(axis=1)), abs=1)
    assert mask.widths["top"] == pytest.approx(np.median(truth[:, middle].argmin(axis=0)), abs=1)
    assert mask.widths["bottom"] == 0


def test_prepare_s1_masks_the_border_noise_of_a_2017_product(products: dict[str, Path], tmp_path: Path) -> None:
    _, clean = prepared(products["clean"], tmp_path / "clean.tif")
    kept_result, kept = prepared(products["noisy"], tmp_path / "kept.tif", border_noise="keep")
    result, masked = prepared(products["noisy"], tmp_path / "masked.tif")
    assert result["border"].startswith("border noise masked (processed before IPF 2.90: IPF 2.72;")
    assert kept_result["border"].startswith("border noise not looked for (--border-noise keep")
    touched = ~np.isclose(kept, clean, atol=1e-3, equal_nan=True).all(axis=0)  # output pixels the strips reach
    assert touched.sum() > 500
    # kept, the strips are a dark stripe where the ground is -9.5 dB: what a model takes for water
    assert np.nanmedian(kept[0][touched]) < -30 and np.nanmedian(clean[0][touched]) > -12
    # masked: no data there (most of those pixels), the rest from the data pixels beside the strip only
    assert np.isnan(masked[0][touched]).mean() > 0.9
    edge = touched & np.isfinite(masked).all(axis=0)
    off_masked = np.median(np.abs(masked[:, edge] - clean[:, edge]))
    off_kept = np.nanmedian(np.abs(kept[:, edge] - clean[:, edge]))
    assert off_masked < 0.3 and off_masked < off_kept / 5  # measured: 0.14 dB against 1.16 dB kept
    # everywhere else the output is the clean product's, pixel for pixel
    elsewhere = np.isfinite(clean).all(axis=0) & ~touched
    np.testing.assert_allclose(masked[:, elsewhere], clean[:, elsewhere], atol=1e-4)
    with rasterio.open(tmp_path / "masked.tif") as src:
        assert src.tags()["SARCLEAR_S1_BORDER_NOISE"] == result["border"]


def test_later_products_are_left_as_they_are(products: dict[str, Path], tmp_path: Path) -> None:
    # IPF 2.90 and later blank the strips themselves: auto does not look (here a product that kept them anyway)
    result, auto = prepared(products["noisy-2021"], tmp_path / "auto.tif")
    _, kept = prepared(products["noisy-2021"], tmp_path / "kept.tif", border_noise="keep")
    assert result["border"] == "border noise blanked by ESA's processor (IPF 3.31)"
    np.testing.assert_array_equal(auto, kept)
    # a manifest that does not say: not looked for, and the user is told how
    unknown, _ = prepared(products["noisy-unknown"], tmp_path / "unknown.tif")
    assert "IPF version not in manifest.safe; --border-noise remove" in unknown["border"]
    # remove on a product without border noise costs no ground: its edge pixels are data
    _, clean = prepared(products["clean"], tmp_path / "clean.tif", border_noise="keep")
    forced_result, forced = prepared(products["clean"], tmp_path / "forced.tif", border_noise="remove")
    assert forced_result["border"].startswith("border noise masked (--border-noise remove; 0 / 0 px")
    np.testing.assert_array_equal(forced, clean)


def test_a_dark_lake_at_the_edge_is_kept(tmp_path: Path) -> None:
    """Calm water at the edge, 5 dB below the noise floor: speckled, so a pixel above the noise soon ends the walk.

    The builder's VV noise floor is about -32 dB (a genuine product's, -22 to -25 dB, is higher, and
    its water darker by as much). Measured with this test's product: water 5 dB below the floor
    loses no pixel, 8 dB below 0.2 %, 13 dB below 6 % (the walk then runs into the water).
    """
    builder = s1_grd_builder()
    geometry = builder.Geometry(77.0, 28.0, builder.Layout(SIZE, SIZE))
    rng = np.random.default_rng(3)
    mean = {"vv": 10 ** -3.7, "vh": 10 ** -4.0}  # -37 / -40 dB

    def lake(pol: str, rows: np.ndarray) -> np.ndarray:
        return mean[pol] * rng.gamma(4.4, 1 / 4.4, size=(rows.size, SIZE))  # GRDH's equivalent number of looks

    safe = builder.write_product(tmp_path / f"{NAME}.SAFE", geometry, lake, border=builder.BorderNoise(**STRIPS), ipf="002.72")
    product = read_s1_product(safe)
    with rasterio.open(product.polarisations["VV"].image) as vv:
        mask = find_border(lambda window: vv.read(1, window=window), read_calibration(product, "VV").noise, product.size)
    found, truth = mask.noise(0, 0, SIZE, SIZE), truth_mask()
    assert not (truth & ~found).any()
    assert (found & ~truth).sum() / (~truth).sum() < 0.001  # water taken for border noise


def test_prepare_s1_says_what_it_did(products: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s1.tif"
    assert main(["prepare-s1", str(products["noisy"]), "--like", str(GENUINE_S1 / "VV.tif"), "--out", str(out), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "border noise masked (processed before IPF 2.90: IPF 2.72;" in said and "px wide at near / far range" in said
    assert main(["prepare-s1", str(products["noisy"]), "--like", str(GENUINE_S1 / "VV.tif"), "--out", str(out), "--quiet",
                 "--border-noise", "keep"]) == 0
    assert "border noise not looked for (--border-noise keep; IPF 2.72)" in capsys.readouterr().out
