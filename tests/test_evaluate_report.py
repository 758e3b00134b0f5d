"""A full evaluation of two tiny checkpoints and the identity baseline on hand-made tiles.

The tiles are RGB GeoTIFFs whose cloudy input equals the target except for a white band of cloud
along the left edge, so the right answers are known: the cloud mask covers the band, and the
identity baseline is perfect (PSNR capped at 100 dB) outside it.
"""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest
import torch

from sarclear.cli import main
from sarclear.data.manifest import CLOUD_COVER_COLUMN, CORE_COLUMNS, write_manifest
from sarclear.evaluate.run import evaluate
from sarclear.models.checkpoint import save_generator
from sarclear.models.spec import ModelSpec
from tests.helpers import make_arrays, write_triplet

#: (ROI set, cloud columns out of 64, manifest cloud cover or None to compute it from the mask)
TILES = [
    ("ROIs1868_summer", 0, 0.0),
    ("ROIs1868_summer", 16, None),
    ("ROIs2017_winter", 24, 45.0),
    ("ROIs1158_spring", 40, None),
    ("ROIs2017_winter", 64, 95.0),
]
SIZE = 64


def rgb_triplet(seed: int, cloud_columns: int) -> dict[str, np.ndarray]:
    arrays = make_arrays(SIZE, seed=seed)
    clear = arrays["s2"][[3, 2, 1]]  # B4, B3, B2: a 3-band RGB file
    cloudy = clear.copy()
    cloudy[:, :, :cloud_columns] = 8000  # opaque, spectrally flat cloud
    return {"s1": arrays["s1"], "s2": clear, "s2_cloudy": cloudy}


def write_tiles(root, tiles) -> list[dict]:
    rows = []
    for i, (roi, columns, cover) in enumerate(tiles):
        paths = write_triplet(root, roi, scene=i + 1, patch=i, arrays=rgb_triplet(i, columns))
        rows.append({
            "sample_id": f"{roi}_{i + 1}_p{i}", "scene": i + 1, "patch": i, "split": "test", "kept": True,
            "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"], "s2_path": paths["s2"],
            CLOUD_COVER_COLUMN: cover,
        })
    return rows


def tiny_checkpoint(path, use_sar: bool) -> None:
    torch.manual_seed(0 if use_sar else 1)
    spec = ModelSpec(ngf=4, n_down=5, tile_size=32, use_sar=use_sar, in_channels=5 if use_sar else 3)
    save_generator(path, spec.build(), spec)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval_report")
    manifest = write_manifest(tmp / "manifest.csv", write_tiles(tmp / "data", TILES), [*CORE_COLUMNS, CLOUD_COVER_COLUMN])
    tiny_checkpoint(tmp / "with_sar" / "checkpoints" / "best" / "generator.safetensors", use_sar=True)
    tiny_checkpoint(tmp / "no_sar" / "generator.safetensors", use_sar=False)
    out = tmp / "out"
    summary = evaluate(manifest, out, checkpoint=tmp / "with_sar", compare=[tmp / "no_sar"], batch_size=2,
                       progress=False)
    return tmp, out, summary


