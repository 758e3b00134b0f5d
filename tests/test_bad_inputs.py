"""Bad inputs a user really brings (issue 12): each fails with exit 2, ONE stderr line naming the
file and the fix, and nothing left behind in the output folder.

Covered: S2 without a CRS, an 8-bit S2, S1 in linear power or amplitude, S1 and S2 swapped,
`--out x.png`, a truncated TIFF (predict and train), errors in DataLoader workers (train and
evaluate with --workers 2), a hand-written manifest without scene or split. SIGTERM and pixel
sizes in degrees are here too (exit 143 and a log line rather than exit 2).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from sarclear.cli import main
from sarclear.data.manifest import CORE_COLUMNS, read_manifest, write_manifest
from sarclear.errors import LayoutError
from sarclear.io import write_raster
from sarclear.models.checkpoint import save_generator
from sarclear.models.spec import ModelSpec
from sarclear.predict.input_checks import linear_scale_factor
from sarclear.predict.scene import inspect_scene
from tests.helpers import make_arrays, write_triplet

REPO = Path(__file__).resolve().parents[1]
CRS = "EPSG:32631"
TRANSFORM = from_origin(600000.0, 5100000.0, 10.0, 10.0)
SPEC = ModelSpec(ngf=4, n_down=5, tile_size=32)
REAL_S1 = REPO / "tests/data/sen12mscr-real/ROIs1970_fall_s1/s1_139/ROIs1970_fall_s1_139_p839.tif"
REAL_S2 = REPO / "tests/data/sen12mscr-real/ROIs1970_fall_s2_cloudy/s2_cloudy_139/ROIs1970_fall_s2_cloudy_139_p839.tif"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "generator.safetensors"
    return save_generator(path, SPEC.build(), SPEC)


def s1_db(size: int, seed: int = 0) -> np.ndarray:
    """VV ~ -11 dB, VH ~ 6.5 dB below it: the medians of genuine S1 (see `input_checks.S1_TYPICAL_DB`)."""
    rng = np.random.default_rng(seed)
    vv = rng.normal(-11, 3, (size, size))
    return np.stack([vv, vv - 6.5 + rng.normal(0, 1.5, (size, size))]).astype(np.float32)


def write_scene(folder: Path, size: int = 40, *, s2: np.ndarray | None = None, s1: np.ndarray | None = None, s2_crs: str | None = CRS) -> tuple[Path, Path]:
    """S1 (dB) and 13-band S2 (DN) on one grid in `folder`; returns (s1, s2)."""
    folder.mkdir(parents=True, exist_ok=True)
    if s2 is None:
        s2 = np.random.default_rng(1).integers(200, 4000, (13, size, size)).astype(np.uint16)
    return (
        write_raster(folder / "s1.tif", s1 if s1 is not None else s1_db(size), crs=CRS, transform=TRANSFORM),
        write_raster(folder / "s2.tif", s2, crs=s2_crs, transform=TRANSFORM),
    )


def one_error_line(capsys: pytest.CaptureFixture[str], culprit: Path) -> str:
    """The single stderr line, checked to start with the contract's prefix and the file's name."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"sarclear: error: {culprit}: "), lines[0]
    return lines[0]


def predict(checkpoint: Path, s1: Path, s2: Path, out: Path, *extra: str) -> int:
    return main(["predict", "--checkpoint", str(checkpoint), "--s1", str(s1), "--s2", str(s2), "--out", str(out), "--quiet", *extra])


