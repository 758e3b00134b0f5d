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
