"""`sarclear adapt`: fitting to a scene's own clear pixels, end to end on tiny GeoTIFFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.cli import main
from sarclear.data.clouds import dilate
from sarclear.io.geotiff import write_raster
from sarclear.predict.composite import FEATHER_PX
from tests.helpers import CRS, s1_cut_short, transform_for

SIZE = 64
#: A tiny, fast fit: 32 px crops, 4 filters, a few steps.
FAST = ["--steps", "3", "--ngf", "4", "--crop", "32", "--batch-size", "2", "--quiet"]


def _scene(tmp_path: Path, cloud: np.ndarray, seed: int = 0) -> dict[str, Path]:
    """S1 (dB), a 3-band RGB S2 (DN, bright where `cloud`) and the mask, on one 10 m UTM grid."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    field = ((yy // 16 + xx // 16) % 2).astype(np.float32)
    s1 = np.stack([-12 + 4 * field + rng.normal(0, 1, field.shape), -19 + 4 * field + rng.normal(0, 1, field.shape)]).astype(np.float32)
    s2 = np.stack([600 + 500 * field, 700 + 300 * field, 500 + 200 * field]) + rng.integers(0, 50, (3, SIZE, SIZE))
    s2 = np.where(cloud[None], 6000, s2).astype(np.uint16)
    meta = {"crs": CRS, "transform": transform_for()}
    return {
        "s1": write_raster(tmp_path / "s1.tif", s1, **meta),
        "s2": write_raster(tmp_path / "s2.tif", s2, descriptions=("B4", "B3", "B2"), **meta),
        "mask": write_raster(tmp_path / "mask.tif", cloud.astype(np.uint8), **meta),
    }


def _square_cloud(top: int = 20, size: int = 16) -> np.ndarray:
    cloud = np.zeros((SIZE, SIZE), dtype=bool)
    cloud[top : top + size, top : top + size] = True
    return cloud


def _adapt(paths: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["adapt", "--s1", str(paths["s1"]), "--s2", str(paths["s2"]), "--mask", str(paths["mask"]), "--out", str(out), *FAST, *extra])


def _read(path: Path) -> tuple[np.ndarray, rasterio.Affine, object]:
    with rasterio.open(path) as src:
        return src.read(), src.transform, src.crs


def test_output_keeps_clear_pixels_and_the_grid(tmp_path: Path) -> None:
    cloud = _square_cloud()
    paths = _scene(tmp_path, cloud)
    out = tmp_path / "out.tif"
    assert _adapt(paths, out) == 0
    result, transform, crs = _read(out)
    observed, in_transform, in_crs = _read(paths["s2"])
    assert result.shape == observed.shape and transform == in_transform and crs == in_crs
    far = np.ones_like(cloud)  # beyond the composite's transition (2 x FEATHER_PX // 2 px) the observed pixels stay
    far[20 - FEATHER_PX : 36 + FEATHER_PX, 20 - FEATHER_PX : 36 + FEATHER_PX] = False
    assert np.array_equal(result[:, far], observed[:, far])
    assert np.all(result[:, cloud] < 6000)  # the bright cloud itself is replaced by the model


def test_a_value_planted_under_the_mask_changes_nothing(tmp_path: Path) -> None:
    cloud = _square_cloud()
    first = _scene(tmp_path / "a", cloud)
    second = _scene(tmp_path / "b", cloud)
    with rasterio.open(second["s2"], "r+") as dst:  # plant a wildly wrong value under the cloud
        planted = dst.read()
        planted[:, cloud] = np.array([123, 9000, 40000], dtype=np.uint16)[:, None]
        dst.write(planted)
    assert _adapt(first, tmp_path / "a.tif", "--seed", "3") == 0
    assert _adapt(second, tmp_path / "b.tif", "--seed", "3") == 0
    assert np.array_equal(_read(tmp_path / "a.tif")[0], _read(tmp_path / "b.tif")[0])


