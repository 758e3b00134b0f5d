"""Genuine Sentinel inputs in the formats users download go into `predict` as they are.

Crops of SSL4EO-S12 (per-band L1C / L2A in EPSG:4326, S1 VV.tif / VH.tif), Major-TOM (per-band L2A,
processing baseline N0400, +1000 DN) and BigEarthNet (its archive layout) live in
tests/data/real-scenes/ (see SOURCE.md there). An identity model (it returns its cloudy RGB input)
makes the expected output exact: the observed B4, B3, B2 on the 10 m grid, offset removed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.warp import Resampling, reproject
from torch import nn

from sarclear.cli import main
from sarclear.data.clouds import dilate
from sarclear.io.geotiff import raster_info
from sarclear.io.sources import describe_s2
from sarclear.models.checkpoint import save_generator
from sarclear.models.spec import ModelSpec
from sarclear.predict import predict_with_engine
from sarclear.predict.composite import FEATHER_PX
from sarclear.predict.engine import TorchEngine
from tests.helpers import s1_cut_short

DATA = Path(__file__).parent / "data" / "real-scenes"
SSL4EO_L1C = DATA / "ssl4eo-s12/s2c/0000200/20200823T054639_20200823T055618_T43RCP"
SSL4EO_L2A = DATA / "ssl4eo-s12/s2a/0000200/20200813T054639_20200813T054952_T43RCP"
SSL4EO_S1 = DATA / "ssl4eo-s12/s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
MAJOR_TOM = DATA / "major-tom-l2a/0U/0U_199R/S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419"
#: Named N9999 (a 2023 reprocessing, which carries +1000 DN), but its pixels do not: B2's median is 483 DN.
MAJOR_TOM_N9999 = DATA / "major-tom-l2a/199U/199U_1099R/S2B_MSIL2A_20200223T032739_N9999_R018_T48QUE_20230924T183543"
BEN_S1 = DATA / "bigearthnet-v1/BigEarthNet-S1-Example/S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"
BEN_S2 = DATA / "bigearthnet-v1/BigEarthNet-S2-Example/S2A_MSIL2A_20170613T101031_87_48"
BEN_SNOW = DATA / "bigearthnet-v1/BigEarthNet-S2-Example/S2B_MSIL2A_20180204T94161_57_38"  # snow: bright, no offset
L2A_SAFE = DATA / "safe" / "S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419.SAFE"
SPEC = ModelSpec(ngf=4, n_down=5, tile_size=32)
OPTICAL_SPEC = ModelSpec(in_channels=3, ngf=4, n_down=5, tile_size=32, use_sar=False)


class CloudyRGB(nn.Module):
    """Returns the cloudy R, G, B channels: the last three input channels, with or without SAR."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -3:]


def predict_identity(s1: Path | list[Path] | None, s2: Path, out: Path, spec: ModelSpec = SPEC, **kwargs: object) -> list[str]:
    lines: list[str] = []
    predict_with_engine(TorchEngine(CloudyRGB(), "cpu", "fp32"), spec, s1, s2, out, progress=False, log=lines.append, **kwargs)
    return lines


def band(folder: Path, name: str) -> tuple[np.ndarray, rasterio.Affine, rasterio.crs.CRS]:
    path = next(p for p in folder.glob("*.tif") if p.stem.upper().endswith(name.upper()))
    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.crs


def read_out(path: Path) -> tuple[np.ndarray, rasterio.Affine, rasterio.crs.CRS, dict[str, str]]:
    with rasterio.open(path) as src:
        return src.read(), src.transform, src.crs, src.tags()


@pytest.mark.parametrize(
    ("folder", "count", "level", "offset"),
    [(SSL4EO_L1C, 13, "L1C", 0.0), (SSL4EO_L2A, 12, "L2A", 0.0), (MAJOR_TOM, 12, "L2A", 1000.0), (BEN_S2, 12, "L2A", 0.0)],
)
def test_a_per_band_folder_is_one_raster_on_its_10m_grid_with_level_and_offset(folder: Path, count: int, level: str, offset: float) -> None:
    info = raster_info(folder)
    b4, transform, crs = band(folder, "B04" if folder != SSL4EO_L1C and folder != SSL4EO_L2A else "B4")
    assert info.count == count and info.shape == b4.shape
    assert info.transform.almost_equals(transform) and info.crs == crs
    assert info.descriptions[:4] == ("B1", "B2", "B3", "B4") and ("B10" in info.descriptions) == (count == 13)
    _, radiometry = describe_s2(folder)
    assert (radiometry.level, radiometry.offset) == (level, offset)


