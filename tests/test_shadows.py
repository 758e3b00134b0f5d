"""Cloud shadows in the composite mask: dark pixels next to clouds are masked, dark water and dark
land far from clouds are not; the sun's direction, when known, decides the side; predict writes them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.data import shadows
from sarclear.data.clouds import mask_from_probability
from sarclear.data.shadows import SunAngles
from sarclear.io import write_raster
from sarclear.io.sun_angles import sun_angles

from .test_predict import CRS, TRANSFORM, Constant, run_identity

DATA = Path(__file__).parent / "data" / "s2cloudless-shadows"
#: Typical L1C DN of lit vegetated land, of a thick cloud, of a shadowed field, of clear water.
LAND = {"B2": 900, "B3": 1000, "B4": 800, "B8": 3000, "B11": 2000}
CLOUD = {"B2": 6200, "B3": 6300, "B4": 6500, "B8": 6800, "B11": 4500}
SHADE = {"B2": 500, "B3": 450, "B4": 350, "B8": 900, "B11": 600}
WATER = {"B2": 700, "B3": 600, "B4": 400, "B8": 250, "B11": 100}


def tile(size: int = 96) -> tuple[dict[str, np.ndarray], dict[str, tuple[slice, slice]]]:
    """Land with a cloud in the middle, a shadow patch beside it (north), water beside it (south),
    a dark field and a lake far from it; returns the DN planes and where each thing is."""
    rng = np.random.default_rng(0)
    where = {
        "cloud": (slice(40, 60), slice(40, 60)),
        "shadow": (slice(28, 40), slice(44, 56)),  # north of the cloud, touching it
        "near_water": (slice(60, 70), slice(44, 56)),  # south of the cloud, touching it
        "far_dark": (slice(2, 12), slice(2, 12)),  # a shadow-dark field 40 px from the cloud
        "far_water": (slice(84, 94), slice(84, 94)),
    }
    planes = {b: np.full((size, size), v, np.float32) * rng.uniform(0.9, 1.1, (size, size)) for b, v in LAND.items()}
    for what, spectrum in (("cloud", CLOUD), ("shadow", SHADE), ("near_water", WATER), ("far_dark", SHADE), ("far_water", WATER)):
        for b, v in spectrum.items():
            planes[b][where[what]] = v
    return {b: p.astype(np.uint16) for b, p in planes.items()}, where


def detect(planes: dict[str, np.ndarray], cloud: np.ndarray, **kwargs) -> np.ndarray:
    valid = np.ones(cloud.shape, bool)
    reference = shadows.reference_levels(planes, valid & ~cloud)
    return shadows.shadow_mask(planes, cloud, valid, reference, dilation=kwargs.pop("dilation", 0), **kwargs)


class TestShadowMask:
    def test_dark_patch_beside_a_cloud_is_masked_dark_water_and_far_dark_land_are_not(self) -> None:
        planes, where = tile()
        cloud = np.zeros((96, 96), bool)
        cloud[where["cloud"]] = True
        found = detect(planes, cloud, reach_px=30)
        assert found[where["shadow"]].mean() > 0.95
        assert not found[where["near_water"]].any()  # water is as dark in NIR, but fails Fmask's water test
        assert not found[where["far_dark"]].any() and not found[where["far_water"]].any()
        assert not (found & cloud).any()
        assert found.sum() < 1.05 * planes["B8"][where["shadow"]].size  # nothing else

    def test_dilation_widens_the_shadow_but_never_onto_the_cloud(self) -> None:
        planes, where = tile()
        cloud = np.zeros((96, 96), bool)
        cloud[where["cloud"]] = True
        tight, wide = detect(planes, cloud, reach_px=30), detect(planes, cloud, reach_px=30, dilation=3)
        assert (wide & ~tight).sum() > 0 and not (tight & ~wide).any() and not (wide & cloud).any()
        assert wide[25:28, 44:56].all()  # 3 px beyond the patch's north edge

    def test_the_sun_direction_chooses_the_side(self) -> None:
        planes, where = tile()
        for b, v in SHADE.items():  # a second dark patch, south of the cloud, where no shadow can fall
            planes[b][60:70, 44:56] = v
        cloud = np.zeros((96, 96), bool)
        cloud[where["cloud"]] = True
        sun_south = shadows.shadow_steps(SunAngles(zenith=40.0, azimuth=180.0), pixel_size_m=10.0, reach_px=30)
        assert sun_south is not None and all(dy < 0 for dy, _ in sun_south)  # shadows fall north
        north = detect(planes, cloud, steps=sun_south, reach_px=30)
        assert north[where["shadow"]].mean() > 0.95 and not north[60:70, 44:56].any()
        sun_north = shadows.shadow_steps(SunAngles(zenith=40.0, azimuth=0.0), pixel_size_m=10.0, reach_px=30)
        south = detect(planes, cloud, steps=sun_north, reach_px=30)
        assert south[60:70, 44:56].mean() > 0.95 and not south[where["shadow"]].any()
        assert shadows.shadow_steps(None, 10.0) is None

    def test_rgb_only_input_uses_visible_darkness(self) -> None:
        planes, where = tile()
        rgb = {b: planes[b] for b in ("B4", "B3", "B2")}
        cloud = np.zeros((96, 96), bool)
        cloud[where["cloud"]] = True
        found = detect(rgb, cloud, reach_px=30)
        assert found[where["shadow"]].mean() > 0.95 and not found[where["far_dark"]].any()

    def test_no_reference_without_enough_clear_land(self) -> None:
        planes, _ = tile(8)
        assert shadows.reference_levels(planes, np.ones((8, 8), bool)) is None  # 64 px < MIN_REFERENCE_PIXELS
        assert not shadows.shadow_mask(planes, np.ones((8, 8), bool), np.ones((8, 8), bool), None, dilation=5).any()


def test_real_cumulus_shadows_are_found_and_stay_a_small_share() -> None:
    """On a genuine L1C crop (s2cloudless's own test scene, see tests/data/s2cloudless-shadows/SOURCE.md)
    the dark spots beside the cumulus (looked at in docs/images/shadows_s2cloudless.png) are masked."""
    crop = np.load(DATA / "crop.npz")
    planes = {b: crop[b] for b in shadows.SHADOW_BANDS}
    cloud = mask_from_probability(crop["cl_probs"])  # sarclear's post-processing (average 4, dilation 2)
    found = detect(planes, cloud, dilation=5)
    share = found.mean()
    assert 0.005 < share < 0.10, share  # 3.2 % when written; the cloud mask is 66 % of this crop
    assert found[118:125, 89:92].all()  # the shadow west of the large cloud at the bottom
    assert found[83:93, 38:48].sum() > 40  # and the one beside the cumulus on the left
    lit = ~cloud & ~found
    assert np.median(planes["B8"][found]) < 0.7 * np.median(planes["B8"][lit])


def _mtd_tl(zenith: float, azimuth: float) -> str:
    return (
        '<?xml version="1.0"?><n1:Level-1C_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd">'
        "<n1:Geometric_Info><Tile_Angles><Mean_Sun_Angle>"
        f'<ZENITH_ANGLE unit="deg">{zenith}</ZENITH_ANGLE><AZIMUTH_ANGLE unit="deg">{azimuth}</AZIMUTH_ANGLE>'
        "</Mean_Sun_Angle></Tile_Angles></n1:Geometric_Info></n1:Level-1C_Tile_ID>"
    )


def test_sun_angles_come_from_the_granule_metadata_of_a_folder_or_zip(tmp_path: Path) -> None:
    safe = tmp_path / "S2A_MSIL1C_X.SAFE"
    (safe / "GRANULE" / "L1C_T31_X").mkdir(parents=True)
    (safe / "MTD_MSIL1C.xml").write_text("<x/>")
    (safe / "GRANULE" / "L1C_T31_X" / "MTD_TL.xml").write_text(_mtd_tl(31.25, 152.5))
    assert sun_angles(safe) == SunAngles(31.25, 152.5)
    assert sun_angles(safe / "MTD_MSIL1C.xml") == SunAngles(31.25, 152.5)
    archive = tmp_path / "product.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("S2A_MSIL1C_X.SAFE/MTD_MSIL1C.xml", "<x/>")
        z.writestr("S2A_MSIL1C_X.SAFE/GRANULE/L1C_T31_X/MTD_TL.xml", _mtd_tl(60.0, 400.0))
    assert sun_angles(archive) == SunAngles(60.0, 40.0)
    (safe / "GRANULE" / "L1C_T31_X" / "MTD_TL.xml").write_text("<n1:x xmlns:n1='u'/>")
    assert sun_angles(safe) is None  # no angles (as in the test products): searched in every direction
    assert sun_angles(tmp_path / "plain.tif") is None


def _scene_with_shadow(folder: Path) -> tuple[Path, Path, tuple[slice, slice]]:
    """A 13-band L1C stack: land, a thick cloud, a shadowed patch beside it."""
    rng = np.random.default_rng(3)
    land = np.array([1300, 1000, 900, 700, 1000, 2000, 2400, 2500, 2700, 800, 15, 1800, 1000])
    cloud = np.array([6000, 6200, 6300, 6500, 6600, 6700, 6800, 6800, 6900, 3000, 1200, 4500, 3500])
    s2 = (land[:, None, None] * rng.uniform(0.9, 1.1, (1, 96, 96))).astype(np.uint16)
    s2[:, 32:56, 32:56] = (cloud[:, None, None] * rng.uniform(0.95, 1.05, (1, 24, 24))).astype(np.uint16)
    patch = (slice(62, 74), slice(36, 52))  # 6 px below the cloud's edge, beyond s2cloudless's dilation
    s2[:, patch[0], patch[1]] = (s2[:, patch[0], patch[1]] * 0.35).astype(np.uint16)
    s1 = write_raster(folder / "s1.tif", np.full((2, 96, 96), -12.0, np.float32), crs=CRS, transform=TRANSFORM)
    return s1, write_raster(folder / "s2.tif", s2, crs=CRS, transform=TRANSFORM), patch


def test_predict_composite_fills_the_shadow_writes_it_in_the_mask_and_tags(tmp_path: Path) -> None:
    pytest.importorskip("s2cloudless")
    s1, s2, patch = _scene_with_shadow(tmp_path)
    messages: list[str] = []
    out = run_identity(s1, s2, tmp_path / "out.tif", model=Constant(), composite=True, write_mask=tmp_path / "m.tif", log=messages.append)
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read(1)
    assert (mask[patch] == 2).mean() > 0.95 and (mask[36:52, 36:52] == 1).all() and (mask[:16, :16] == 0).all()
    with rasterio.open(out) as src:
        got, tags = src.read(), src.tags()
    assert (got[:, patch[0], patch[1]] == 5000).all()  # the model, not the observed shadow
    assert float(tags["SARCLEAR_SHADOW_PCT"]) == pytest.approx(100.0 * (mask == 2).mean(), abs=0.01)
    assert float(tags["SARCLEAR_CLOUD_PCT"]) == pytest.approx(100.0 * (mask == 1).mean(), abs=0.01)
    assert "any direction" in tags["SARCLEAR_SHADOWS"]
    assert any("cloud shadow of the valid pixels" in m for m in messages)

    off = run_identity(s1, s2, tmp_path / "off.tif", model=Constant(), composite=True, write_mask=tmp_path / "m0.tif", shadows=False)
    with rasterio.open(tmp_path / "m0.tif") as src:
        without = src.read(1)
    assert not (without == 2).any()
    np.testing.assert_array_equal(without == 1, mask == 1)  # the shadow search's wider context leaves the clouds as they were
    with rasterio.open(off) as src:
        assert (src.read()[:, patch[0], patch[1]] != 5000).all() and src.tags()["SARCLEAR_SHADOWS"] == "off (--no-shadows)"


def test_strips_and_chunks_give_the_same_shadows_as_the_whole_scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("s2cloudless")
    s1, s2, _ = _scene_with_shadow(tmp_path)
    run_identity(s1, s2, tmp_path / "a.tif", model=Constant(), composite=True, write_mask=tmp_path / "a_mask.tif")
    monkeypatch.setattr("sarclear.predict.masking.CHUNK", 20)
    run_identity(s1, s2, tmp_path / "b.tif", model=Constant(), composite=True, write_mask=tmp_path / "b_mask.tif")
    with rasterio.open(tmp_path / "a_mask.tif") as a, rasterio.open(tmp_path / "b_mask.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_a_safe_product_with_sun_angles_projects_the_shadows_away_from_the_sun(tmp_path: Path) -> None:
    """The genuine L1C SAFE crop (a cumulus edge), with the Mean_Sun_Angle its test MTD_TL.xml lacks
    added: predict reads the angles and says so in the log and the tags."""
    pytest.importorskip("s2cloudless")
    import shutil

    source = Path(__file__).parent / "data" / "real-scenes" / "safe"
    safe = tmp_path / "S2A_MSIL1C_20180701T000000_N0400_R000_T31PGN_20220125T000000.SAFE"
    shutil.copytree(source / safe.name, safe)
    tile_xml = next(safe.glob("GRANULE/*/MTD_TL.xml"))
    text = tile_xml.read_text().replace(
        "</n1:Geometric_Info>",
        '<Tile_Angles><Mean_Sun_Angle><ZENITH_ANGLE unit="deg">25.0</ZENITH_ANGLE>'
        '<AZIMUTH_ANGLE unit="deg">120.0</AZIMUTH_ANGLE></Mean_Sun_Angle></Tile_Angles></n1:Geometric_Info>',
    )
    tile_xml.write_text(text)
    messages: list[str] = []
    out = run_identity(source / "S1_for_L1C_SAFE.tif", safe, tmp_path / "out.tif", model=Constant(), composite=True,
                       write_mask=tmp_path / "m.tif", log=messages.append)  # fmt: skip
    with rasterio.open(out) as src:
        tags = src.tags()
    assert "zenith 25.0°, azimuth 120.0°" in tags["SARCLEAR_SHADOWS"]
    assert any("projected away from the sun" in m for m in messages)
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read(1)
    assert float(tags["SARCLEAR_SHADOW_PCT"]) == pytest.approx(100.0 * (mask == 2).mean(), abs=0.01)


def test_on_a_genuine_cloudy_date_the_masked_shadow_darkened_since_the_clear_date(tmp_path: Path) -> None:
    """SSL4EO-S12 location 0000200 (tests/data/real-scenes): the cumulus date, and a clear date of the
    same place. What predict masks as shadow must have darkened in NIR and SWIR between the two dates
    far more than the pixels it keeps (a dark field would be dark on both dates)."""
    pytest.importorskip("s2cloudless")
    from sarclear.predict.reader import SceneReader
    from sarclear.predict.scene import inspect_scene

    base = Path(__file__).parent / "data" / "real-scenes" / "ssl4eo-s12"
    s1 = base / "s1" / "0000200" / "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
    cloudy, clear = (base / "s2c" / "0000200" / name for name in
                     ("20200823T054639_20200823T055618_T43RCP", "20200604T054639_20200604T054831_T43RCP"))  # fmt: skip
    run_identity(s1, cloudy, tmp_path / "out.tif", model=Constant(), composite=True, write_mask=tmp_path / "m.tif")
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read(1)
    dates = []
    for scene in (cloudy, clear):
        inputs = inspect_scene(scene, None, use_sar=False, bands="rgb")
        index = {name: i + 1 for i, name in enumerate(inputs.s2.descriptions)}
        with SceneReader(inputs) as reader:
            dates.append(reader.s2(0, inputs.shape[0], (index["B8"], index["B11"])).astype(np.float64))
    ratio = dates[0] / np.maximum(dates[1], 1.0)  # cloudy-date / clear-date DN, per band
    shadow, kept = mask == 2, mask == 0
    assert 0.02 < shadow.mean() < 0.2, shadow.mean()  # 10 % when written, beside 41 % cloud
    for band in range(2):
        assert np.median(ratio[band][shadow]) < 0.8 * np.median(ratio[band][kept])  # 0.47x (B8), 0.62x (B11) when written


def test_cli_flags_turn_shadows_off_and_set_their_dilation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("s2cloudless")
    from sarclear.cli import main
    from sarclear.models.checkpoint import save_generator

    from .test_predict import SPEC

    ckpt = save_generator(tmp_path / "generator.safetensors", SPEC.build(), SPEC)
    s1, s2, patch = _scene_with_shadow(tmp_path)
    shares = {}
    for name, flags in (("default", ()), ("wide", ("--shadow-dilation", "8")), ("off", ("--no-shadows",))):
        args = ["predict", "--checkpoint", ckpt, "--s1", s1, "--s2", s2, "--out", tmp_path / f"{name}.tif", "--composite",
                "--write-mask", tmp_path / f"{name}_mask.tif", "--quiet", *flags]  # fmt: skip
        assert main([str(a) for a in args]) == 0
        with rasterio.open(tmp_path / f"{name}_mask.tif") as src:
            shares[name] = float((src.read(1) == 2).mean())
    assert shares["off"] == 0.0 < shares["default"] < shares["wide"]
    assert main(["predict", "--checkpoint", str(ckpt), "--s1", str(s1), "--s2", str(s2), "--out", str(tmp_path / "x.tif"),
                 "--composite", "--shadow-dilation", "-1", "--quiet"]) == 2  # fmt: skip
    assert "--shadow-dilation -1: must be >= 0" in capsys.readouterr().err


def test_a_higher_cloud_threshold_masks_a_subset_and_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("s2cloudless")
    from sarclear.cli import main
    from sarclear.models.checkpoint import save_generator

    from .test_predict import SPEC

    ckpt = save_generator(tmp_path / "generator.safetensors", SPEC.build(), SPEC)
    s1, s2, _ = _scene_with_shadow(tmp_path)
    clouds, tags = {}, {}
    for threshold in ("0.4", "0.7"):
        out, mask = tmp_path / f"{threshold}.tif", tmp_path / f"{threshold}_mask.tif"
        args = ["predict", "--checkpoint", ckpt, "--s1", s1, "--s2", s2, "--out", out, "--composite", "--write-mask", mask,
                "--no-shadows", "--cloud-threshold", threshold, "--quiet"]  # fmt: skip
        assert main([str(a) for a in args]) == 0
        with rasterio.open(mask) as src:
            clouds[threshold] = src.read(1) == 1
        with rasterio.open(out) as src:
            tags[threshold] = src.tags()
    assert clouds["0.7"].sum() < clouds["0.4"].sum() and not (clouds["0.7"] & ~clouds["0.4"]).any()
    assert tags["0.4"]["SARCLEAR_CLOUD_THRESHOLD"] == "0.4" and tags["0.7"]["SARCLEAR_CLOUD_THRESHOLD"] == "0.7"
    bad = tmp_path / "bad.tif"
    assert main(["predict", "--checkpoint", str(ckpt), "--s1", str(s1), "--s2", str(s2), "--out", str(bad), "--composite",
                 "--cloud-threshold", "1.5", "--quiet"]) == 2  # fmt: skip
    assert "--cloud-threshold 1.5: must be a cloud probability between 0 and 1" in capsys.readouterr().err and not bad.exists()
