"""One inference path: `evaluate`'s per-tile PSNR is the PSNR of the GeoTIFF `predict` writes for that tile,
no window grid shows in `predict`'s output, and `--uncertainty` writes the passes' spread on the output grid.

Uses the small trained generator of `tests/data/small-model` (64 px, made by its `make_model.py`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from sarclear.cli import main
from sarclear.data.layout import official_paths
from sarclear.data.manifest import CORE_COLUMNS, write_manifest
from sarclear.data.synthetic import generate_dataset
from sarclear.data.synthetic.bigscene import write_scene
from sarclear.evaluate.metrics import dn_metrics
from sarclear.inference.tiling import WindowGrid
from sarclear.predict import predict_scene
from sarclear.predict.composite import feather
from sarclear.predict.defaults import default_overlap
from sarclear.predict.seams import seam_ratio

MODEL = Path(__file__).parent / "data" / "small-model" / "generator.safetensors"
#: Grid visibility above which a seam is plain to see (a hard grid, overlap 0, measures about 2 on this model).
SEAM_LIMIT = 1.15


def _manifest(root: Path, size: int) -> Path:
    tiles = generate_dataset(root, scenes=3, patches=2, size=size, seasons=["summer"], seed=5, bad_fraction=0.0, progress=False)
    rows = []
    for t in tiles:
        paths = official_paths(root, t.roi, t.scene, t.patch)
        rows.append({"sample_id": t.sample_id, "season": t.season, "scene": t.scene, "patch": t.patch, "split": "test",
                     "kept": True, "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"], "s2_path": paths["s2"]})  # fmt: skip
    return write_manifest(root / "manifest.csv", rows, list(CORE_COLUMNS))


def _geotiff_psnr(path: Path, clear: Path) -> float:
    with rasterio.open(path) as out, rasterio.open(clear) as ref:
        pred, target = out.read().astype(np.float32), ref.read([4, 3, 2]).astype(np.float32)
    return float(dn_metrics(torch.from_numpy(pred)[None], torch.from_numpy(target)[None])["reflectance/psnr"][0])


@pytest.mark.parametrize(
    ("tile_px", "options"),
    [(64, []), (128, []), (128, ["--tile", "64", "--overlap", "24"])],
    ids=["window-is-the-tile", "default-windows-smaller-than-the-tile", "explicit-window-and-overlap"],
)
def test_evaluate_scores_the_geotiff_predict_writes(tmp_path: Path, tile_px: int, options: list[str]) -> None:
    manifest = _manifest(tmp_path / "data", tile_px)
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(MODEL), "--manifest", str(manifest), "--out", str(out), "--split", "all",
                 "--baseline", "none", "--workers", "0", "--gallery", "0", "--quiet", *options]) == 0  # fmt: skip
    with (out / "per_image.csv").open() as handle:
        scored = {row["sample_id"]: float(row["reflectance/psnr"]) for row in csv.DictReader(handle)}
    with (out / "metrics.json").open() as handle:
        assert '"norm": "running"' in handle.read()  # the engine's settings are recorded (`auto`: a batch-4 model)
    rows = list(csv.DictReader((manifest).open()))
    for row in rows:
        written = tmp_path / f"{row['sample_id']}.tif"
        assert main(["predict", "--checkpoint", str(MODEL), "--s1", row["s1_path"], "--s2", row["s2_cloudy_path"],
                     "--out", str(written), "--quiet", *options]) == 0  # fmt: skip
        assert abs(_geotiff_psnr(written, Path(row["s2_path"])) - scored[row["sample_id"]]) < 0.05, row["sample_id"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_scene(tmp_path_factory.mktemp("scene"), 320, season="summer", seed=3, bands=13, cloud_cover=0.6, progress=False)


def _seams(scene: dict[str, Path], out: Path, overlap: int | None) -> float:
    predict_scene(MODEL, scene["s1"], scene["s2_cloudy"], out, overlap=overlap, progress=False)
    with rasterio.open(out) as src:
        image = src.read().astype(np.float32)
    return seam_ratio(image, WindowGrid(image.shape[1], image.shape[2], 64, default_overlap(64) if overlap is None else overlap))


def test_no_window_grid_is_visible_at_the_default_overlap_but_a_hard_grid_is_detected(tmp_path: Path, scene: dict[str, Path]) -> None:
    hard = _seams(scene, tmp_path / "hard.tif", overlap=0)
    default = _seams(scene, tmp_path / "default.tif", overlap=None)
    assert hard > SEAM_LIMIT  # the measure sees a grid where there is one ...
    assert default < SEAM_LIMIT  # ... and none at the default overlap


def test_uncertainty_is_the_spread_of_the_passes_on_the_output_grid_and_zero_where_observed(tmp_path: Path, scene: dict[str, Path]) -> None:
    out, std_path = tmp_path / "out.tif", tmp_path / "std.tif"
    assert main(["predict", "--checkpoint", str(MODEL), "--s1", str(scene["s1"]), "--s2", str(scene["s2_cloudy"]), "--out", str(out),
                 "--uncertainty", str(std_path), "--samples", "4", "--composite", "--write-mask", str(tmp_path / "m.tif"), "--quiet"]) == 0  # fmt: skip
    with rasterio.open(std_path) as std_src, rasterio.open(out) as out_src, rasterio.open(tmp_path / "m.tif") as mask_src:
        assert (std_src.crs, std_src.transform, std_src.shape) == (out_src.crs, out_src.transform, out_src.shape)
        assert std_src.dtypes[0] == "float32" and std_src.descriptions == ("B4_std", "B3_std", "B2_std")
        assert std_src.tags()["SARCLEAR_ENGINE_SAMPLES"] == "4" and out_src.tags()["SARCLEAR_ENGINE_SAMPLES"] == "4"
        std, cloud = std_src.read(), mask_src.read(1) == 1
    assert np.isfinite(std).all() and std.min() >= 0
    assert std[:, cloud].mean() > 1.0  # DN: the passes disagree under cloud ...
    observed = feather(cloud) == 0  # beyond the feathering the observed pixel is written
    assert observed.any() and np.all(std[:, observed] == 0)  # ... and nothing is uncertain where observed