def test_20m_and_60m_bands_are_resampled_bilinear_onto_the_10m_grid_despite_subpixel_origins() -> None:
    info = raster_info(SSL4EO_L1C)
    with rasterio.open(info.dataset) as src:
        stacked = src.read(info.descriptions.index("B5") + 1).astype(np.float64)
    b5, b5_transform, crs = band(SSL4EO_L1C, "B5")
    assert (b5_transform.c - info.transform.c) / info.transform.a % 1 != 0  # the 20 m origin sits between 10 m pixels
    expected = np.zeros(info.shape, np.float64)
    reproject(b5.astype(np.float64), expected, src_transform=b5_transform, src_crs=crs, dst_transform=info.transform, dst_crs=crs, resampling=Resampling.bilinear)
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(stacked[inner] - expected[inner]).max() <= 1.0  # rounding to uint16 only


def test_ssl4eo_l1c_folders_predict_onto_the_s2_grid_with_s1_reprojected(tmp_path: Path) -> None:
    out = tmp_path / "clear.tif"
    lines = predict_identity(SSL4EO_S1, SSL4EO_L1C, out)
    rgb, transform, crs, tags = read_out(out)
    info = raster_info(SSL4EO_L1C)
    assert rgb.shape == (3, *info.shape) and transform.almost_equals(info.transform) and crs == info.crs
    b4, _, _ = band(SSL4EO_L1C, "B4")
    assert np.array_equal(rgb[0], b4)  # 10 m bands are copied exactly
    assert tags["SARCLEAR_S2_LEVEL"] == "L1C" and tags["SARCLEAR_S2_OFFSET_REMOVED_DN"] == "0"
    assert any("processing level L1C" in line for line in lines)
    assert any("reprojecting onto the S2 grid" in line for line in lines)


def test_a_composite_keeps_clear_observed_pixels_where_the_s1_scene_stops_short(tmp_path: Path) -> None:
    """The genuine SSL4EO-S12 S1 cut 12 px short of the S2's eastern edge (whole-scene S1 often
    covers ~98 % of an S2 cell): there the model cannot run, yet a clear observed pixel is still the
    answer; it was written as nodata. A cloudy pixel there stays nodata."""
    s1 = s1_cut_short(SSL4EO_S1, tmp_path / "s1", 12)
    info = raster_info(SSL4EO_L1C)
    cloud = np.zeros((1, *info.shape), np.uint8)
    cloud[:, 30:60, -20:] = 1  # a cloud reaching into the strip without S1
    mask = tmp_path / "mask.tif"
    with rasterio.open(mask, "w", driver="GTiff", width=info.width, height=info.height, count=1, dtype="uint8", crs=info.crs,
                       transform=info.transform) as dst:  # fmt: skip
        dst.write(cloud)
    predict_identity(s1, SSL4EO_L1C, tmp_path / "composite.tif", composite=True, mask=mask, write_mask=tmp_path / "used.tif")
    predict_identity(s1, SSL4EO_L1C, tmp_path / "plain.tif")
    rgb, plain = read_out(tmp_path / "composite.tif")[0], read_out(tmp_path / "plain.tif")[0]
    no_s1 = (plain == 0).all(axis=0)  # the model's output: nodata where S1 is missing
    assert no_s1[:, -4:].all() and 0 < no_s1.mean() < 0.2
    clear = cloud[0] == 0  # also in the composite's transition around the cloud: there is no model to blend with
    kept = no_s1 & clear
    assert (kept & dilate(cloud[0] > 0, FEATHER_PX)).any() and np.array_equal(rgb[0][kept], band(SSL4EO_L1C, "B4")[0][kept])
    assert (rgb[:, no_s1 & ~clear] == 0).all()  # under the cloud without S1: nodata, as before
    with rasterio.open(tmp_path / "used.tif") as src:
        used = src.read(1)
    assert np.array_equal(used[no_s1], cloud[0][no_s1])  # the mask describes the S2 there too, not 255 (no data)


