"""`sarclear doctor`: what it reports is what the commands would do, and a broken part of the
installation is one failed line with its fix (exit 2), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sarclear import doctor
from sarclear.cli import main
from sarclear.data import s2cloudless_fast
from sarclear.predict.engine import default_device
from sarclear.train.precision import resolve_precision


def _by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def test_doctor_on_this_machine_passes_and_reports_what_the_commands_pick(capsys) -> None:
    assert main(["doctor", "--json"]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert {c["status"] for c in checks.values()} <= set(doctor.STATUSES)
    assert not [c for c in checks.values() if c["status"] == "fail"], checks
    import rasterio

    assert checks["rasterio"]["detail"].startswith(f"{rasterio.__version__}, GDAL {rasterio.__gdal_version__}")
    for driver in ("GTiff", "COG", "VRT", "JP2OpenJPEG", "SENTINEL2"):
        assert checks[f"gdal {driver}"]["status"] == "ok"
    train = resolve_precision("auto", default_device()).name
    assert f"--precision auto: train {train}," in checks["precision"]["detail"]
    assert checks["proj"]["status"] == "ok"


def test_text_report_puts_each_fix_under_its_problem() -> None:
    text = doctor.render([doctor.Check("torch", "ok", "2.13"), doctor.Check("proj", "fail", "no proj.db", "unset PROJ_DATA")])
    assert text.splitlines() == ["ok    torch  2.13", "fail  proj   no proj.db", "             fix: unset PROJ_DATA"]


def test_a_broken_proj_database_fails_with_the_fix_and_exit_code_2(tmp_path: Path) -> None:
    env = {**os.environ, "PROJ_DATA": str(tmp_path), "PROJ_LIB": str(tmp_path)}  # a folder without proj.db
    done = subprocess.run([sys.executable, "-m", "sarclear", "doctor"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert done.stderr.startswith("sarclear doctor: proj: ") and "unset PROJ_DATA" in done.stderr
    assert "fail  proj" in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_missing_rasterio_is_a_failed_line_not_a_traceback(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "rasterio", None)  # `import rasterio` now raises ImportError
    monkeypatch.setitem(sys.modules, "rasterio.warp", None)
    checks = doctor.check_gdal()
    assert [(c.name, c.status) for c in checks] == [("rasterio", "fail")] and "pip install rasterio" in checks[0].fix


def test_a_check_that_crashes_is_reported_as_failed_and_the_others_still_run(monkeypatch) -> None:
    def broken() -> doctor.Check:
        raise OSError("libgomp.so.1: cannot open shared object file")

    monkeypatch.setattr(doctor, "check_threads", broken)
    checks = _by_name(doctor.diagnose())
    assert checks["threads"].status == "fail" and "libgomp" in checks["threads"].detail
    assert checks["rasterio"].status == "ok" and checks["proj"].status == "ok"


def test_cpu_only_torch_on_a_gpu_machine_is_a_warning_with_the_fix(monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device = _by_name(doctor.check_torch())["device"]
    assert device.status == "warn" and "CPU-only build" in device.detail and "pytorch.org" in device.fix


def test_cloud_booster_without_a_compiler_says_the_slow_path_and_the_fix(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SARCLEAR_CACHE_DIR", str(tmp_path))  # nothing built there
    monkeypatch.setattr(s2cloudless_fast, "compiler", lambda: None)
    booster = _by_name(doctor.check_clouds(build=False, log=print))["cloud booster"]
    assert booster.status == "warn" and "no C compiler" in booster.detail and "10x slower" in booster.detail
    assert "gcc" in booster.fix


@pytest.mark.skipif(s2cloudless_fast.compiler() is None, reason="needs a C compiler")
def test_cloud_booster_status_follows_the_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SARCLEAR_CACHE_DIR", str(tmp_path))
    assert "not built yet" in _by_name(doctor.check_clouds(build=False, log=print))["cloud booster"].detail
    folder = s2cloudless_fast.library_dir(s2cloudless_fast.model_file())
    folder.mkdir(parents=True)
    (folder / s2cloudless_fast.LAYOUT_FILENAME).write_text("{}")  # what a finished build leaves
    booster = _by_name(doctor.check_clouds(build=False, log=print))["cloud booster"]
    assert booster.status == "ok" and booster.detail == f"compiled, cached in {folder}"
    old = folder.with_name("booster-0123456789abcdef-tl2cgen-linux-x86_64")  # an earlier release's build
    old.mkdir()
    (old / "block0.so").write_bytes(b"x" * 2**20)
    listed = _by_name(doctor.check_clouds(build=False, log=print))["old boosters"]
    assert listed.detail.startswith("1 other build folder(s) beside it, 1.0 MiB") and old.is_dir()  # said, not deleted


def test_an_unexpected_error_keeps_exit_code_1_and_points_at_doctor(monkeypatch, capsys) -> None:
    import sarclear.commands.doctor as command

    def bug(_args) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(command, "run", bug)
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "Traceback" in err and err.strip().endswith("and the cloud detector)")
