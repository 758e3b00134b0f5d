"""`sarclear demo --quick`: the project's end-to-end test, through the real subcommands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarclear.cli import main
from sarclear.demo.page import verdicts
from sarclear.io.geotiff import raster_info


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out


def test_demo_writes_every_stage(demo_dir: Path) -> None:
    manifest = (demo_dir / "curation" / "manifest.csv").read_text().splitlines()
    assert len(manifest) > 1 and any(",false," in row for row in manifest[1:])  # some tiles rejected
    for run in ("fusion", "optical_only"):
        assert (demo_dir / "runs" / run / "checkpoints" / "last" / "generator.safetensors").is_file()
        assert (demo_dir / "runs" / run / "metrics.csv").is_file()
    summary = json.loads((demo_dir / "evaluation" / "metrics.json").read_text())
    assert set(summary["methods"]) == {"fusion", "optical_only", "identity"}
    assert summary["split"] == "test" and summary["n_tiles"] > 0


def test_demo_prediction_is_on_the_input_grid(demo_dir: Path) -> None:
    source = raster_info(demo_dir / "scene" / "s2_cloudy.tif")
    predicted = raster_info(demo_dir / "prediction" / "cloud_free.tif")
    assert (predicted.crs, predicted.transform, predicted.shape) == (source.crs, source.transform, source.shape)
    assert predicted.count == 3 and predicted.dtype == "uint16"
    assert (demo_dir / "prediction" / "cloud_free.png").is_file()


def test_demo_report_links_everything(demo_dir: Path) -> None:
    html = (demo_dir / "report.html").read_text()
    for heading in ("What the numbers say", "Whole scene", "Metrics (test split)", "Training", "Curation", "Run time"):
        assert heading in html
    assert html.count("data:image/png;base64,") >= 3  # scene panel, training curves, curation figures
    assert 'href="evaluation/report.html"' in html
    assert (demo_dir / "before_after.png").stat().st_size > 1000


def test_verdicts_follow_the_numbers() -> None:
    def group(psnr: float) -> dict:
        return {"reflectance": {"psnr": {"mean": psnr, "std": 0.0, "n": 3}}}

    results = {
        "fusion": {"overall": group(25.0), "by_region": {"cloud": group(20.0)}, "by_cloud_cover": {}},
        "optical_only": {"overall": group(22.0), "by_region": {"cloud": group(21.0)}, "by_cloud_cover": {}},
        "identity": {"overall": group(12.0), "by_region": {"cloud": group(8.0)}, "by_cloud_cover": {}},
    }
    held = [h for _, h, _ in verdicts(results, "fusion", "optical_only")]
    assert held == [True, False, None]  # beats identity; loses under cloud here; no 90-100 % tiles


def test_uncertainty_panel_ranks_errors_it_is_given(tmp_path: Path) -> None:
    """The demo's "How sure the model is" figure: an uncertainty equal to the error ranks it perfectly,
    one unrelated to it does not (the full demo writes it; --quick has no dropout to sample)."""
    import numpy as np
    from rasterio.transform import from_origin

    from sarclear.demo.page import scene_images, uncertainty_panel
    from sarclear.io.geotiff import write_raster

    rng = np.random.default_rng(0)
    truth = rng.integers(500, 3000, (3, 48, 48)).astype(np.uint16)
    error = rng.integers(0, 400, (3, 48, 48))
    meta = {"crs": "EPSG:32631", "transform": from_origin(500000, 4000000, 10, 10)}
    files = {name: write_raster(tmp_path / f"{name}.tif", array, descriptions=("B4", "B3", "B2"), **meta) for name, array in (
        ("truth", truth), ("pred", (truth + error).astype(np.uint16)),
        ("same", error.astype(np.float32)), ("unrelated", rng.random((3, 48, 48)).astype(np.float32) * 400),
    )}  # fmt: skip
    images = scene_images(files["truth"], files["pred"], files["truth"])
    pred, target = images["sarclear prediction"], images["ground truth"]
    png, ranked = uncertainty_panel(files["same"], pred, target)
    _, unranked = uncertainty_panel(files["unrelated"], pred, target)
    assert png.startswith(b"\x89PNG")
    assert ranked["spearman"] == pytest.approx(1.0, abs=1e-4)
    assert abs(unranked["spearman"]) < 0.2
    assert ranked["mean_abs_error"] == pytest.approx(error.mean() / 10000, rel=1e-4)
    kept = np.zeros_like(error, dtype=np.float32)
    kept[:, :, 24:] = error[:, :, 24:]  # a composite: half the scene observed (no error, no spread there)
    files["half"] = write_raster(tmp_path / "half.tif", kept, descriptions=("B4", "B3", "B2"), **meta)
    files["pred_half"] = write_raster(tmp_path / "pred_half.tif", (truth + (kept > 0) * error).astype(np.uint16), **meta)
    _, half = uncertainty_panel(files["half"], scene_images(files["truth"], files["pred_half"], files["truth"])["sarclear prediction"], target)
    assert half["pixels"] < 48 * 48 * 0.6  # scored where the model filled, not over the observed half
    assert half["spearman"] == pytest.approx(1.0, abs=1e-3)
