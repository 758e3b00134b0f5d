"""`sarclear evaluate --adapt`: adapt fitted per tile, scored beside mean fill, biharmonic and identity.

Hand-made 64 px RGB tiles (tests/test_evaluate_report.py's): the cloudy input equals the target but
for an opaque band of cloud along the left edge. One tile is cloud all over, which adapt refuses
without a start model. Fits are tiny (ngf 4, 32 px crops, 3 steps), so the numbers are not about
quality, only about what is scored, where and how.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
import torch

from sarclear.cli import main
from sarclear.data.manifest import CLOUD_COVER_COLUMN, CORE_COLUMNS, write_manifest
from sarclear.evaluate.adapt_method import AdaptOptions
from sarclear.evaluate.baselines import biharmonic_array, mean_fill_array
from sarclear.evaluate.metrics import dn_metrics
from sarclear.evaluate.run import evaluate
from sarclear.evaluate.samples import cloudy_input_mask
from sarclear.io.geotiff import write_raster
from tests.test_evaluate_report import tiny_checkpoint, write_tiles

#: (ROI set, cloud columns out of 64, manifest cloud cover): two partly cloudy tiles, one all cloud.
TILES = [("ROIs1868_summer", 16, None), ("ROIs2017_winter", 24, None), ("ROIs1158_spring", 64, None)]
FIT = {"ngf": 4, "crop": 32, "batch_size": 2}
STEPS = 3
METHODS = ["adapt", "adapt-no-sar", "identity", "mean-fill", "biharmonic", "push-pull"]


def _manifest(tmp):
    rows = write_tiles(tmp / "data", TILES)
    return write_manifest(tmp / "manifest.csv", rows, [*CORE_COLUMNS, CLOUD_COVER_COLUMN]), rows


@pytest.fixture(scope="module")
def adapt_eval(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval_adapt")
    manifest, rows = _manifest(tmp)
    out = tmp / "out"
    summary = evaluate(manifest, out, baselines=("identity", "mean-fill", "biharmonic", "push-pull"), adapt=("sar", "no-sar"),
                       adapt_options=AdaptOptions(steps=STEPS, seed=0, fit=FIT), batch_size=2, progress=False)  # fmt: skip
    return tmp, out, summary, rows


def _per_image(out) -> list[dict[str, str]]:
    with (out / "per_image.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_adapt_and_baselines_are_scored_inside_and_outside_the_mask(adapt_eval):
    _, out, summary, rows = adapt_eval
    assert list(summary["results"]) == METHODS
    assert summary["primary_method"] == "adapt"
    assert summary["n_tiles"] == 3 and summary["n_scored"] == 2
    for method in METHODS:
        regions = summary["results"][method]["by_region"]
        assert regions["cloud"]["n"] == 2 and regions["clear"]["n"] == 2
        assert regions["cloud"]["reflectance"]["psnr"]["mean"] is not None
    per_image = _per_image(out)
    assert sorted({r["method"] for r in per_image}) == sorted(METHODS) and len(per_image) == 2 * len(METHODS)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["methods"]["adapt"]["adapt"]["steps"] == STEPS and saved["methods"]["adapt-no-sar"]["adapt"]["use_sar"] is False
    # the fitted GeoTIFFs stay for a look, one per scored tile and variant
    assert sorted(p.name for p in (out / "adapt" / "adapt").glob("*.tif")) == sorted(f"{r['sample_id']}.tif" for r in rows[:2])
    # the clear region is (almost) the observed input for every method: identity is exact there
    clear_identity = summary["results"]["identity"]["by_region"]["clear"]["reflectance"]["psnr"]["mean"]
    assert clear_identity == pytest.approx(100.0)


def test_a_tile_too_cloudy_for_adapt_is_skipped_with_its_reason(adapt_eval):
    _, out, summary, rows = adapt_eval
    assert summary["n_skipped"] == 1
    (skipped,) = summary["skipped"]
    assert skipped["sample_id"] == rows[2]["sample_id"] and skipped["cloud_mask_pct"] == pytest.approx(100.0)
    assert set(skipped["reasons"]) == {"adapt", "adapt-no-sar"}
    assert "clear" in skipped["reasons"]["adapt"] and "--checkpoint" in skipped["reasons"]["adapt"]
    assert rows[2]["sample_id"] not in {r["sample_id"] for r in _per_image(out)}
    report = (out / "report.md").read_text()
    assert "1 of 3 tiles skipped" in report and rows[2]["sample_id"] in report


def test_adapt_scores_equal_scoring_the_geotiff_sarclear_adapt_writes(adapt_eval, tmp_path):
    _, out, _, rows = adapt_eval
    row = rows[0]
    cloud, _ = cloudy_input_mask(row["s2_cloudy_path"])
    with rasterio.open(row["s2_cloudy_path"]) as src:
        mask = write_raster(tmp_path / "mask.tif", cloud.astype(np.uint8), crs=src.crs, transform=src.transform)
    written = tmp_path / "adapt.tif"
    code = main(["adapt", "--s1", str(row["s1_path"]), "--s2", str(row["s2_cloudy_path"]), "--mask", str(mask), "--out", str(written),
                 "--steps", str(STEPS), "--seed", "0", "--ngf", "4", "--crop", "32", "--batch-size", "2", "--quiet"])  # fmt: skip
    assert code == 0
    with rasterio.open(written) as src:
        pred = torch.from_numpy(src.read().astype(np.float32))[None]
    with rasterio.open(row["s2_path"]) as src:
        target = torch.from_numpy(src.read().astype(np.float32))[None]
    expected = dn_metrics(pred, target, torch.from_numpy(cloud)[None])
    scored = next(r for r in _per_image(out) if r["sample_id"] == row["sample_id"] and r["method"] == "adapt")
    for key in ("reflectance/cloud/psnr", "display/cloud/ssim", "reflectance/clear/psnr", "display/psnr"):
        assert float(scored[key]) == pytest.approx(float(expected[key][0]), abs=1e-4), key


def test_mean_fill_inside_the_mask_is_the_mean_clear_colour():
    rng = np.random.default_rng(0)
    cloudy = rng.integers(200, 3000, (3, 16, 16)).astype(np.uint16)
    cloud = np.zeros((16, 16), dtype=bool)
    cloud[4:10, 2:12] = True
    cloudy[:, cloud] = 9000
    valid = np.ones_like(cloud)
    valid[15, :] = False  # a nodata row: not part of the colour
    cloudy[:, ~valid] = 0
    filled = mean_fill_array(cloudy, cloud, valid)
    colour = cloudy[:, valid & ~cloud].astype(np.float64).mean(axis=1)
    np.testing.assert_allclose(filled[:, cloud], np.repeat(colour[:, None], cloud.sum(), axis=1), rtol=1e-6)
    np.testing.assert_array_equal(filled[:, ~cloud], cloudy[:, ~cloud])


def test_biharmonic_fills_a_smooth_ramp_and_keeps_the_clear_pixels():
    ramp = np.broadcast_to(np.linspace(500, 2500, 32, dtype=np.float32), (3, 32, 32)).copy()
    cloud = np.zeros((32, 32), dtype=bool)
    cloud[10:20, 8:24] = True
    cloudy = np.where(cloud[None], 9000, ramp).astype(np.float32)
    filled = biharmonic_array(cloudy, cloud)
    np.testing.assert_allclose(filled[:, cloud], ramp[:, cloud], atol=1.0)  # a linear ramp is biharmonic
    np.testing.assert_array_equal(filled[:, ~cloud], cloudy[:, ~cloud])
    all_cloud = np.ones_like(cloud)
    np.testing.assert_array_equal(biharmonic_array(cloudy, all_cloud), cloudy)  # nothing to continue from


def test_with_a_checkpoint_adapt_fine_tunes_it_and_skips_nothing(tmp_path):
    manifest, _ = _manifest(tmp_path)
    tiny_checkpoint(tmp_path / "start" / "generator.safetensors", use_sar=True)
    summary = evaluate(manifest, tmp_path / "out", checkpoint=tmp_path / "start", baselines=("mean-fill",), adapt=("sar",),
                       adapt_options=AdaptOptions(steps=2, seed=0, fit={"batch_size": 2}), batch_size=1, progress=False)  # fmt: skip
    assert list(summary["results"]) == ["start", "adapt", "mean-fill"]
    assert summary["n_skipped"] == 0 and summary["n_scored"] == 3
    assert summary["methods"]["adapt"]["adapt"]["start"].startswith("fine-tuned from")


@pytest.mark.parametrize("extra, message", [(["--adapt", "radar"], "unknown --adapt variant"), (["--adapt", "--adapt-steps", "0"], "--adapt-steps")])
def test_cli_rejects_bad_adapt_options(tmp_path, capsys, extra, message):
    manifest, _ = _manifest(tmp_path)
    code = main(["evaluate", "--manifest", str(manifest), "--out", str(tmp_path / "out"), "--quiet", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