def refused(checkpoint: Path, s1: Path, s2: Path, culprit: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run predict, assert exit 2, one line naming `culprit`, and no new file in the folder."""
    folder = s2.parent
    before = sorted(p.name for p in folder.iterdir())
    assert predict(checkpoint, s1, s2, folder / "out.tif", *extra) == 2
    assert sorted(p.name for p in folder.iterdir()) == before  # no output, no hidden work file
    return one_error_line(capsys, culprit)


# -- S2 that is not what the model can use -------------------------------------------------------

def test_s2_without_crs_is_refused_with_how_to_georeference(tmp_path: Path, checkpoint: Path, capsys) -> None:
    s1, s2 = write_scene(tmp_path, s2_crs=None)
    line = refused(checkpoint, s1, s2, s2, capsys)
    assert "has no CRS" in line and "gdal_edit.py -a_srs" in line


def test_8bit_s2_is_refused_as_a_rendering(tmp_path: Path, checkpoint: Path, capsys) -> None:
    picture = np.random.default_rng(0).integers(0, 255, (3, 40, 40)).astype(np.uint8)
    s1, s2 = write_scene(tmp_path, s2=picture)
    line = refused(checkpoint, s1, s2, s2, capsys)
    assert "is 8-bit (uint8)" in line and "uint16, reflectance x 10000" in line


# -- S1 in linear units: power or amplitude, and the matching fix ---------------------------------

@pytest.mark.parametrize(("scale", "kind"), [(10, "power"), (20, "amplitude")])
def test_linear_s1_gets_the_fix_for_its_own_units(tmp_path: Path, checkpoint: Path, capsys, scale: int, kind: str) -> None:
    db = s1_db(40)
    linear = (10.0 ** (db / scale)).astype(np.float32)
    s1, s2 = write_scene(tmp_path, s1=linear)
    line = refused(checkpoint, s1, s2, s1, capsys)
    assert f"looks like linear {kind}" in line and f"convert with {scale}*log10(x)" in line
    fixed = (scale * np.log10(linear)).astype(np.float32)  # the fix the message names
    write_raster(s1, fixed, crs=CRS, transform=TRANSFORM)
    assert inspect_scene(s2, s1, use_sar=True, bands="rgb").s1 is not None


@pytest.mark.parametrize("scale", [10, 20])
def test_power_and_amplitude_of_genuine_s1_are_told_apart(scale: int) -> None:
    """Genuine SEN12MS-CR backscatter (dB) turned into power and amplitude, also at +/- 4 dB
    (a brighter town, a darker lake-filled scene): the VH/VV gap keeps them apart."""
    with rasterio.open(REAL_S1) as src:
        vv_db, vh_db = src.read().astype(np.float64)
    for shift in (-4.0, 0.0, 4.0):
        vv, vh = (10.0 ** ((band + shift) / scale) for band in (vv_db, vh_db))
        assert linear_scale_factor(vv.ravel(), vh.ravel()) == scale, shift


# -- swapped inputs -----------------------------------------------------------------------------

def test_s1_and_s2_swapped_get_a_hint(tmp_path: Path, checkpoint: Path, capsys) -> None:
    s1, s2 = write_scene(tmp_path)
    line = refused(checkpoint, s2, s1, s1, capsys)  # --s1 S2.tif --s2 S1.tif
    assert "looks like Sentinel-1" in line and line.endswith("did you swap --s1 and --s2?")


def test_an_s2_stack_given_as_s1_gets_the_hint(tmp_path: Path, checkpoint: Path, capsys) -> None:
    _, s2 = write_scene(tmp_path)
    other = shutil.copy(s2, tmp_path / "other_s2.tif")
    line = refused(checkpoint, Path(other), s2, Path(other), capsys)
    assert "wrong band count: has 13" in line and line.endswith("did you swap --s1 and --s2?")


SSL4EO = Path(__file__).parent / "data" / "real-scenes" / "ssl4eo-s12"


@pytest.mark.parametrize(("s1", "s2", "named", "says"), [
    ("s2c/0000200/20200823T054639_20200823T055618_T43RCP", "s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457",
     "s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457",
     "holds VV and VH files: a Sentinel-1 folder, not a Sentinel-2 product; did you swap --s1 and --s2?"),
    ("s1/0000200", "s2c/0000200/20200823T054639_20200823T055618_T43RCP", "s1/0000200",
     "holds no band files but 1 product folder(s) (S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457): give one of them"),
    ("s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457", "s2c/0000200", "s2c/0000200",
     "holds no band files but 2 product folder(s) (20200604T054639_20200604T054831_T43RCP, 20200823T054639_20200823T055618_T43RCP): "
     "give one of them"),
])  # fmt: skip
def test_genuine_folders_of_the_wrong_kind_say_what_they_are(tmp_path: Path, capsys, s1: str, s2: str, named: str, says: str) -> None:
    """SSL4EO-S12 as downloaded: the S1 and S2 product folders swapped, or a location's folder of
    dates given instead of one date (each said "not a Sentinel-2 product", for S1 too)."""
    assert main(["adapt", "--s1", str(SSL4EO / s1), "--s2", str(SSL4EO / s2), "--out", str(tmp_path / "out.tif"), "--steps", "2", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"sarclear: error: {SSL4EO / named}: {says}"


# -- output name ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fmt"), [("x.png", "png"), ("x.JPG", "jpeg"), ("x.jpeg", "jpeg")])
def test_out_picture_name_points_to_format(tmp_path: Path, checkpoint: Path, capsys, name: str, fmt: str) -> None:
    s1, s2 = write_scene(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert predict(checkpoint, s1, s2, tmp_path / name) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sarclear: error: {tmp_path / name}: ")
    assert f"--out x.tif --format {fmt}" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- truncated files ------------------------------------------------------------------------------

def truncated_copy(source: Path, target: Path, share: float = 0.9) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * share)])  # header intact, the last strips cut off
    return target


def test_truncated_s2_is_found_before_any_pixel_is_predicted(tmp_path: Path, checkpoint: Path, capsys, monkeypatch) -> None:
    """A genuine SEN12MS-CR S2 tile cut to 90 %: refused from its TIFF directory, before the model runs."""
    s2 = truncated_copy(REAL_S2, tmp_path / "s2.tif")
    s1 = tmp_path / "s1.tif"
    shutil.copy(REAL_S1, s1)
    import sarclear.predict.pipeline as pipeline

    def no_rows(*args, **kwargs):
        raise AssertionError("the scene was streamed although an input is truncated")

    monkeypatch.setattr(pipeline, "predicted_rows", no_rows)
    line = refused(checkpoint, s1, s2, s2, capsys)
    assert "truncated: the file has" in line and "(90% present); copy or download it again" in line


def test_truncated_tile_fails_train_before_the_first_step(tmp_path: Path, capsys) -> None:
    paths = write_triplet(tmp_path / "data", arrays=make_arrays(64))
    write_raster(paths["s2"], make_arrays(64)["s2"], crs="EPSG:32631", transform=from_origin(500000.0, 5000000.0, 10.0, 10.0), compress="none")
    truncated_copy(paths["s2"], paths["s2"], 0.8)
    manifest = _manifest(tmp_path / "manifest.csv", [paths], split="train")
    run = tmp_path / "run"
    code = main(["train", "--manifest", str(manifest), "--out", str(run), "--size", "32", "--ngf", "4", "--ndf", "4",
                 "--max-steps", "1", "--workers", "0", "--precision", "32", "--quiet"])
    assert code == 2
    assert "truncated: the file has" in one_error_line(capsys, paths["s2"])
    assert not (run / "checkpoints").exists()


# -- errors inside DataLoader workers -------------------------------------------------------------

def _manifest(path: Path, triplets: list[dict[str, Path]], split: str) -> Path:
    rows = [
        {"sample_id": f"tile{i}", "split": split, "kept": True, "s1_path": p["s1"], "s2_cloudy_path": p["s2_cloudy"], "s2_path": p["s2"]}
        for i, p in enumerate(triplets)
    ]
    return write_manifest(path, rows, CORE_COLUMNS)


def _nan_triplets(root: Path, count: int = 4) -> tuple[list[dict[str, Path]], Path]:
    """`count` good 64 px triplets, the last with a NaN in S1: headers pass, pixels fail in a worker."""
    triplets = [write_triplet(root, scene=1, patch=i + 1, arrays=make_arrays(64, seed=i)) for i in range(count)]
    bad = make_arrays(64, seed=99)
    bad["s1"][0, 3, 3] = np.nan
    write_raster(triplets[-1]["s1"], bad["s1"], crs="EPSG:32631", transform=from_origin(500000.0, 5000000.0, 10.0, 10.0))
    return triplets, triplets[-1]["s1"]


def test_error_in_an_evaluate_worker_is_one_line(tmp_path: Path, capsys) -> None:
    triplets, culprit = _nan_triplets(tmp_path / "data")
    manifest = _manifest(tmp_path / "manifest.csv", triplets, split="test")
    out = tmp_path / "eval"
    code = main(["evaluate", "--manifest", str(manifest), "--out", str(out), "--baseline", "identity",
                 "--workers", "2", "--batch-size", "1", "--quiet"])
    assert code == 2
    assert "1 NaN/inf pixel value(s)" in one_error_line(capsys, culprit)
    assert not out.exists() or not list(out.iterdir())


def test_error_in_a_train_worker_is_one_line(tmp_path: Path, capsys) -> None:
    triplets, culprit = _nan_triplets(tmp_path / "data")
    manifest = _manifest(tmp_path / "manifest.csv", triplets, split="train")
    code = main(["train", "--manifest", str(manifest), "--out", str(tmp_path / "run"), "--size", "32", "--ngf", "4", "--ndf", "4",
                 "--max-steps", "8", "--batch-size", "1", "--workers", "2", "--precision", "32", "--quiet"])
    assert code == 2
    assert "1 NaN/inf pixel value(s)" in one_error_line(capsys, culprit)


# -- hand-written manifests -----------------------------------------------------------------------

def _hand_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["sample_id", "s1_path", "s2_cloudy_path", "s2_path"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_manifest_without_scene_takes_the_split_from_sen12mscr_names(tmp_path: Path) -> None:
    rows = []
    for roi, scene in (("ROIs1868_summer", 73), ("ROIs1868_summer", 17), ("ROIs2017_winter", 5)):  # test, val, train
        paths = {m: f"{roi}_{m}/{m}_{scene}/{roi}_{m}_{scene}_p3.tif" for m in ("s1", "s2_cloudy", "s2")}
        rows.append({"sample_id": f"my-own-id-{scene}", "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"], "s2_path": paths["s2"]})
    samples = read_manifest(_hand_manifest(tmp_path / "manifest.csv", rows))
    assert [(s.season, s.scene, s.split) for s in samples] == [("summer", "73", "test"), ("summer", "17", "val"), ("winter", "5", "train")]


def test_manifest_without_scene_or_sen12mscr_names_is_an_error(tmp_path: Path, capsys) -> None:
    rows = [{"sample_id": "field_a", "s1_path": "a_s1.tif", "s2_cloudy_path": "a_cloudy.tif", "s2_path": "a_clear.tif"}]
    manifest = _hand_manifest(tmp_path / "manifest.csv", rows)
    with pytest.raises(LayoutError, match="add a split column"):
        read_manifest(manifest)
    assert main(["evaluate", "--manifest", str(manifest), "--out", str(tmp_path / "eval"), "--baseline", "identity", "--quiet"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.splitlines() == [line] and line.startswith(f"sarclear: error: {manifest}: line 2: no split for 'field_a'")
    assert not (tmp_path / "eval").exists()


# -- pixel sizes in degrees -----------------------------------------------------------------------

def test_pixel_size_in_degrees_is_logged_as_degrees(tmp_path: Path) -> None:
    """An SSL4EO-S12-like pair in EPSG:4326, S1 on a coarser grid: the reprojection log says degrees."""
    deg = 10 / 111_320
    s2 = write_raster(tmp_path / "s2.tif", np.full((13, 40, 40), 1500, np.uint16), crs="EPSG:4326", transform=from_origin(77.0, 29.0, deg, deg))
    s1 = write_raster(tmp_path / "s1.tif", s1_db(20), crs="EPSG:4326", transform=from_origin(77.0, 29.0, 2 * deg, 2 * deg))
    lines: list[str] = []
    inspect_scene(s2, s1, use_sar=True, bands="rgb", log=lines.append)
    warp = next(line for line in lines if "on another grid" in line)
    assert "0.0001797° (~20 m)" in warp and " m," not in warp.split("px, ")[1].split(",")[0].replace("(~20 m)", "")


# -- SIGTERM --------------------------------------------------------------------------------------

def test_sigterm_during_predict_leaves_no_work_file(tmp_path: Path, checkpoint: Path) -> None:
    """Slurm's SIGTERM while predict streams rows: exit 143, and the folder holds only the inputs."""
    s1, s2 = write_scene(tmp_path / "scene", 512)
    out = tmp_path / "scene" / "out.tif"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "sarclear", "predict", "--checkpoint", str(checkpoint), "--s1", str(s1), "--s2", str(s2),
               "--out", str(out), "--tile", "32", "--overlap", "16", "--batch-size", "1", "--device", "cpu", "--quiet"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".out.work-") for p in out.parent.iterdir()):
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no work file appeared"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1] == "sarclear: terminated (SIGTERM); no partial output kept"
    assert sorted(p.name for p in out.parent.iterdir()) == ["s1.tif", "s2.tif"]


