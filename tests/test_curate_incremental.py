"""Re-running curate reuses cached statistics: new thresholds re-decide without reading a pixel."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from sarclear.curate import measure
from sarclear.curate.measure import MeasureSettings
from sarclear.curate.rules import Thresholds, parse_season_sigma
from sarclear.curate.run import curate
from tests.helpers import make_arrays, write_triplet


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for patch in range(1, 5):
        arrays = make_arrays(32, seed=patch)
        rng = np.random.default_rng(patch)
        # Contrast sigma rising with the patch number: about 2, 4, 6, 8 in the 8-bit rendering.
        arrays["s2"] = np.clip(rng.normal(1000, 23.5 * patch, (13, 32, 32)), 0, None).astype(np.uint16)
        write_triplet(root, "ROIs1868_summer", scene=3, patch=patch, arrays=arrays)
    return root


def _run(root: Path, out: Path, thresholds: Thresholds | None = None, settings: MeasureSettings | None = None):
    return curate(
        root,
        out,
        thresholds=thresholds or Thresholds(),
        settings=settings or MeasureSettings(cloud_method="brightness"),
        workers=1,
        progress=False,
    )


def _kept(out: Path) -> dict[str, str]:
    with (out / "manifest.csv").open(newline="") as handle:
        return {row["sample_id"][-2:]: row["kept"] for row in csv.DictReader(handle)}


def _no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pixel was read although every statistic was cached")

    monkeypatch.setattr(measure, "read_raster", refuse)


def test_new_thresholds_redecide_from_the_cache(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    first = _run(root, out)
    assert (first.measured, first.cached) == (4, 0)
    assert _kept(out) == {"p1": "false", "p2": "false", "p3": "false", "p4": "false"}  # summer threshold 10
    _no_reading(monkeypatch)
    second = _run(root, out, Thresholds(season_sigma=parse_season_sigma("summer=5")))
    assert (second.measured, second.cached) == (0, 4)
    assert _kept(out) == {"p1": "false", "p2": "false", "p3": "true", "p4": "true"}


def test_changed_file_and_changed_settings_are_remeasured(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(root, out)
    touched = root / "ROIs1868_summer_s2/s2_3/ROIs1868_summer_s2_3_p2.tif"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = _run(root, out)
    assert (again.measured, again.cached) == (1, 3)
    wider = _run(root, out, settings=MeasureSettings(display_max_dn=6000.0, cloud_method="brightness"))
    assert (wider.measured, wider.cached) == (4, 0)


def test_no_cache_measures_everything(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(root, out)
    again = curate(
        root, out, thresholds=Thresholds(), settings=MeasureSettings(cloud_method="brightness"),
        workers=1, progress=False, cache_path=None,
    )
    assert (again.measured, again.cached) == (4, 0)


def test_damaged_cache_is_rebuilt(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stats_cache.sqlite").write_bytes(b"this is not a database" * 100)
    assert _run(root, out).measured == 4
    assert _run(root, out).cached == 4