def test_bigearthnet_pair_in_its_archive_layout_and_s1_as_two_files_in_any_order(tmp_path: Path) -> None:
    predict_identity(BEN_S1, BEN_S2, tmp_path / "folder.tif")
    pair = sorted(BEN_S1.glob("*_V?.tif"), reverse=True)  # VV after VH: the names decide, not the order
    predict_identity(pair, BEN_S2, tmp_path / "pair.tif")
    a, transform, _, tags = read_out(tmp_path / "folder.tif")
    b, _, _, _ = read_out(tmp_path / "pair.tif")
    assert np.array_equal(a, b) and a.shape == (3, 120, 120)
    assert transform.almost_equals(raster_info(BEN_S2).transform)
    assert tags["SARCLEAR_S2_LEVEL"] == "L2A"
    s1 = raster_info(pair[0].parent)
    assert s1.descriptions == ("VV", "VH")


def test_major_tom_n0400_offset_is_removed_and_stated(tmp_path: Path) -> None:
    out = tmp_path / "clear.tif"
    lines = predict_identity(None, MAJOR_TOM, out, spec=OPTICAL_SPEC)
    rgb, _, _, tags = read_out(out)
    b4, _, _ = band(MAJOR_TOM, "B04")
    assert np.array_equal(rgb[0], np.maximum(b4.astype(np.int32) - 1000, 1))
    assert tags["SARCLEAR_S2_OFFSET_REMOVED_DN"] == "1000" and "N0400" in tags["SARCLEAR_S2_OFFSET_SOURCE"]
    assert any("offset 1000 DN removed" in line and "N0400" in line for line in lines)


@pytest.mark.parametrize(("folder", "low", "high"), [(MAJOR_TOM, 90.0, 100.0), (BEN_SNOW, 0.0, 1.0)])
def test_l2a_cloud_masks_find_genuine_grey_overcast_and_leave_genuine_snow(tmp_path: Path, folder: Path, low: float, high: float) -> None:
    """Two genuine L2A scenes the RGB brightness test got wrong (it found 10.5 % cloud on the whole
    Major-TOM scene, which is overcast, and 63.5 % on BigEarthNet's snowfield, which is clear): the
    spectral test that an L2A product's bands allow gets both right in a composite's mask."""
    out = tmp_path / "clear.tif"
    lines = predict_identity(None, folder, out, spec=OPTICAL_SPEC, composite=True, shadows=False)
    tags = read_out(out)[3]
    assert tags["SARCLEAR_CLOUD_MASK"] == "spectral" and low <= float(tags["SARCLEAR_CLOUD_PCT"]) <= high
    assert any(line.startswith("WARNING: cloud mask: 12 bands named, no B10") for line in lines)