def test_check_prints_a_geographic_pixel_in_degrees(tmp_path: Path, capsys) -> None:
    deg = 10 / 111_320
    grid = {m: from_origin(77.0, 29.0, deg, deg) for m in ("s1", "s2_cloudy", "s2")}
    paths = write_triplet(tmp_path, crs="EPSG:4326", transforms=grid)
    assert main(["check", str(paths["s1"]), str(paths["s2_cloudy"]), str(paths["s2"])]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "EPSG:4326, pixel 8.983e-05° (~10 m)," in first


def test_two_scene_synthetic_set_trains(tmp_path: Path, capsys) -> None:
    """`synth --scenes 2` used to give test and val scenes only, so `train` found no row to train on."""
    from sarclear.data.layout import official_paths
    from sarclear.data.synthetic import read_truth

    data = tmp_path / "synth"
    assert main(["synth", str(data), "--scenes", "2", "--patches", "2", "--size", "32", "--seasons", "summer",
                 "--bad-fraction", "0", "--quiet"]) == 0
    tiles = read_truth(data)
    assert sorted({t.split for t in tiles}) == ["test", "train"]
    rows = [{"sample_id": t.sample_id, "scene": t.scene, "patch": t.patch, "kept": True,
             **{f"{m}_path": p for m, p in official_paths(data, t.roi, t.scene, t.patch).items()}} for t in tiles]
    manifest = write_manifest(tmp_path / "manifest.csv", rows, CORE_COLUMNS)
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(manifest), "--out", str(run), "--size", "32", "--ngf", "4", "--ndf", "4",
                 "--max-steps", "1", "--workers", "0", "--precision", "32", "--quiet"]) == 0
    assert (run / "checkpoints" / "last" / "generator.safetensors").is_file()


