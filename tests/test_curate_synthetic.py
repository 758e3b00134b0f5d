"""Curation scored against the synthetic generator's ground truth, tile by tile."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from sarclear.curate.measure import MeasureSettings
from sarclear.curate.rules import Thresholds
from sarclear.curate.run import curate
from sarclear.data.synthetic import generate_dataset, read_truth


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    root = tmp_path_factory.mktemp("synth")
    # 64 px: at 32 px a tile can hold a single field, and some good summer tiles then fall just
    # under the summer contrast threshold (sigma 8-10), which is real low contrast, not a defect.
    generate_dataset(
        root, scenes=2, patches=3, size=64, seasons=("spring", "summer", "fall", "winter"),
        seed=0, bad_fraction=0.4, progress=False,
    )
    out = tmp_path_factory.mktemp("curated")
    curate(root, out, thresholds=Thresholds(), settings=MeasureSettings(cloud_method="s2cloudless"), workers=1, progress=False)
    with (out / "manifest.csv").open(newline="") as handle:
        rows = {row["sample_id"]: row for row in csv.DictReader(handle)}
    return {t.sample_id: t for t in read_truth(root)}, rows


def test_truth_matches_manifest_tile_by_tile(scored: tuple[dict, dict]) -> None:
    truth, rows = scored
    assert set(rows) == set(truth)
    assert {t.defect for t in truth.values()} == {"", "no_sar_variance", "no_data", "low_optical_contrast", "nan_values"}
    for sample_id, tile in truth.items():
        row = rows[sample_id]
        reasons = [r for r in row["reasons"].split(";") if r]
        if tile.defect:
            assert row["kept"] == "false" and tile.defect in reasons, (sample_id, tile.defect, reasons)
        else:
            assert row["kept"] == "true" and reasons == [], (sample_id, reasons)
        assert row["split"] == tile.split and row["season"] == tile.season


def test_cloud_cover_follows_the_true_cover(scored: tuple[dict, dict]) -> None:
    truth, rows = scored
    good = [s for s, t in truth.items() if not t.defect]
    assert all(rows[s]["cloud_method"] == "s2cloudless" for s in good)
    true_cover = np.array([truth[s].cloud_cover_pct for s in good])
    measured = np.array([float(rows[s]["cloud_cover_pct"]) for s in good])
    ranks = np.corrcoef(np.argsort(np.argsort(true_cover)), np.argsort(np.argsort(measured)))[0, 1]
    assert ranks > 0.5  # Spearman rank correlation
    assert all(float(rows[s]["target_cloud_cover_pct"]) <= 10.0 for s in good)