def read_csv(path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_writes_every_output(report):
    _, out, summary = report
    for name in ("metrics.json", "per_image.csv", "report.md", "report.html", "psnr_vs_cloud_cover.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(summary))


def test_methods_named_by_folder_in_table_order(report):
    _, _, summary = report
    assert list(summary["methods"]) == ["with_sar", "no_sar", "identity"]
    assert summary["primary_method"] == "with_sar"
    assert summary["methods"]["no_sar"]["spec"]["use_sar"] is False
    assert summary["n_tiles"] == len(TILES) and summary["split"] == "test"


def test_protocol_is_recorded(report):
    protocol = report[2]["protocol"]
    assert protocol["scales"]["reflectance"]["data_range"] == 1.0
    assert protocol["scales"]["display"]["data_range"] == 255.0
    assert protocol["ssim"]["sigma"] == 1.5 and protocol["ssim"]["kernel_size"] == 11
    assert "per image" in protocol["averaging"]
    assert protocol["cloud_mask"]["methods"] == {"brightness": len(TILES)}  # RGB files: no s2cloudless
    assert protocol["cloud_cover"]["sources"] == {"manifest": 3, "mask": 2}
    assert "predict's engine" in protocol["generator_mode"]
    engine = report[2]["methods"]["with_sar"]["engine"]  # each checkpoint's inference settings, as predict tags them
    # `auto` batch norm: these hand-built checkpoints record no training batch, so running statistics
    assert (engine["norm"], engine["tile"], engine["samples"], engine["backend"]) == ("running", 32, 1, "torch")


def test_per_image_csv_means_equal_metrics_json(report):
    _, out, summary = report
    rows = read_csv(out / "per_image.csv")
    assert len(rows) == len(TILES) * 3
    for method, breakdowns in summary["results"].items():
        mine = [r for r in rows if r["method"] == method]
        for key in ("reflectance/psnr", "reflectance/ssim", "display/sam", "display/rmse"):
            scale, metric = key.split("/")
            values = [float(r[key]) for r in mine]
            assert breakdowns["overall"][scale][metric]["mean"] == pytest.approx(np.mean(values), rel=1e-9)
            assert breakdowns["overall"][scale][metric]["std"] == pytest.approx(np.std(values), rel=1e-6, abs=1e-12)
        for region in ("cloud", "clear"):
            values = [float(r[f"reflectance/{region}/psnr"]) for r in mine]
            group = breakdowns["by_region"][region]
            assert group["n"] == sum(math.isfinite(v) for v in values)
            assert group["reflectance"]["psnr"]["mean"] == pytest.approx(np.nanmean(values), rel=1e-9)
        seasons = {r["season"] for r in mine}
        assert set(breakdowns["by_season"]) == seasons
        assert sum(g["n"] for g in breakdowns["by_season"].values()) == len(TILES)
        for value in _leaves(breakdowns):
            assert value is None or math.isfinite(value)


def _leaves(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _leaves(value)
    else:
        yield tree


def test_cloud_cover_and_regions_follow_the_drawn_clouds(report):
    _, out, summary = report
    rows = [r for r in read_csv(out / "per_image.csv") if r["method"] == "identity"]
    by_id = {r["sample_id"]: r for r in rows}
    assert by_id["ROIs1868_summer_1_p0"]["cloud_cover_source"] == "manifest"
    assert by_id["ROIs1868_summer_2_p1"]["cloud_cover_source"] == "mask"
    # 16 of 64 columns are cloud; the literature's mask settings dilate it by 2 px.
    assert 25.0 <= float(by_id["ROIs1868_summer_2_p1"]["cloud_cover_pct"]) <= 32.0
    assert by_id["ROIs1868_summer_2_p1"]["cloud_bin"] == "10-30"
    assert float(by_id["ROIs1868_summer_1_p0"]["cloud_mask_pct"]) == 0.0
    identity = summary["results"]["identity"]
    assert identity["by_region"]["clear"]["reflectance"]["psnr"]["mean"] == 100.0  # untouched pixels are exact
    assert identity["by_region"]["cloud"]["n"] == len(TILES) - 1  # the cloudless tile has no cloud pixel
    assert identity["by_region"]["cloud"]["reflectance"]["psnr"]["mean"] < 20.0
    bins = list(identity["by_cloud_cover"])
    assert bins == sorted(bins, key=lambda b: float(b.split("-")[0]))


def test_report_html_is_self_contained(report):
    _, out, summary = report
    text = (out / "report.html").read_text()
    assert text.count("data:image/jpeg;base64,") >= 8 * 2  # >= 2 gallery rows of 8 pictures
    assert "data:image/png;base64," in text  # the plot
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text), "external reference in report.html"
    for method in summary["methods"]:
        assert method in text
    for heading in ("Per season", "Per cloud-cover bin", "Inside vs outside the cloud mask", "Gallery"):
        assert heading in text
    markdown = (out / "report.md").read_text()
    assert "| with_sar | 5 |" in markdown and "psnr_vs_cloud_cover.png" in markdown


def test_cli_rejects_tiles_the_model_cannot_take(report, tmp_path, capsys):
    tmp, _, _ = report
    rows = write_tiles(tmp_path / "data", [("ROIs1868_summer", 8, None)])
    arrays = rgb_triplet(0, 8)
    odd = {k: v[..., :48, :48] for k, v in arrays.items()}  # 48 px: not a multiple of 2**5
    write_triplet(tmp_path / "data", "ROIs1868_summer", scene=1, patch=0, arrays=odd)
    manifest = write_manifest(tmp_path / "manifest.csv", rows, CORE_COLUMNS)
    code = main(["evaluate", "--checkpoint", str(tmp / "with_sar"), "--manifest", str(manifest),
                 "--out", str(tmp_path / "out"), "--workers", "0", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "multiple of 32" in err and "48x48" in err
    assert not (tmp_path / "out" / "per_image.csv").exists()  # atomic: nothing half-written


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--baseline", "none"], "nothing to evaluate"),
        (["--baseline", "median"], "unknown baseline 'median'"),
        (["--split", "val"], "no kept row in split 'val'"),
        (["--checkpoint", "/nonexistent/run"], "checkpoint not found"),
        (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "nonsense"], "--device"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(report, tmp_path, capsys, extra, message):
    tmp, _, _ = report
    code = main(["evaluate", "--manifest", str(tmp / "manifest.csv"), "--out", str(tmp_path), "--quiet", *extra])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_report_renders_in_headless_chromium(report, tmp_path):
    """The page opens from disk in a real browser and shows tables and the gallery (not a blank page)."""
    import importlib.util
    from pathlib import Path

    from PIL import Image

    script = Path(__file__).parents[1] / "scripts" / "screenshot_html.py"
    spec = importlib.util.spec_from_file_location("screenshot_html", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if module.find_browser() is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    _, out, _ = report
    png = module.screenshot(out / "report.html", tmp_path / "report.png", width=1400, height=2400)
    image = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
    assert image.shape[:2] == (2400, 1400)
    assert image.std() > 20  # text, tables and pictures, not an empty page
    header = image[:40].mean(axis=(0, 1))
    assert header[2] < 100  # the dark header bar rendered, so the inline CSS applied