def test_an_offset_the_name_implies_but_the_pixels_lack_is_refused_not_clipped_to_black(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Genuine Major-TOM N9999 cell: removing the 1000 DN its name implies would clip most pixels to
    0 (a black output, exit 0, before this check); refused in one line naming the fix. The fix and
    the user's explicit word are both taken."""
    out = tmp_path / "clear.tif"
    assert main(["adapt", "--s2", str(MAJOR_TOM_N9999), "--fill-only", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"sarclear: error: {MAJOR_TOM_N9999}: ") and not out.exists()
    assert err[0].startswith(f"sarclear: error: {MAJOR_TOM_N9999}: 95% of its sampled pixels are at or below 1000 DN in B4, B3 or B2, ")
    assert "do not carry the 1000 DN offset that processing baseline N9999 in the product name implies" in err[0]
    assert err[0].endswith("give --s2-offset 0, or --s2-offset 1000 to remove it anyway")
    lines = predict_identity(None, MAJOR_TOM_N9999, out, spec=OPTICAL_SPEC, s2_offset=0.0)
    rgb, _, _, tags = read_out(out)
    assert np.array_equal(rgb[0], np.maximum(band(MAJOR_TOM_N9999, "B04")[0], 1)) and tags["SARCLEAR_S2_OFFSET_REMOVED_DN"] == "0"
    assert any("--s2-offset 0 (the product says 1000)" in line for line in lines)
    predict_identity(None, MAJOR_TOM_N9999, tmp_path / "forced.tif", spec=OPTICAL_SPEC, s2_offset=1000.0)  # the user's word
    assert np.median(read_out(tmp_path / "forced.tif")[0]) <= 1


def test_a_genuine_l1c_renamed_to_baseline_04_is_refused_and_with_the_offset_added_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SSL4EO-S12 L1C under a name that says N0400: its blue and green are above 1000 DN
    everywhere (the atmosphere), but its red is not, which the offset would clip to 1 (a review
    run measured 37 % of B4); refused. The same pixels with 1000 DN added, as such a product holds
    them, are accepted."""
    named = tmp_path / "S2A_MSIL1C_20200823T054639_N0400_R048_T43RCP_20200823T080000"
    shutil.copytree(SSL4EO_L1C, named)
    assert main(["adapt", "--s2", str(named), "--fill-only", "--out", str(tmp_path / "x.tif"), "--quiet"]) == 2
    assert "pixels are at or below 1000 DN in B4, B3 or B2" in capsys.readouterr().err
    shifted = _plus_1000(SSL4EO_L1C, tmp_path / "shifted" / named.name)
    assert main(["adapt", "--s2", str(shifted), "--fill-only", "--out", str(tmp_path / "y.tif"), "--quiet"]) == 0


def test_a_bright_scene_without_the_offset_its_name_implies_is_warned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """BigEarthNet's genuine snow patch under a baseline-04.00 name: bright, so only 5 % of its
    pixels are at or below 1000 DN, too few to refuse (water in an L2A that carries the offset can
    do that) but not silently: a warning names --s2-offset 0."""
    named = Path(shutil.copytree(BEN_SNOW, tmp_path / "S2B_MSIL2A_20180204T094161_N0400_R036_T33UVP_20180204T120000"))
    assert main(["adapt", "--s2", str(named), "--fill-only", "--out", str(tmp_path / "x.tif")]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "at or below 1000 DN" in line]
    assert len(warning) == 1 and warning[0].startswith(f"sarclear adapt: WARNING: {named.name}: 5% of its sampled pixels")
    assert warning[0].endswith("pass --s2-offset 0")


def _plus_1000(src_folder: Path, dst_folder: Path) -> Path:
    """The same bands with +1000 DN on every valid pixel, as a baseline-04.00 product would hold them."""
    dst_folder.mkdir(parents=True)
    for path in src_folder.glob("*.tif"):
        with rasterio.open(path) as src:
            data, profile = src.read(), src.profile
        shifted = np.where(data > 0, data.astype(np.int32) + 1000, 0).astype(np.uint16)
        with rasterio.open(dst_folder / path.name, "w", **profile) as dst:
            dst.write(shifted)
    return dst_folder


def test_the_same_scene_with_1000_dn_more_predicts_the_same_from_the_name_or_the_flag(tmp_path: Path) -> None:
    predict_identity(SSL4EO_S1, SSL4EO_L1C, tmp_path / "original.tif")
    named = _plus_1000(SSL4EO_L1C, tmp_path / "S2A_MSIL1C_20220823T054639_N0400_R005_T43RCP_20220823T080000")
    predict_identity(SSL4EO_S1, named, tmp_path / "named.tif")
    plain = _plus_1000(SSL4EO_L1C, tmp_path / "export")
    warned = predict_identity(SSL4EO_S1, plain, tmp_path / "unflagged.tif")
    predict_identity(SSL4EO_S1, plain, tmp_path / "flagged.tif", s2_offset=1000)
    original = read_out(tmp_path / "original.tif")[0]
    assert np.array_equal(read_out(tmp_path / "named.tif")[0], original)
    assert np.array_equal(read_out(tmp_path / "flagged.tif")[0], original)
    assert any("WARNING" in line and "--s2-offset 1000" in line for line in warned)


def test_a_multiband_geotiff_with_the_offset_flag_predicts_like_the_offset_free_one(tmp_path: Path) -> None:
    info = raster_info(SSL4EO_L1C)
    with rasterio.open(info.dataset) as src:
        stack, profile = src.read(), src.profile
    profile.update(driver="GTiff", compress="deflate")
    with rasterio.open(tmp_path / "stack.tif", "w", **profile) as dst:
        dst.write(stack)
    with rasterio.open(tmp_path / "stack_n0400.tif", "w", **profile) as dst:
        dst.write(np.where(stack > 0, stack.astype(np.int32) + 1000, 0).astype(np.uint16))
    predict_identity(SSL4EO_S1, tmp_path / "stack.tif", tmp_path / "a.tif")
    predict_identity(SSL4EO_S1, tmp_path / "stack_n0400.tif", tmp_path / "b.tif", s2_offset=1000)
    assert np.array_equal(read_out(tmp_path / "a.tif")[0], read_out(tmp_path / "b.tif")[0])


def test_an_l1c_model_on_an_l2a_product_and_a_synthetic_model_on_real_data_are_warned(tmp_path: Path) -> None:
    spec = ModelSpec(in_channels=3, ngf=4, n_down=5, tile_size=32, use_sar=False, training_data="synthetic")
    lines = predict_identity(None, SSL4EO_L2A, tmp_path / "out.tif", spec=spec)
    warnings = [line for line in lines if line.startswith("WARNING")]
    assert any("Level-1C" in w and "Level-2A" in w for w in warnings)
    assert any("synthetic" in w and "sarclear adapt" in w for w in warnings)
    lines = predict_identity(None, SSL4EO_L1C, tmp_path / "quiet.tif", spec=OPTICAL_SPEC)
    assert not [line for line in lines if line.startswith("WARNING")]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "generator.safetensors"
    save_generator(path, SPEC.build(), SPEC)
    return path


def test_cli_takes_a_band_folder_and_two_s1_files(tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "clear.tif"
    vv, vh = SSL4EO_S1 / "VV.tif", SSL4EO_S1 / "VH.tif"
    code = main(["predict", "--checkpoint", str(checkpoint), "--s1", str(vh), str(vv), "--s2", str(SSL4EO_L1C), "--out", str(out), "--quiet"])
    assert code == 0 and out.is_file()
    assert raster_info(out).shape == raster_info(SSL4EO_L1C).shape


def test_a_folder_without_band_files_is_one_line_exit_2(tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(MAJOR_TOM / "cloud_mask.tif", empty / "cloud_mask.tif")
    code = main(["predict", "--checkpoint", str(checkpoint), "--s1", str(SSL4EO_S1), "--s2", str(empty), "--out", str(tmp_path / "o.tif"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(empty) in err[0] and "B04.tif" in err[0]
    assert not list(tmp_path.glob("*.tif")) and not list(tmp_path.glob(".*"))


def _l2a_folder_with_scl(tmp_path: Path) -> tuple[Path, np.ndarray, rasterio.Affine]:
    """The genuine SSL4EO-S12 L2A folder with a Scene Classification Layer on its 20 m grid."""
    folder = tmp_path / "s2a" / "0000200" / SSL4EO_L2A.name
    shutil.copytree(SSL4EO_L2A, folder)
    b5, transform, crs = band(SSL4EO_L2A, "B5")
    scl = np.full(b5.shape, 4, np.uint8)  # vegetation
    scl[5:15, 5:15] = 9  # cloud, high probability (the crop's 20 m grid is 50 x 49 px)
    scl[32:42, 4:12] = 10  # thin cirrus
    scl[20:28, 28:38] = 3  # cloud shadow
    with rasterio.open(folder / "SCL.tif", "w", driver="GTiff", width=scl.shape[1], height=scl.shape[0], count=1, dtype="uint8",
                       crs=crs, transform=transform) as dst:  # fmt: skip
        dst.write(scl, 1)
    return folder, scl, transform


def test_an_l2a_products_own_scene_classification_is_the_composite_mask(tmp_path: Path) -> None:
    """L2A has no B10, so s2cloudless cannot run and the fallback brightness test misses haze: the
    product's SCL (8, 9, 10 cloud, 3 shadow) is used instead, brought to 10 m by nearest neighbour."""
    from sarclear.data.clouds import DEFAULT_DILATION_SIZE, dilate
    from sarclear.predict.defaults import SHADOW_DILATION_PX

    folder, scl, transform = _l2a_folder_with_scl(tmp_path)
    info = raster_info(folder)
    expected = np.zeros(info.shape, np.uint8)
    reproject(scl, expected, src_transform=transform, src_crs=info.crs, dst_transform=info.transform, dst_crs=info.crs,
              resampling=Resampling.nearest)  # fmt: skip
    cloud = dilate(np.isin(expected, (8, 9, 10)), DEFAULT_DILATION_SIZE)
    shadow = dilate(expected == 3, SHADOW_DILATION_PX) & ~cloud
    assert 0.05 < cloud.mean() < 0.3 and 0.03 < shadow.mean() < 0.3
    out, mask = tmp_path / "out.tif", tmp_path / "mask.tif"
    lines = predict_identity(SSL4EO_S1, folder, out, composite=True, write_mask=mask)
    assert any("scene classification SCL.tif" in line for line in lines)
    assert any(line.startswith("cloud mask: the product's scene classification (SCL.tif") for line in lines)
    with rasterio.open(mask) as src:
        written = src.read(1)
    assert np.array_equal(written == 1, cloud) and np.array_equal(written == 2, shadow)
    tags = read_out(out)[3]
    assert tags["SARCLEAR_CLOUD_MASK"] == "the product's scene classification (SCL)" and "SARCLEAR_CLOUD_THRESHOLD" not in tags
    assert tags["SARCLEAR_SHADOWS"].startswith("the product's scene classification, class 3")
    lines = predict_identity(SSL4EO_S1, folder, tmp_path / "detected.tif", composite=True, use_scl=False)
    assert any("Fmask's spectral tests" in line for line in lines) and not any("cloud mask: the product's" in line for line in lines)
    assert read_out(tmp_path / "detected.tif")[3]["SARCLEAR_CLOUD_MASK"] == "spectral"


def _l2a_safe_with_scl(folder: Path, value: int) -> tuple[Path, Path]:
    """A copy of the test L2A SAFE under `folder` with an `SCL_20m.jp2` of one class, listed in its MTD."""
    from rasterio.shutil import copy as gdal_copy

    safe = Path(shutil.copytree(L2A_SAFE, folder / L2A_SAFE.name))
    b05 = next(safe.rglob("*_B05_20m.jp2"))
    scl = b05.with_name(b05.name.replace("_B05_20m", "_SCL_20m"))
    with rasterio.open(b05) as src, rasterio.MemoryFile() as memory:
        with memory.open(driver="GTiff", width=src.width, height=src.height, count=1, dtype="uint8", crs=src.crs,
                         transform=src.transform) as tmp:  # fmt: skip
            tmp.write(np.full((1, src.height, src.width), value, np.uint8))
            gdal_copy(tmp, scl, driver="JP2OpenJPEG")
    mtd = safe / "MTD_MSIL2A.xml"
    listed = b05.relative_to(safe).with_suffix("").as_posix()
    mtd.write_text(mtd.read_text().replace(f"<IMAGE_FILE>{listed}</IMAGE_FILE>",
                                           f"<IMAGE_FILE>{listed}</IMAGE_FILE><IMAGE_FILE>{listed.replace('_B05_20m', '_SCL_20m')}</IMAGE_FILE>"))  # fmt: skip
    return safe, scl


def test_an_l2a_safe_lists_its_scene_classification(tmp_path: Path) -> None:
    from sarclear.io.sources import scene_classification

    assert scene_classification(L2A_SAFE) is None  # the test product was made without one
    safe, scl = _l2a_safe_with_scl(tmp_path, 9)
    assert scene_classification(safe) == str(scl)


def test_a_zipped_l2a_safe_s_scene_classification_is_read_inside_the_zip(tmp_path: Path) -> None:
    import zipfile

    from sarclear.io.sources import scene_classification

    safe, _ = _l2a_safe_with_scl(tmp_path / "unzipped", 8)
    archive = tmp_path / (L2A_SAFE.stem + ".zip")
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(safe.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(safe.parent).as_posix())
    found = scene_classification(archive)
    assert found is not None and found.startswith(f"/vsizip/{archive}/") and found.endswith("_SCL_20m.jp2")
    with rasterio.open(found) as src:
        assert int(src.read(1).max()) == 8  # read in place, nothing extracted


def test_scl_mask_is_the_same_in_strips_as_in_one_piece(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SCL path reads its strips with only the dilations' context: cut into many strips and
    chunks, the mask equals the one-piece mask (here with a wide shadow dilation)."""
    from sarclear.predict import masking

    folder, _, _ = _l2a_folder_with_scl(tmp_path)
    whole, strips = tmp_path / "whole.tif", tmp_path / "strips.tif"
    predict_identity(SSL4EO_S1, folder, tmp_path / "a.tif", composite=True, write_mask=whole, shadow_dilation=40, tile=128, overlap=16)
    monkeypatch.setattr(masking, "CHUNK", 16)  # 99 px wide: 7 chunks per strip
    predict_identity(SSL4EO_S1, folder, tmp_path / "b.tif", composite=True, write_mask=strips, shadow_dilation=40, tile=32, overlap=8)
    with rasterio.open(whole) as a, rasterio.open(strips) as b:
        assert np.array_equal(a.read(1), b.read(1)) and (a.read(1) == 2).any()
