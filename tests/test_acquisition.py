"""How far apart the radar and the optical image were acquired, read from what genuine files carry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sarclear.cli import main
from sarclear.io.acquisition import acquisition_gap, date_from_names, s1_date
from sarclear.predict.scene import inspect_scene

REAL = Path(__file__).parent / "data" / "real-scenes"
SSL4EO_S1 = REAL / "ssl4eo-s12" / "s1" / "0000200" / "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
L1C_JUNE = REAL / "ssl4eo-s12" / "s2c" / "0000200" / "20200604T054639_20200604T054831_T43RCP"
L1C_AUGUST = REAL / "ssl4eo-s12" / "s2c" / "0000200" / "20200823T054639_20200823T055618_T43RCP"
GRD = REAL / "s1-grd" / "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457.SAFE"
BEN = REAL / "bigearthnet-v1"


def logged(s2: Path, s1: Path) -> list[str]:
    lines: list[str] = []
    inspect_scene(s2, s1, use_sar=True, bands="rgb", log=lines.append)
    return [line for line in lines if line.startswith(("acquired", "WARNING: the radar"))]


def test_three_days_apart_is_said_and_eleven_weeks_is_a_warning() -> None:
    assert logged(L1C_JUNE, SSL4EO_S1) == ["acquired: optical 2020-06-04, radar 2020-06-07 (3 days apart)"]
    lines = logged(L1C_AUGUST, SSL4EO_S1)
    assert lines[0] == "acquired: optical 2020-08-23, radar 2020-06-07 (77 days apart)"
    assert lines[1].startswith("WARNING: the radar was acquired 77 days from the optical image") and "closer in time" in lines[1]


def test_dates_from_product_names_folders_and_prepare_s1s_tag(tmp_path: Path) -> None:
    # BigEarthNet: S1 and S2 folders named after their products, the same day
    s2 = next((BEN / "BigEarthNet-S2-Example").iterdir())
    s1 = next((BEN / "BigEarthNet-S1-Example").iterdir())
    assert acquisition_gap(s2, s1) == (date(2017, 6, 13), date(2017, 6, 13), 0)
    # BigEarthNet v1 drops the time's leading zero (genuine: S2B_MSIL2A_20170924T93020_69_24)
    assert date_from_names(tmp_path / "S2B_MSIL2A_20170924T93020_69_24" / "S2B_MSIL2A_20170924T93020_69_24_B04.tif") == date(2017, 9, 24)
    # a file's own name comes before its folders'
    assert date_from_names(SSL4EO_S1 / "VV.tif") == date(2020, 6, 7)
    assert date_from_names(tmp_path / "S2B_MSIL2A_20230105T101329_N0509" / "T32TMT_20230612T103031_B04.tif") == date(2023, 6, 12)
    # prepare-s1's output has no date in its name: its tag says when
    out = tmp_path / "s1.tif"
    assert main(["prepare-s1", str(GRD), "--like", str(L1C_JUNE), "--out", str(out), "--quiet"]) == 0
    assert s1_date(out) == date(2020, 6, 7)
    assert acquisition_gap(L1C_JUNE, out)[2] == 3
    # SEN12MS-CR's files carry no date: nothing is said
    root = Path(__file__).parent / "data" / "sen12mscr-real"
    s1_file = root / "ROIs1970_fall_s1" / "s1_139" / "ROIs1970_fall_s1_139_p839.tif"
    s2_file = root / "ROIs1970_fall_s2_cloudy" / "s2_cloudy_139" / "ROIs1970_fall_s2_cloudy_139_p839.tif"
    assert acquisition_gap(s2_file, s1_file) is None
    assert logged(s2_file, s1_file) == []


def test_prepare_s1_says_how_far_the_radar_is_from_the_like_scene(tmp_path: Path, capsys) -> None:
    assert main(["prepare-s1", str(GRD), "--like", str(L1C_AUGUST), "--out", str(tmp_path / "s1.tif"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "acquired: optical 2020-08-23, radar 2020-06-07 (77 days apart)" in out
    assert err.startswith("WARNING: the radar was acquired 77 days from the optical image")
    assert main(["prepare-s1", str(GRD), "--like", str(L1C_JUNE), "--out", str(tmp_path / "s1b.tif"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "(3 days apart)" in out and err == ""
