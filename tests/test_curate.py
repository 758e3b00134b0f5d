"""`sarclear curate` end to end on hand-made tiles with known defects, and on the genuine triplets."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sarclear.cli import main
from sarclear.curate.measure import MeasureSettings
from sarclear.curate.rules import Thresholds
from sarclear.curate.run import curate
from sarclear.data.manifest import read_manifest, write_manifest
from sarclear.io.geotiff import write_raster
from tests.helpers import make_arrays, transform_for, write_triplet

SUMMER, WINTER = "ROIs1868_summer", "ROIs2017_winter"


def _flat(value: float, noise: float, seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(value, noise, (13, size, size)), 0, 65535).astype(np.uint16)


def _build(root: Path) -> dict[str, tuple[str, ...]]:
    """Write one triplet per defect; return sample_id -> expected reasons."""
    expected: dict[str, tuple[str, ...]] = {}

    def add(patch: int, reasons: tuple[str, ...], roi: str = SUMMER, transforms: dict | None = None, **arrays: np.ndarray):
        base = make_arrays(32, seed=patch)
        base.update(arrays)
        write_triplet(root, roi, scene=5, patch=patch, arrays=base, transforms=transforms)
        expected[f"{roi}_5_p{patch}"] = reasons

    add(1, ())
    add(2, ())
    add(3, (), roi=WINTER)
    add(4, ("low_optical_contrast",), s2=_flat(1000, 20, 4))
    # sigma about 6 in the 8-bit rendering: kept in winter, rejected in summer.
    add(5, (), roi=WINTER, s2=_flat(1000, 70, 5))
    add(6, ("low_optical_contrast",), s2=_flat(1000, 70, 5))
    add(7, ("no_sar_variance",), s1=np.full((2, 32, 32), -10.0, np.float32))
    below = make_arrays(32, 8)["s1"] - 40.0  # every pixel under the -25 / -32.5 dB clip
    add(8, ("no_sar_variance",), s1=below.astype(np.float32))
    nan_s1 = make_arrays(32, 9)["s1"]
    nan_s1[0, 3, 3] = np.nan
    add(9, ("nan_values",), s1=nan_s1)
    half_blank = make_arrays(32, 10)["s2"]
    half_blank[:, :16] = 0
    add(10, ("no_data",), s2=half_blank)
    add(11, ("no_data",), s2=np.zeros((13, 32, 32), np.uint16))  # no valid pixel: contrast not measurable
    flat_striped = _flat(1000, 20, 20)
    flat_striped[:, :, :10] = 0  # a fill stripe must not lend a featureless target its black-on-grey contrast
    add(20, ("no_data", "low_optical_contrast"), s2=flat_striped)
    add(12, ("band_count",), s1=np.zeros((3, 32, 32), np.float32) - 10 + make_arrays(32, 12)["s1"][:1])
    add(13, ("band_count",), s2_cloudy=make_arrays(32, 13)["s2_cloudy"].astype(np.float64))
    add(14, ("grid_mismatch",), transforms={"s1": transform_for(origin_x=500320.0)})
    cloudy_target = make_arrays(32, 15)["s2"]
    cloudy_target[:, :, :16] = 6000  # a white, opaque cloud over half the "clear" image
    add(15, ("cloudy_target",), s2=cloudy_target)
    add(16, ("missing_file",))
    (root / "ROIs1868_summer_s2_cloudy/s2_cloudy_5/ROIs1868_summer_s2_cloudy_5_p16.tif").unlink()
    add(17, ("corrupt_file",))
    (root / "ROIs1868_summer_s2/s2_5/ROIs1868_summer_s2_5_p17.tif").write_bytes(b"not a tiff at all")
    add(18, ("corrupt_file",))
    truncated = root / "ROIs1868_summer_s1/s1_5/ROIs1868_summer_s1_5_p18.tif"
    truncated.write_bytes(truncated.read_bytes()[:600])
    rgb = make_arrays(32, 19)
    add(19, (), s2=rgb["s2"][[3, 2, 1]], s2_cloudy=rgb["s2_cloudy"][[3, 2, 1]])  # 3-band RGB files
    return expected


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("root")
    expected = _build(root)
    before = _snapshot(root)
    out = tmp_path_factory.mktemp("out") / "curated"
    code = main(["curate", str(root), "--out", str(out), "--workers", "1", "--cloud-method", "brightness", "--quiet"])
    assert code == 0
    return {"root": root, "out": out, "expected": expected, "before": before}


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return {row["sample_id"]: row for row in csv.DictReader(handle)}


def test_every_tile_decided_for_the_right_reason(curated: dict) -> None:
    rows = _rows(curated["out"])
    assert set(rows) == set(curated["expected"])
    for sample_id, reasons in curated["expected"].items():
        row = rows[sample_id]
        assert tuple(r for r in row["reasons"].split(";") if r) == reasons, (sample_id, row["reasons"], row["errors"])
        assert row["kept"] == ("true" if not reasons else "false")


def test_winter_low_sigma_kept_where_summer_is_rejected(curated: dict) -> None:
    rows = _rows(curated["out"])
    winter, summer = rows[f"{WINTER}_5_p5"], rows[f"{SUMMER}_5_p6"]
    assert 3.0 < float(winter["contrast_sigma"]) < 10.0
    assert winter["contrast_sigma"] == summer["contrast_sigma"]
    assert (winter["kept"], summer["kept"]) == ("true", "false")


def test_manifest_is_readable_and_complete(curated: dict) -> None:
    samples = {s.sample_id: s for s in read_manifest(curated["out"] / "manifest.csv")}
    good = samples[f"{SUMMER}_5_p1"]
    assert good.kept and good.split == "train" and good.season == "summer" and good.s1_path.is_file()
    assert good.cloud_cover_pct is not None and 0.0 <= good.cloud_cover_pct <= 100.0
    assert samples[f"{SUMMER}_5_p16"].s2_cloudy_path == Path("")
    assert samples[f"{SUMMER}_5_p16"].cloud_cover_pct is None
    assert samples[f"{SUMMER}_5_p19"].stats["cloud_method"] == "brightness"
    meta = json.loads((curated["out"] / "manifest.json").read_text())
    assert meta["thresholds"]["season_sigma"]["winter"] == 3.0
    assert meta["measurement"]["display_max_dn"] == 3000.0
    assert "low_optical_contrast" in meta["reason_codes"]


def test_report_files(curated: dict) -> None:
    out = curated["out"]
    summary = (out / "summary.md").read_text()
    assert f"{len(curated['expected'])} triplets" in summary
    assert "| `no_sar_variance` | 2 |" in summary
    assert "`min_sar_std_db`: 0.5" in summary
    for name in ("sigma_histogram.png", "rejected_contact_sheet.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp*")), "no temporary file left behind"


def test_root_is_never_modified(curated: dict) -> None:
    assert _snapshot(curated["root"]) == curated["before"]


def test_output_inside_triplet_folder_is_refused(curated: dict, capsys: pytest.CaptureFixture) -> None:
    bad = curated["root"] / "ROIs1868_summer_s1" / "curated"
    assert main(["curate", str(curated["root"]), "--out", str(bad), "--quiet"]) == 2
    assert "inside the triplet folder" in capsys.readouterr().err
    assert not bad.exists()
    assert main(["curate", str(curated["root"]), "--out", str(curated["root"]), "--quiet"]) == 2


def test_bad_flags_exit_2(curated: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = str(curated["root"])
    assert main(["curate", root, "--out", str(tmp_path), "--season-sigma", "summer:3"]) == 2
    assert main(["curate", root, "--out", str(tmp_path), "--min-sar-std", "-1"]) == 2
    assert main(["curate", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert "season-sigma" in capsys.readouterr().err


def test_flattened_layout_and_process_pool(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    for folder, key in (("s1", "s1"), ("s2_cloudy", "s2_cloudy"), ("s2_cloudfree", "s2")):
        for patch in (1, 2, 3):
            arrays = make_arrays(32, seed=patch)
            if patch == 3 and key == "s1":
                arrays["s1"][:] = -12.0
            (root / folder).mkdir(parents=True, exist_ok=True)
            write_raster(root / folder / f"ROIs1970_fall_139_p{patch}.tif", arrays[key], crs="EPSG:32650", transform=transform_for())
    result = curate(
        root, tmp_path / "out", thresholds=Thresholds(), settings=MeasureSettings(cloud_method="none"), workers=2, progress=False
    )
    assert (result.total, result.kept, result.measured) == (3, 2, 3)
    rows = _rows(tmp_path / "out")
    assert rows["ROIs1970_fall_139_p3"]["reasons"] == "no_sar_variance"
    assert rows["ROIs1970_fall_139_p1"]["split"] == "test"
    assert rows["ROIs1970_fall_139_p1"]["cloud_cover_pct"] == ""


def test_genuine_triplets_have_plausible_statistics(real_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "real"
    shutil.copytree(real_root, root)
    result = curate(root, tmp_path / "out", thresholds=Thresholds(), settings=MeasureSettings(), workers=1, progress=False)
    assert (result.total, result.kept) == (2, 2)
    rows = _rows(tmp_path / "out")
    fall, winter = rows["ROIs1970_fall_139_p839"], rows["ROIs2017_winter_112_p797"]
    for row in (fall, winter):
        assert row["cloud_method"] == "s2cloudless"
        assert 8.0 < float(row["contrast_sigma"]) < 40.0
        assert -16.0 < float(row["vv_mean"]) < -6.0 and -22.0 < float(row["vh_mean"]) < -12.0
        assert 1.5 < float(row["vv_std"]) < 6.0 and 1.5 < float(row["vh_std"]) < 6.0
        assert float(row["nonfinite_frac"]) == 0.0 and float(row["nodata_frac"]) == 0.0
        assert float(row["target_cloud_cover_pct"]) < 5.0
        assert (row["width"], row["height"], row["s2_bands"]) == ("256", "256", "13")
    assert float(fall["cloud_cover_pct"]) > 30.0
    assert float(winter["cloud_cover_pct"]) < 20.0  # thin haze, not opaque cloud
    assert fall["split"] == "test" and winter["split"] == "train"


def test_manifest_cells_follow_the_columns_missing_ones_empty_extra_keys_left_out(tmp_path: Path) -> None:
    rows = [
        {"b": 0.1234567891, "a": True, "extra": "not a column", "c": ["x", "y"]},
        {"a": False, "c": None},  # no "b": an empty cell, as csv.DictWriter would write
    ]
    path = write_manifest(tmp_path / "manifest.csv", rows, ("a", "b", "c"))
    assert path.read_text().splitlines() == ["a,b,c", "true,0.123457,x;y", "false,,"]


def test_an_l2a_dataset_gets_the_spectral_test_and_says_why_per_row(tmp_path: Path) -> None:
    """SEN12MS-CR's layout with L2A stacks (12 bands, no B10) as a user's own export: curation runs
    the spectral test, not s2cloudless and not RGB brightness, and the manifest says so per row."""
    import rasterio

    from sarclear.data.bands import S2_BANDS
    from sarclear.data.cloud_bands import L2A_BANDS
    from sarclear.data.synthetic import generate_dataset

    root = tmp_path / "data"
    generate_dataset(root, scenes=1, patches=2, size=32, seasons=("summer",), seed=0, bad_fraction=0.0, progress=False)
    keep = [S2_BANDS.index(b) + 1 for b in L2A_BANDS]
    optical = sorted(set(root.rglob("*_s2_*.tif")))
    assert len(optical) == 4  # two patches, clear and cloudy
    for path in optical:
        with rasterio.open(path) as src:
            data, profile = src.read(keep), src.profile | {"count": len(keep)}
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    out = tmp_path / "out"
    assert main(["curate", str(root), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    with (out / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(row["cloud_method"] == "spectral" for row in rows)
    assert all("no B10" in row["cloud_warning"] for row in rows)


def test_wrong_roots_outputs_inside_the_root_and_misspelt_seasons_are_refused(curated: dict, tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """Each was exit 0 with a useless result: a modality folder as ROOT rejected every triplet as
    missing_file; an --out inside ROOT wrote into the dataset; `sumer=20` was stored and ignored."""
    root = curated["root"]
    assert main(["curate", str(root / "ROIs1868_summer_s1"), "--out", str(tmp_path / "a"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is one modality's folder" in err and f"give the folder above it ({root.resolve()})" in err
    assert main(["curate", str(root), "--out", str(root / "curated"), "--quiet"]) == 2
    assert "inside the dataset root" in capsys.readouterr().err and not (root / "curated").exists()
    assert main(["curate", str(root), "--out", str(tmp_path / "b"), "--season-sigma", "sumer=20", "--quiet"]) == 2
    assert "--season-sigma sumer: no triplet of this dataset has that season" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert _snapshot(root) == curated["before"]


def test_a_missing_file_is_named_in_the_errors_column(curated: dict) -> None:
    rows = {row["sample_id"]: row for row in csv.DictReader((curated["out"] / "manifest.csv").open(newline=""))}
    missing = [row for row in rows.values() if "missing_file" in row["reasons"]]
    assert missing and all(f"{row['sample_id']}: no " in row["errors"] and " file found" in row["errors"] for row in missing)