def test_an_error_raised_while_unwinding_from_sigterm_is_still_the_sigterm(monkeypatch, capsys) -> None:
    """The signal can land inside a library's own clean-up (rasterio's environment stack raised
    `EnvError` on the way out): exit 143 with the usual line, not exit 1 with a traceback."""
    import sarclear.commands.doctor as command
    from sarclear.signals import Terminated

    def stopped_inside_a_library(_args) -> int:
        try:
            raise Terminated("signal 15")
        except Terminated:
            raise RuntimeError("No GDAL environment exists")  # noqa: B904 (the implicit context is the point)

    monkeypatch.setattr(command, "run", stopped_inside_a_library)
    assert main(["doctor"]) == 143
    err = capsys.readouterr().err
    assert err.strip() == "sarclear: terminated (SIGTERM); no partial output kept" and "Traceback" not in err


def test_a_read_after_the_scene_reader_closed_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """predict's read-ahead thread, caught by a signal, may try one more read after the datasets
    closed; GDAL on a closed dataset crashed the process (SIGSEGV), a refused read cannot."""
    from sarclear.predict.reader import SceneReader

    s1, s2 = write_scene(tmp_path, 40)
    inputs = inspect_scene(s2, s1, use_sar=True, bands="rgb")
    with SceneReader(inputs) as reader:
        assert reader.s2(0, 8, inputs.rgb_bands).shape == (3, 8, 40)
    with pytest.raises(RuntimeError, match="read after the scene reader was closed"):
        reader.s2(0, 8, inputs.rgb_bands)