def test_nearly_fully_cloudy_scene_without_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cloud = np.ones((SIZE, SIZE), dtype=bool)
    cloud[:8, :8] = False  # 1.6 % clear
    paths = _scene(tmp_path, cloud)
    out = tmp_path / "out.tif"
    assert _adapt(paths, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "s2.tif" in err[0] and "--checkpoint" in err[0] and "clear" in err[0]
    assert not out.exists()


def test_too_cloudy_scene_is_fine_tuned_when_a_checkpoint_is_given(tmp_path: Path) -> None:
    paths = _scene(tmp_path / "start", _square_cloud())
    assert _adapt(paths, tmp_path / "start.tif", "--keep-model", str(tmp_path / "model")) == 0
    cloud = np.ones((SIZE, SIZE), dtype=bool)
    cloud[:8, :8] = False
    cloudy = _scene(tmp_path / "cloudy", cloud)
    assert _adapt(cloudy, tmp_path / "out.tif", "--checkpoint", str(tmp_path / "model")) == 0
    assert _read(tmp_path / "out.tif")[0].shape == (3, SIZE, SIZE)


def test_kept_model_reloads_in_predict_and_reproduces_the_output(tmp_path: Path) -> None:
    paths = _scene(tmp_path, _square_cloud())
    model = tmp_path / "model"
    assert _adapt(paths, tmp_path / "adapt.tif", "--keep-model", str(model)) == 0
    assert (model / "generator.safetensors").is_file()
    again = tmp_path / "predict.tif"
    code = main([
        "predict", "--checkpoint", str(model), "--s1", str(paths["s1"]), "--s2", str(model / "s2_filled.tif"),
        "--mask", str(model / "cloud_mask.tif"), "--composite", "--precision", "fp32", "--device", "cpu", "--out", str(again), "--quiet",
    ])  # fmt: skip
    assert code == 0
    assert np.array_equal(_read(again)[0], _read(tmp_path / "adapt.tif")[0])


def test_optical_only_fit_needs_no_sar(tmp_path: Path) -> None:
    paths = _scene(tmp_path, _square_cloud())
    out = tmp_path / "out.tif"
    code = main(["adapt", "--no-sar", "--s2", str(paths["s2"]), "--mask", str(paths["mask"]), "--out", str(out), *FAST])
    assert code == 0 and out.is_file()


def test_sar_is_required_unless_no_sar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _scene(tmp_path, _square_cloud())
    assert main(["adapt", "--s2", str(paths["s2"]), "--out", str(tmp_path / "o.tif"), *FAST]) == 2
    assert "--no-sar" in capsys.readouterr().err


SSL4EO = Path(__file__).parent / "data" / "real-scenes" / "ssl4eo-s12"
SSL4EO_S1 = SSL4EO / "s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"


def test_output_tags_describe_the_users_scene_not_the_filled_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Genuine SSL4EO-S12 L1C band folder, its own clouds detected: the output's provenance tags are
    those of that folder (source, level, offset, detected shadows), and the kept model records it."""
    from sarclear.models.checkpoint import load_generator

    scene, out, model = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP", tmp_path / "out.tif", tmp_path / "model"
    code = main(["adapt", "--s1", str(SSL4EO_S1), "--s2", str(scene), "--out", str(out), "--keep-model", str(model),
                 "--steps", "2", "--ngf", "4", "--batch-size", "2"])  # fmt: skip
    assert code == 0
    with rasterio.open(out) as src:
        tags = src.tags()
    assert tags["SARCLEAR_S2_SOURCE"] == "folder of band files" and tags["SARCLEAR_S2_LEVEL"] == "L1C"
    assert tags["SARCLEAR_S2_OFFSET_SOURCE"].startswith("sensed 2020-08-23, before baseline 04.00")
    assert tags["SARCLEAR_SHADOWS"].startswith("B8 and B11 below") and float(tags["SARCLEAR_SHADOW_PCT"]) > 0
    assert float(tags["SARCLEAR_ADAPT_FILLED_PCT"]) > float(tags["SARCLEAR_CLOUD_PCT"]) > 0  # the dilated mask it filled
    assert tags["SARCLEAR_MODEL_TRAINED_ON"] == "real L1C"
    err = capsys.readouterr().err
    assert "s2_filled.tif" not in err and "cloud_mask.tif" not in err  # its own intermediate files are not described
    spec = load_generator(model)[1]
    assert (spec.training_data, spec.s2_level) == ("real", "L1C") and scene.name in spec.training_summary


def test_a_model_kept_from_an_l2a_scene_is_an_l2a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: every fitted model said L1C, so predict on the very scene it was fitted to warned of a level mismatch."""
    scene, model = SSL4EO / "s2a/0000200/20200813T054639_20200813T054952_T43RCP", tmp_path / "model"
    args = ["--s1", str(SSL4EO_S1), "--s2", str(scene)]
    assert main(["adapt", *args, "--out", str(tmp_path / "a.tif"), "--keep-model", str(model), *FAST]) == 0
    assert main(["predict", "--checkpoint", str(model), *args, "--out", str(tmp_path / "p.tif"), "--composite"]) == 0
    err = capsys.readouterr().err
    assert "processing level L2A" in err and "trained on Level-1C" not in err and "WARNING: the model was trained" not in err


def test_a_cloud_threshold_outside_0_1_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _scene(tmp_path, _square_cloud())
    out = tmp_path / "out.tif"
    assert main(["adapt", "--s1", str(paths["s1"]), "--s2", str(paths["s2"]), "--out", str(out), "--cloud-threshold", "0", *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "sarclear: error: --cloud-threshold 0: must be a cloud probability between 0 and 1 (default 0.4)" and not out.exists()


def _reference(folder: Path, scene: np.ndarray, origin_x: float = 500000.0, pixel: float = 10.0) -> Path:
    """The clear scene on another date: the same fields in other colours (another sun, another level)."""
    folder.mkdir(parents=True, exist_ok=True)
    step = int(pixel // 10)
    other = (0.8 * scene[:, ::step, ::step] + 150).astype(np.uint16)
    return write_raster(folder / "other_date.tif", other, descriptions=("B4", "B3", "B2"), crs=CRS,
                        transform=transform_for(origin_x, pixel=pixel))  # fmt: skip


def _clear_truth(tmp_path: Path) -> np.ndarray:
    return _read(_scene(tmp_path / "truth", np.zeros((SIZE, SIZE), bool))["s2"])[0].astype(np.float32)


def test_a_reference_date_fills_the_cloud_with_its_fields_and_is_tagged(tmp_path: Path) -> None:
    cloud, truth = _square_cloud(16, 32), _clear_truth(tmp_path)
    paths = _scene(tmp_path, cloud)
    reference = _reference(tmp_path / "ref", truth)
    errors, tags = {}, {}
    for name, extra in (("plain", ()), ("with_reference", ("--reference", str(reference)))):
        out = tmp_path / f"{name}.tif"
        assert _adapt(paths, out, *extra) == 0
        with rasterio.open(out) as src:
            result, tags[name] = src.read().astype(np.float32), src.tags()
        errors[name] = float(np.abs(result[:, cloud] - truth[:, cloud]).mean())
    assert errors["with_reference"] < errors["plain"] / 3  # the fields under the cloud, not a graded blur
    assert tags["with_reference"]["SARCLEAR_ADAPT_REFERENCE"] == "other_date.tif"
    assert tags["with_reference"]["SARCLEAR_ADAPT_REFERENCE_PCT"] == "100.00"
    assert tags["with_reference"]["SARCLEAR_ADAPT_REFERENCE_USED"] == "yes"
    assert "SARCLEAR_ADAPT_REFERENCE_DAYS" not in tags["with_reference"]  # names without dates: nothing claimed
    assert tags["with_reference"]["SARCLEAR_ADAPT_REFERENCE_CHECK"].endswith("held-out holes of the scene's clear ground, scored where the reference is clear")
    assert "SARCLEAR_ADAPT_REFERENCE" not in tags["plain"]


def _other_fields(folder: Path) -> Path:
    """A "reference" whose ground has changed: other fields, where the scene's are not."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    other = np.kron(rng.integers(400, 1400, (3, SIZE // 8, SIZE // 8)), np.ones((8, 8))).astype(np.uint16)
    return write_raster(folder / "changed.tif", other, descriptions=("B4", "B3", "B2"), crs=CRS, transform=transform_for())


def test_a_reference_that_fills_the_scenes_own_test_holes_worse_is_not_used(tmp_path: Path) -> None:
    paths = _scene(tmp_path, _square_cloud(16, 32))
    changed = _other_fields(tmp_path / "ref")
    assert _adapt(paths, tmp_path / "plain.tif") == 0
    assert _adapt(paths, tmp_path / "checked.tif", "--reference", str(changed)) == 0
    with rasterio.open(tmp_path / "checked.tif") as src:
        checked, tags = src.read(), src.tags()
    assert np.array_equal(checked, _read(tmp_path / "plain.tif")[0])  # exactly the fit without a reference
    assert tags["SARCLEAR_ADAPT_REFERENCE_USED"] == "no" and "held-out holes" in tags["SARCLEAR_ADAPT_REFERENCE_CHECK"]
    assert _adapt(paths, tmp_path / "forced.tif", "--reference", str(changed), "--force-reference") == 0
    with rasterio.open(tmp_path / "forced.tif") as src:
        assert src.tags()["SARCLEAR_ADAPT_REFERENCE_USED"] == "yes (forced)" and not np.array_equal(src.read(), checked)


def test_several_reference_dates_are_each_checked_and_only_those_that_help_fill(tmp_path: Path) -> None:
    """A changed date and a good one: the check drops the changed one, and the output is exactly the
    output with the good date alone; the tags say what became of each, in order."""
    import json

    cloud, truth = _square_cloud(16, 32), _clear_truth(tmp_path)
    paths = _scene(tmp_path, cloud)
    changed, good = _other_fields(tmp_path / "changed"), _reference(tmp_path / "good", truth)
    assert _adapt(paths, tmp_path / "good.tif", "--reference", str(good)) == 0
    assert _adapt(paths, tmp_path / "both.tif", "--reference", str(changed), str(good), "--keep-model", str(tmp_path / "kept")) == 0
    with rasterio.open(tmp_path / "both.tif") as src:
        both, tags = src.read(), src.tags()
    assert np.array_equal(both, _read(tmp_path / "good.tif")[0])
    assert tags["SARCLEAR_ADAPT_REFERENCE"] == "changed.tif" and tags["SARCLEAR_ADAPT_REFERENCE_USED"] == "no"  # undated: as given
    assert tags["SARCLEAR_ADAPT_REFERENCE_2"] == "other_date.tif" and tags["SARCLEAR_ADAPT_REFERENCE_2_USED"] == "yes"
    assert tags["SARCLEAR_ADAPT_REFERENCE_2_PCT"] == tags["SARCLEAR_ADAPT_REFERENCES_PCT"] == "100.00"
    report = json.loads((tmp_path / "kept" / "adapt.json").read_text())
    assert [r["file"] for r in report["references"]] == ["changed.tif", "other_date.tif"]
    assert [r["used"] for r in report["references"]] == [False, True] and report["reference"]["file"] == "changed.tif"


def test_two_partial_reference_dates_fill_a_cloud_between_them(tmp_path: Path) -> None:
    """Each date cloudy over a different half of the scene's cloud (`--reference-mask`, one each):
    both are used and between them fill the whole cloud with its fields."""
    cloud, truth = _square_cloud(16, 32), _clear_truth(tmp_path)
    paths = _scene(tmp_path, cloud)
    dates, masks = [], []
    for k, rows in enumerate((slice(0, 32), slice(32, SIZE))):  # date k is cloudy over those rows
        dates.append(_reference(tmp_path / f"date{k}", truth))
        reference_cloud = np.zeros((1, SIZE, SIZE), np.uint8)
        reference_cloud[:, rows] = 1
        masks.append(write_raster(tmp_path / f"date{k}" / "mask.tif", reference_cloud, crs=CRS, transform=transform_for()))
    out = tmp_path / "out.tif"
    assert _adapt(paths, out, "--reference", *map(str, dates), "--reference-mask", *map(str, masks)) == 0
    with rasterio.open(out) as src:
        result, tags = src.read().astype(np.float32), src.tags()
    assert tags["SARCLEAR_ADAPT_REFERENCE_USED"] == tags["SARCLEAR_ADAPT_REFERENCE_2_USED"] == "yes"
    assert tags["SARCLEAR_ADAPT_REFERENCE_PCT"] == tags["SARCLEAR_ADAPT_REFERENCE_2_PCT"] == "50.00"
    assert tags["SARCLEAR_ADAPT_REFERENCES_PCT"] == "100.00"
    assert _adapt(paths, tmp_path / "plain.tif") == 0
    plain = _read(tmp_path / "plain.tif")[0].astype(np.float32)
    assert np.abs(result[:, cloud] - truth[:, cloud]).mean() < np.abs(plain[:, cloud] - truth[:, cloud]).mean() / 3


@pytest.mark.parametrize(("extra", "message"), [
    (("--reference", "{good}", "{good}"), "--reference {good}: given twice"),
    (("--reference", "{scene}"), "--reference {scene}: is the scene itself (--s2); give another date of the same place"),
    (("--reference", "{good}", "{changed}", "--reference-mask", "{mask}"),
     "--reference-mask: give one mask per --reference, in the same order (got 1 for 2 references)"),
])  # fmt: skip
def test_several_references_refuse_a_repeat_or_a_mask_count_that_does_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    paths = _scene(tmp_path, _square_cloud())
    names = {"good": str(_reference(tmp_path / "good", _clear_truth(tmp_path))), "changed": str(_other_fields(tmp_path / "changed")),
             "mask": str(paths["mask"]), "scene": str(paths["s2"])}  # fmt: skip
    out = tmp_path / "out.tif"
    assert _adapt(paths, out, *(arg.format(**names) for arg in extra)) == 2
    assert capsys.readouterr().err.strip() == f"sarclear: error: {message.format(**names)}" and not out.exists()


def test_force_reference_without_a_reference_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _scene(tmp_path, _square_cloud())
    assert _adapt(paths, tmp_path / "out.tif", "--force-reference") == 2
    assert capsys.readouterr().err.strip() == "sarclear: error: --force-reference: give the image to use with --reference S2"


def test_a_reference_on_a_coarser_grid_is_warped_onto_the_scene(tmp_path: Path) -> None:
    cloud, truth = _square_cloud(16, 32), _clear_truth(tmp_path)
    paths = _scene(tmp_path, cloud)
    reference = _reference(tmp_path / "ref", truth, pixel=20.0)  # a 20 m export of the same area
    out = tmp_path / "out.tif"
    assert _adapt(paths, out, "--reference", str(reference)) == 0
    with rasterio.open(out) as src:
        assert float(src.tags()["SARCLEAR_ADAPT_REFERENCE_PCT"]) == 100.0 and src.transform == transform_for()


def test_a_reference_of_another_place_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _scene(tmp_path, _square_cloud())
    reference = _reference(tmp_path / "ref", _clear_truth(tmp_path), origin_x=600000.0)  # 100 km east
    out = tmp_path / "out.tif"
    assert _adapt(paths, out, "--reference", str(reference)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other_date.tif" in err[0] and "covers 0.0 %" in err[0] and "same place" in err[0]
    assert not out.exists()


def test_a_missing_reference_is_refused_before_the_scene_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _scene(tmp_path, _square_cloud())
    out = tmp_path / "out.tif"
    code = main(["adapt", "--s1", str(paths["s1"]), "--s2", str(paths["s2"]), "--mask", str(paths["mask"]), "--out", str(out),
                 "--steps", "3", "--reference", str(tmp_path / "missing.tif")])  # fmt: skip  (not --quiet: the scene would log its reading)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"sarclear: error: {tmp_path / 'missing.tif'}: file not found"]
    assert not out.exists()


def test_a_genuine_reference_ten_days_earlier_fills_a_genuine_l1c_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SSL4EO-S12: the L1C of 2020-08-23 (its own cumulus detected) with the L2A of 2020-08-13 as
    reference, both per-band folders as downloaded."""
    scene = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP"
    reference = SSL4EO / "s2a/0000200/20200813T054639_20200813T054952_T43RCP"
    out = tmp_path / "out.tif"
    code = main(["adapt", "--s1", str(SSL4EO_S1), "--s2", str(scene), "--reference", str(reference), "--out", str(out),
                 "--steps", "2", "--ngf", "4", "--batch-size", "2"])  # fmt: skip
    assert code == 0
    with rasterio.open(out) as src:
        tags = src.tags()
    assert tags["SARCLEAR_ADAPT_REFERENCE"] == reference.name and float(tags["SARCLEAR_ADAPT_REFERENCE_PCT"]) > 90
    err = capsys.readouterr().err
    assert "level L2A against the scene's L1C" in err and f"{reference.name}: used (mean error" in err
    assert f"{reference.name}: 10 days before the scene" in err and tags["SARCLEAR_ADAPT_REFERENCE_DAYS"] == "-10"
    assert tags["SARCLEAR_ADAPT_REFERENCE_USED"] == "yes"


def test_genuine_reference_dates_are_taken_nearest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SSL4EO-S12's L1C of 2020-08-23 with two other dates given the far one first (the L1C of
    06-04, 80 days before; the L2A of 08-13, 10 days before): the 10-day date is read, checked and
    tagged first; it sees every cloud clear, so the far one is not read (a whole tile's read and
    cloud detection is minutes)."""
    scene = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP"
    far, near = SSL4EO / "s2c/0000200/20200604T054639_20200604T054831_T43RCP", SSL4EO / "s2a/0000200/20200813T054639_20200813T054952_T43RCP"
    out = tmp_path / "out.tif"
    assert main(["adapt", "--s2", str(scene), "--reference", str(far), str(near), "--fill-only", "--out", str(out)]) == 0
    with rasterio.open(out) as src:
        tags = src.tags()
    assert (tags["SARCLEAR_ADAPT_REFERENCE"], tags["SARCLEAR_ADAPT_REFERENCE_DAYS"]) == (near.name, "-10")
    assert (tags["SARCLEAR_ADAPT_REFERENCE_2"], tags["SARCLEAR_ADAPT_REFERENCE_2_DAYS"]) == (far.name, "-80")
    assert tags["SARCLEAR_ADAPT_REFERENCE_USED"] == "yes" and tags["SARCLEAR_ADAPT_REFERENCES_PCT"] == tags["SARCLEAR_ADAPT_REFERENCE_PCT"] == "100.00"
    assert tags["SARCLEAR_ADAPT_REFERENCE_2_USED"] == "no (not needed)"  # the 10-day date is clear: the far one is not even read
    err = capsys.readouterr().err
    assert err.index(f"{near.name}: used") < err.index(f"{far.name}: not read: the nearer dates used already see every pixel to fill")
    assert f"1 of 2 reference dates used, nearest first ({near.name})" in err


def test_adapt_keeps_observed_clouds_out_where_the_s1_scene_stops_short(tmp_path: Path) -> None:
    """The genuine cumulus scene with its S1 cut 24 px short of the east edge: where there is no
    radar the model cannot run, and a cloudy pixel there is nodata (a clear one is the observed
    pixel: `test_real_scenes`; this strip has none). (When the composite began keeping clear pixels beyond S1's edge, adapt's mask, limited to where
    S1 exists, called that strip clear, and the observed cumulus came through.)"""
    scene = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP"
    s1 = s1_cut_short(SSL4EO_S1, tmp_path / "s1", 24)
    out, keep = tmp_path / "out.tif", tmp_path / "kept"
    assert main(["adapt", "--s1", str(s1), "--s2", str(scene), "--out", str(out), "--keep-model", str(keep), "--steps", "2",
                 "--ngf", "4", "--batch-size", "2", "--quiet"]) == 0  # fmt: skip
    result = _read(out)[0]
    cloud = _read(keep / "cloud_mask.tif")[0][0] > 0
    no_s1 = np.zeros(cloud.shape, bool)
    no_s1[:, -16:] = True  # well inside the strip the cut S1 leaves uncovered
    assert (cloud & no_s1).sum() > 1000  # the cumulus and their dilated edges cover the strip
    assert (result[:, cloud & no_s1] == 0).all()  # nodata, not the observed cloud


def test_a_genuine_reference_in_another_crs_and_partly_overlapping_is_warped_onto_the_scene(tmp_path: Path) -> None:
    """The L2A of 2020-08-13 exported as one RGB GeoTIFF in UTM 43N (the scene's bands are in
    EPSG:4326, as SSL4EO-S12 ships them), its eastern part cut off: it is warped onto the scene's
    grid, fills only what it covers, and the output stays on the scene's grid."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    scene = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP"
    source = SSL4EO / "s2a/0000200/20200813T054639_20200813T054952_T43RCP"
    with rasterio.open(source / "B4.tif") as src:
        crs, transform, width, height, bounds = src.crs, src.transform, src.width, src.height, src.bounds
    utm, utm_transform, utm_width, utm_height = "EPSG:32643", *calculate_default_transform(crs, "EPSG:32643", width, height, *bounds, resolution=10)
    rgb = np.zeros((3, utm_height, utm_width), np.uint16)
    for band, name in zip(rgb, ("B4", "B3", "B2")):
        with rasterio.open(source / f"{name}.tif") as src:
            reproject(src.read(1), band, src_transform=transform, src_crs=crs, dst_transform=utm_transform, dst_crs=utm,
                      dst_nodata=0, resampling=Resampling.bilinear)  # fmt: skip
    west = rgb[:, :, : utm_width * 3 // 5]  # the western three fifths
    reference = write_raster(tmp_path / "l2a_utm.tif", west, crs=utm, transform=utm_transform, nodata=0, descriptions=("B4", "B3", "B2"))
    out = tmp_path / "out.tif"
    code = main(["adapt", "--s1", str(SSL4EO_S1), "--s2", str(scene), "--reference", str(reference), "--out", str(out),
                 "--steps", "2", "--ngf", "4", "--batch-size", "2"])  # fmt: skip
    assert code == 0
    with rasterio.open(out) as src, rasterio.open(scene / "B4.tif") as grid:
        tags = src.tags()
        assert src.crs == grid.crs and src.transform == grid.transform and src.shape == grid.shape
    assert 30 < float(tags["SARCLEAR_ADAPT_REFERENCE_PCT"]) < 80  # what its western part sees of the clouds


def test_an_l2a_references_own_scene_classification_masks_its_clouds(tmp_path: Path) -> None:
    """An L2A reference with an SCL file is masked by it, as a scene would be (`--no-scl`: by the
    spectral test): an SCL that calls the reference's western half cloud leaves adapt about half of
    what it could take from it."""
    import shutil

    reference = Path(shutil.copytree(SSL4EO / "s2a/0000200/20200813T054639_20200813T054952_T43RCP", tmp_path / "s2a" / "ref"))
    with rasterio.open(reference / "B5.tif") as b5:
        scl = np.full((1, b5.height, b5.width), 4, np.uint8)  # vegetation, on the 20 m grid as ESA writes it
        scl[:, :, : b5.width // 2] = 9  # cloud, high probability
        profile = {"driver": "GTiff", "width": b5.width, "height": b5.height, "count": 1, "dtype": "uint8", "crs": b5.crs,
                   "transform": b5.transform}  # fmt: skip
    with rasterio.open(reference / "SCL.tif", "w", **profile) as dst:
        dst.write(scl)
    scene = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP"
    shares = {}
    for name, extra in (("scl", []), ("no_scl", ["--no-scl"])):
        out = tmp_path / f"{name}.tif"
        assert main(["adapt", "--s1", str(SSL4EO_S1), "--s2", str(scene), "--reference", str(reference), "--out", str(out),
                     "--steps", "2", "--ngf", "4", "--batch-size", "2", "--quiet", *extra]) == 0  # fmt: skip
        with rasterio.open(out) as src:
            shares[name] = float(src.tags()["SARCLEAR_ADAPT_REFERENCE_PCT"])
    assert shares["no_scl"] > 90 and 25 < shares["scl"] < 65


def test_fill_only_gives_a_scene_too_cloudy_to_fit_its_reference_fill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """93 % under cloud: adapt refuses to fit, and --fill-only with a reference writes the
    reference's fields under the cloud, tagged as no model, on the scene's grid."""
    cloud = np.ones((SIZE, SIZE), bool)
    cloud[4:16, 4:16] = cloud[44:56, 40:52] = False  # two clear gaps
    truth = _clear_truth(tmp_path)
    paths = _scene(tmp_path, cloud)
    reference = _reference(tmp_path / "ref", truth)
    assert _adapt(paths, tmp_path / "fit.tif", "--reference", str(reference)) == 2
    err = capsys.readouterr().err
    assert "only 7.0% of the scene is clear" in err and "give --fill-only for the fill alone" in err  # the way out it then takes
    out = tmp_path / "fill.tif"
    assert _adapt(paths, out, "--reference", str(reference), "--fill-only") == 0
    with rasterio.open(out) as src:
        result, tags = src.read().astype(np.float32), src.tags()
    inside = ~dilate(~cloud, FEATHER_PX)  # past the composite's transition
    graded = _read(tmp_path / "graded.tif")[0] if _adapt(paths, tmp_path / "graded.tif", "--fill-only") == 0 else None
    assert graded is not None
    error, graded_error = (float(np.abs(a[:, inside] - truth[:, inside]).mean()) for a in (result, graded.astype(np.float32)))
    assert error < 30 < graded_error  # DN: the fields, not a graded blur
    assert tags["SARCLEAR_MODEL_TRAINED_ON"].startswith("none") and tags["SARCLEAR_ADAPT_REFERENCE_USED"] == "yes"


def test_fill_only_without_a_reference_is_the_graded_fill(tmp_path: Path) -> None:
    from sarclear.data.hole_fill import pushpull_fill
    from sarclear.data.normalize import S2_CLIP_MAX_DN, s2_from_network, s2_to_network

    cloud = _square_cloud(16, 32)
    paths = _scene(tmp_path, cloud)
    out = tmp_path / "fill.tif"
    assert _adapt(paths, out, "--fill-only") == 0
    cloudy = _read(paths["s2"])[0].astype(np.float32)
    graded = s2_from_network(pushpull_fill(s2_to_network(cloudy, S2_CLIP_MAX_DN), ~cloud), S2_CLIP_MAX_DN)
    inside = np.zeros_like(cloud)
    inside[16 + FEATHER_PX : 48 - FEATHER_PX, 16 + FEATHER_PX : 48 - FEATHER_PX] = True
    assert np.abs(_read(out)[0].astype(np.float32)[:, inside] - graded[:, inside]).max() <= 1  # DN rounding
    assert np.array_equal(_read(out)[0][:, ~_square_cloud(16 - FEATHER_PX, 32 + 2 * FEATHER_PX)], _read(paths["s2"])[0][:, ~_square_cloud(16 - FEATHER_PX, 32 + 2 * FEATHER_PX)])
    no_radar = tmp_path / "no_radar.tif"  # the fill needs no --s1
    assert main(["adapt", "--s2", str(paths["s2"]), "--mask", str(paths["mask"]), "--out", str(no_radar), "--fill-only", "--quiet"]) == 0
    assert np.array_equal(_read(no_radar)[0], _read(out)[0])


def test_fill_only_refuses_to_keep_or_start_from_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _scene(tmp_path, _square_cloud())
    assert _adapt(paths, tmp_path / "out.tif", "--fill-only", "--keep-model", str(tmp_path / "model")) == 2
    assert capsys.readouterr().err.strip() == "sarclear: error: --fill-only fits no model: drop --keep-model and --checkpoint"


def test_a_reference_mask_marks_the_references_clouds(tmp_path: Path) -> None:
    """--reference-mask: the pixels it marks are never used, whatever they hold (here two different
    plantings give the same output), and the share of the cloud the reference fills drops by them."""
    cloud, truth = _square_cloud(16, 32), _clear_truth(tmp_path)
    paths = _scene(tmp_path, cloud)
    ref_cloud = np.zeros_like(cloud)
    ref_cloud[16:32, :] = True  # the cloud's upper half, on the reference's date
    mask = write_raster(tmp_path / "ref_mask.tif", ref_cloud.astype(np.uint8), crs=CRS, transform=transform_for())
    outputs, shares = [], []
    for planted in (0, 3000):
        folder = tmp_path / f"ref{planted}"
        reference = _reference(folder, truth)
        with rasterio.open(reference, "r+") as dst:
            dst.write(np.where(ref_cloud[None], planted, dst.read()).astype(np.uint16))
        out = tmp_path / f"out{planted}.tif"
        assert _adapt(paths, out, "--reference", str(reference), "--reference-mask", str(mask), "--force-reference") == 0
        with rasterio.open(out) as src:
            outputs.append(src.read())
            shares.append(float(src.tags()["SARCLEAR_ADAPT_REFERENCE_PCT"]))
    assert np.array_equal(outputs[0], outputs[1]) and shares[0] == shares[1] == 50.0


def test_reference_mask_without_a_reference_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _scene(tmp_path, _square_cloud())
    assert _adapt(paths, tmp_path / "out.tif", "--reference-mask", str(paths["mask"])) == 2
    assert capsys.readouterr().err.strip() == "sarclear: error: --reference-mask: give the image to use with --reference S2"
