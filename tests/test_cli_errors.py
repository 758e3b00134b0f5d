"""Bad triplets through the real CLI (`sarclear check`): exit 2 and ONE stderr line naming the file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sarclear.cli import main
from sarclear.io import write_raster
from tests.helpers import CRS, make_arrays, transform_for, write_triplet

REPO = Path(__file__).resolve().parents[1]


def _check(paths: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check", str(paths["s1"]), str(paths["s2_cloudy"]), str(paths["s2"])])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _rewrite(paths: dict[str, Path], modality: str, array: np.ndarray, **grid) -> None:
    write_raster(paths[modality], array, crs=grid.get("crs", CRS), transform=grid.get("transform", transform_for()))


def _missing(p: dict[str, Path]) -> str:
    p["s2"].unlink()
    return "file not found"


def _truncated(p: dict[str, Path]) -> str:
    write_raster(p["s2_cloudy"], make_arrays(32)["s2_cloudy"], crs=CRS, transform=transform_for(), compress="none")
    data = p["s2_cloudy"].read_bytes()
    p["s2_cloudy"].write_bytes(data[: len(data) // 2])  # header intact, strips cut off
    return "corrupt or truncated TIFF"


def _garbage(p: dict[str, Path]) -> str:
    p["s1"].write_bytes(b"II*\x00 this is not really a TIFF")
    return "not a readable raster"


def _wrong_band_count(p: dict[str, Path]) -> str:
    _rewrite(p, "s1", np.zeros((3, 32, 32), np.float32))
    return "wrong band count: has 3, expected 2"


def _wrong_band_count_s2(p: dict[str, Path]) -> str:
    _rewrite(p, "s2", np.ones((5, 32, 32), np.uint16))
    return "wrong band count: has 5, expected 13"


def _wrong_dtype(p: dict[str, Path]) -> str:
    _rewrite(p, "s1", np.zeros((2, 32, 32), np.uint16))
    return "wrong data type: uint16"


def _wrong_dtype_s2(p: dict[str, Path]) -> str:
    _rewrite(p, "s2_cloudy", np.ones((13, 32, 32), np.int32))
    return "wrong data type: int32"


def _nan(p: dict[str, Path]) -> str:
    s1 = make_arrays(32)["s1"]
    s1[1, 5, 7] = np.nan
    _rewrite(p, "s1", s1)
    return "1 NaN/inf pixel value(s)"


def _inf(p: dict[str, Path]) -> str:
    s1 = make_arrays(32)["s1"]
    s1[0, :2, :] = np.inf
    _rewrite(p, "s1", s1)
    return "64 NaN/inf pixel value(s)"


def _shape(p: dict[str, Path]) -> str:
    _rewrite(p, "s2", make_arrays(40)["s2"])
    return "grid mismatch: 40x40 px"


def _crs(p: dict[str, Path]) -> str:
    _rewrite(p, "s1", make_arrays(32)["s1"], crs="EPSG:32632")
    return "grid mismatch: CRS EPSG:32632"


def _transform(p: dict[str, Path]) -> str:
    _rewrite(p, "s2", make_arrays(32)["s2"], transform=transform_for(origin_x=500010.0))
    return "grid mismatch: transform"


CASES: dict[str, tuple[Callable[[dict[str, Path]], str], str]] = {
    "missing file": (_missing, "s2"),
    "truncated tiff": (_truncated, "s2_cloudy"),
    "not a tiff": (_garbage, "s1"),
    "s1 band count": (_wrong_band_count, "s1"),
    "s2 band count": (_wrong_band_count_s2, "s2"),
    "s1 dtype": (_wrong_dtype, "s1"),
    "s2 dtype": (_wrong_dtype_s2, "s2_cloudy"),
    "nan in s1": (_nan, "s1"),
    "inf in s1": (_inf, "s1"),
    "grid shape": (_shape, "s2"),
    "grid crs": (_crs, "s1"),
    "grid transform": (_transform, "s2"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_validation_error_is_one_line_naming_the_file(case: str, tmp_path: Path, capsys) -> None:
    paths = write_triplet(tmp_path)
    damage, culprit = CASES[case]
    expected = damage(paths)
    code, out, err = _check(paths, capsys)
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"sarclear: error: {paths[culprit]}: ")
    assert expected in lines[0]


def test_a_good_triplet_is_described_one_line_per_file(tmp_path: Path, capsys) -> None:
    paths = write_triplet(tmp_path)
    code, out, err = _check(paths, capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 4 and lines[-1].startswith("ok: one grid of 32 x 32 px")
    assert lines[0].startswith(f"s1        {paths['s1']}: 2 bands float32, 32 x 32 px, EPSG:32631, pixel 10 m")
    assert "13 bands uint16" in lines[1] and "B1-B12 DN" in lines[2]


def test_real_triplet_passes(real_root: Path, capsys) -> None:
    paths = {m: real_root / f"ROIs1970_fall_{m}/{m}_139/ROIs1970_fall_{m}_139_p839.tif" for m in ("s1", "s2_cloudy", "s2")}
    code, out, _ = _check(paths, capsys)
    assert code == 0 and "EPSG:32650" in out and "256 x 256 px" in out


def test_python_dash_m_sarclear_reports_one_line_and_exit_2(tmp_path: Path) -> None:
    paths = write_triplet(tmp_path)
    expected = _nan(paths)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "sarclear", "check", str(paths["s1"]), str(paths["s2_cloudy"]), str(paths["s2"])],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"sarclear: error: {paths['s1']}: {expected}; clean or mask the file first"]
    assert "Traceback" not in result.stderr