def test_check_takes_a_genuine_pair_without_target_as_predict_reads_it(capsys) -> None:
    """SSL4EO-S12's per-band L1C folder and its S1 folder on their own grid: `check S1 S2` says how
    predict and adapt will read the pair (S1 reprojected, the 77-day gap warned) instead of the
    triplet check's "grid mismatch"; a swapped pair is the same one-line refusal predict gives."""
    s1 = SSL4EO / "s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
    s2 = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP"
    assert main(["check", str(s1), str(s2)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "ok: predict and adapt take this pair; the output will be on the S2 grid of 99 x 98 px (headers and sampled pixels checked, not every pixel)"
    assert any(line.startswith("s1 ") and "reprojected onto the S2 grid (bilinear)" in line for line in out)
    assert any(line.startswith("s2 ") and "level L1C, offset removed 0 DN" in line for line in out)
    assert any("77 days from the optical image" in line for line in out)
    assert "cloud mask (predict --composite, adapt): detected with s2cloudless (the 13 L1C bands" in "\n".join(out)
    assert main(["check", str(s1), str(SSL4EO / "s2a/0000200/20200813T054639_20200813T054952_T43RCP")]) == 0
    mask_line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("cloud mask")]
    assert len(mask_line) == 1 and "Fmask's spectral tests (12 bands named, no B10" in mask_line[0]  # the L2A of 08-13
    assert main(["check", str(s2), str(s1)]) == 2
    assert capsys.readouterr().err.strip().endswith("did you swap --s1 and --s2?")
    assert main(["check", str(s1 / "VV.tif"), str(s1 / "VH.tif"), str(s2)]) == 0  # S1 as its two files
    assert capsys.readouterr().out.splitlines()[-1].startswith("ok: predict and adapt take this pair")
