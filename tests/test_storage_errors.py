"""A write the file system refuses is the user's to fix: one line naming the file and the fix, exit 2.

Read-only mounts and full disks cannot be made portably in a test (root ignores permissions), so
those are checked through the exceptions the libraries raise for them; a file in the way of an
output folder is made for real.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from sarclear.cli import main
from sarclear.storage_errors import storage_problem


def _raised_from(inner: BaseException, outer: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as chained:
        return chained


def test_a_refused_write_anywhere_in_the_chain_is_one_line_with_the_file_and_the_fix() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/data/run/checkpoints/.best.new-1/generator.safetensors")
    assert storage_problem(_raised_from(full, RuntimeError("saving failed"))) == (
        "/data/run/checkpoints/.best.new-1/generator.safetensors: no space left on the device: free some, or write to another disk")
    read_only = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/out.tif")
    assert storage_problem(read_only).startswith("/mnt/ro/out.tif: read-only file system")
    # Libraries that word it instead of raising an OSError (safetensors, GDAL, a dead worker's message)
    worded = RuntimeError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: \"No space left on device\" })")
    assert storage_problem(worded).endswith(": free some, or write to another disk")
    # Anything else keeps its traceback: it may be a bug
    assert storage_problem(ValueError("shapes do not match")) is None
    assert storage_problem(OSError(errno.ENOENT, "No such file or directory", "x")) is None


def test_a_file_in_the_way_of_an_output_folder_is_exit_2_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    in_the_way = tmp_path / "afile"
    in_the_way.write_text("not a folder")
    data = tmp_path / "data"
    assert main(["synth", str(data), "--scenes", "1", "--patches", "1", "--size", "32", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["curate", str(data), "--out", str(in_the_way / "sub"), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"sarclear: error: {in_the_way / 'sub'}: part of the path is a file, not a folder: give another output path"]
    assert main(["curate", str(data), "--out", str(in_the_way), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"sarclear: error: {in_the_way}: already exists and is in the way")
    assert in_the_way.read_text() == "not a folder"


def test_synth_refuses_a_folder_that_already_holds_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """synth into an existing dataset replaced some tiles and its truth file and left the rest:
    no manifest made of it matched its files any more."""
    data = tmp_path / "data"
    assert main(["synth", str(data), "--scenes", "1", "--patches", "2", "--size", "32", "--quiet"]) == 0
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file()}
    assert main(["synth", str(data), "--scenes", "1", "--patches", "1", "--size", "32", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds" in err[0] and "give a new or empty folder" in err[0]
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file()} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["synth", str(empty), "--scene-size", "32", "--quiet"]) == 0  # an empty folder is fine
    assert main(["synth", str(empty), "--scene-size", "32", "--quiet"]) == 2  # its scene is not overwritten


def test_demo_refuses_a_folder_that_already_holds_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old.txt").write_text("an earlier demo")
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 2
    assert "already holds files (an earlier demo?)" in capsys.readouterr().err
