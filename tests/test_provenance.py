"""A checkpoint says what it learnt from, and a model meeting other data says so loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarclear.data.layout import find_triplets
from sarclear.data.manifest import Sample
from sarclear.data.provenance import is_synthetic, training_provenance, warn_on_mismatch
from sarclear.data.synthetic import generate_dataset
from sarclear.io.geotiff import raster_info

REAL_L2A = Path(__file__).parent / "data/real-scenes/bigearthnet-v1/BigEarthNet-S2-Example/S2A_MSIL2A_20170613T101031_87_48"


def _samples(root: Path) -> list[Sample]:
    return [
        Sample(t.sample_id, t.season, t.scene, t.patch, t.split, t.s1_path, t.s2_cloudy_path, t.s2_path, True, ())
        for t in find_triplets(root)
    ]


def test_synthetic_tiles_are_tagged_and_genuine_ones_are_not(tmp_path: Path, real_root: Path) -> None:
    generate_dataset(tmp_path, scenes=1, patches=2, size=32, seasons=("summer",), progress=False)
    synthetic = _samples(tmp_path)
    assert synthetic and all(is_synthetic(s.s2_path) and is_synthetic(s.s1_path) for s in synthetic)
    assert not any(is_synthetic(s.s2_path) for s in _samples(real_root))

    facts = training_provenance(synthetic, "manifest.csv")
    assert facts["training_data"] == "synthetic" and facts["s2_level"] == "L1C"
    assert facts["training_summary"].startswith(f"{len(synthetic)} synthetic L1C triplets from manifest.csv")
    assert training_provenance(_samples(real_root), "m.csv")["training_data"] == "real"
    assert training_provenance(synthetic + _samples(real_root), "m.csv")["training_data"] == "mixed"


@pytest.mark.parametrize(
    ("trained_on", "level", "scene_level", "expected"),
    [("synthetic", "L1C", "L1C", ["synthetic"]), ("real", "L1C", "L2A", ["Level-1C", "Level-2A"]), ("real", "L1C", "L1C", []), ("real", "L1C", None, [])],
)
def test_mismatch_warnings(trained_on: str, level: str, scene_level: str | None, expected: list[str]) -> None:
    lines: list[str] = []
    found = warn_on_mismatch(trained_on, level, raster_info(REAL_L2A), scene_level, lines.append)
    assert found == lines
    assert all(any(word in line for line in lines) for word in expected) and bool(lines) == bool(expected)


def test_evaluate_records_and_prints_the_warning_for_a_synthetic_model_on_genuine_tiles(
    tmp_path: Path, real_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import torch

    from sarclear.cli import main
    from sarclear.data.manifest import CORE_COLUMNS, write_manifest
    from sarclear.models.checkpoint import save_generator
    from sarclear.models.spec import ModelSpec

    spec = ModelSpec(ngf=4, n_down=5, tile_size=32, training_data="synthetic")
    torch.manual_seed(0)
    checkpoint = save_generator(tmp_path / "generator.safetensors", spec.build(), spec)
    rows = [
        {"sample_id": s.sample_id, "season": s.season, "scene": s.scene, "patch": s.patch, "split": s.split,
         "s1_path": s.s1_path, "s2_cloudy_path": s.s2_cloudy_path, "s2_path": s.s2_path, "kept": True}
        for s in _samples(real_root)
    ]  # fmt: skip
    manifest = write_manifest(tmp_path / "manifest.csv", rows, CORE_COLUMNS)
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--manifest", str(manifest), "--out", str(tmp_path / "ev"),
                 "--split", "all", "--quiet", "--gallery", "0"])  # fmt: skip
    assert code == 0
    warnings = json.loads((tmp_path / "ev" / "metrics.json").read_text())["warnings"]
    assert len(warnings) == 1 and "synthetic" in warnings[0]
    assert "synthetic" in capsys.readouterr().err
