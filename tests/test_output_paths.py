"""`--out` that cannot be written, or would overwrite an input, is refused in one line before any work.

Genuine SSL4EO-S12 per-band folders (copied: a failing test must not touch the project's data), so
that the input a user can overwrite is a band file of the folder given as `--s2`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import rasterio

from sarclear.cli import main

DATA = Path(__file__).parent / "data"
SSL4EO = DATA / "real-scenes" / "ssl4eo-s12"
SCENE = SSL4EO / "s2c/0000200/20200823T054639_20200823T055618_T43RCP"
S1 = SSL4EO / "s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
MODEL = DATA / "small-model" / "generator.safetensors"


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SCENE, tmp_path / "s2c" / SCENE.name))


def _adapt(scene: Path, out: Path | str, *extra: str) -> int:
    budget = [] if "--minutes" in extra else ["--steps", "2"]
    return main(["adapt", "--s1", str(S1), "--s2", str(scene), "--out", str(out), *budget, "--ngf", "4", "--batch-size", "2",
                 "--quiet", *extra])  # fmt: skip


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("command", ["adapt", "predict"])
def test_an_output_naming_a_band_file_of_the_input_folder_is_refused_and_the_band_is_kept(
    scene: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    band = scene / "B4.tif"
    before = band.read_bytes()
    if command == "adapt":
        code = _adapt(scene, band, "--fill-only")
    else:
        code = main(["predict", "--checkpoint", str(MODEL), "--s1", str(S1), "--s2", str(scene), "--out", str(band), "--quiet"])
    assert code == 2
    assert _one_line(capsys) == f"sarclear: error: {band}: output would overwrite an input file"
    assert band.read_bytes() == before


def test_an_output_under_a_file_or_naming_a_folder_is_refused_before_the_fit(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "results.tif"
    blocker.write_bytes(b"not a folder")
    assert _adapt(scene, blocker / "out.tif") == 2  # was a traceback (FileExistsError) after the whole fit
    assert _one_line(capsys) == f"sarclear: error: {blocker / 'out.tif'}: cannot be written: {blocker.resolve()} is a file, not a folder"
    folder = tmp_path / "outputs"
    folder.mkdir()
    assert _adapt(scene, folder, "--minutes", "60") == 2  # refused at once, not after an hour's fit
    assert _one_line(capsys) == f"sarclear: error: {folder}: is a directory, expected an output file name"


def test_adapt_refuses_a_picture_name_for_the_geotiff_and_writes_the_picture_with_format(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _adapt(scene, tmp_path / "clear.png", "--fill-only") == 2
    assert _one_line(capsys) == (f"sarclear: error: {tmp_path / 'clear.png'}: --out is the GeoTIFF output; for a PNG picture give "
                                 "--out clear.tif --format png (it writes clear.png beside the GeoTIFF)")  # fmt: skip
    assert _adapt(scene, tmp_path / "clear.tif", "--fill-only", "--format", "png") == 0
    with rasterio.open(tmp_path / "clear.png") as picture, rasterio.open(tmp_path / "clear.tif") as tif:
        assert picture.driver == "PNG" and picture.count == 3 and picture.dtypes[0] == "uint8" and picture.shape == tif.shape


def test_outputs_never_replace_the_checkpoint_or_each_other_nor_land_in_the_input_folder(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checkpoint is an input too (a kept model replaced by a GeoTIFF no longer loads), the
    files `--keep-model` writes are outputs too, and a new file in a per-band folder would be read
    as one of its bands next time: all refused in one line before any work, nothing changed."""
    model = Path(shutil.copytree(MODEL.parent, tmp_path / "model"))
    before = (model / MODEL.name).read_bytes()
    common = ["--s1", str(S1), "--s2", str(scene), "--quiet"]
    for command, out, extra in (
        ("predict", model / MODEL.name, ["--checkpoint", str(model)]),
        ("predict", tmp_path / "clear.tif", ["--checkpoint", str(model / MODEL.name), "--composite", "--write-mask", str(model / MODEL.name)]),
        ("adapt", tmp_path / "clear.tif", ["--checkpoint", str(model), "--keep-model", str(model), "--steps", "2"]),
    ):
        assert main([command, *common, "--out", str(out), *extra]) == 2
        assert _one_line(capsys) == f"sarclear: error: {model / MODEL.name}: output would overwrite an input file"
    assert (model / MODEL.name).read_bytes() == before
    kept = tmp_path / "kept"
    assert _adapt(scene, kept / "generator.safetensors", "--keep-model", str(kept)) == 2  # was: the model lost under the GeoTIFF
    assert _one_line(capsys) == f"sarclear: error: {kept / 'generator.safetensors'}: given for two different outputs"
    band_files = sorted(p.name for p in scene.iterdir())
    assert _adapt(scene, scene / "B8.TIF", "--fill-only") == 2
    assert _one_line(capsys) == (f"sarclear: error: {scene / 'B8.TIF'}: would become part of the input product {scene.resolve()} "
                                 "(read as one of its files next time), which is never modified; write it elsewhere or under another name")  # fmt: skip
    assert sorted(p.name for p in scene.iterdir()) == band_files and not kept.exists()
    assert _adapt(scene, scene / "clear.tif", "--fill-only") == 0  # a name the folder's reader ignores: the user's choice
    assert main(["check", str(S1), str(scene)]) == 0  # and the folder still reads as the same product


def test_an_output_beside_the_inputs_in_the_users_folder_can_be_written_again(scene: Path, tmp_path: Path) -> None:
    """A user working in the folder that holds VV.tif and VH.tif writes clear.tif there and runs
    the command again: the previous output is not an input (only the files a folder is read from
    are), so it is replaced."""
    work = Path(shutil.copytree(S1, tmp_path / "work"))
    for _ in range(2):
        assert main(["adapt", "--s1", str(work), "--s2", str(scene), "--out", str(work / "clear.tif"), "--steps", "2", "--ngf", "4",
                     "--batch-size", "2", "--quiet"]) == 0  # fmt: skip
    assert sorted(p.name for p in work.iterdir()) == ["VH.tif", "VV.tif", "clear.tif"]


def test_a_prediction_into_the_run_folder_can_be_written_again_and_a_new_folder_is_not_a_file(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a model folder's model files are its inputs: `--out RUN/pred.tif` twice works (a
    review run found the second refused). `--out new/` (a folder not made yet) was written as a
    file named `new`."""
    model = Path(shutil.copytree(MODEL.parent, tmp_path / "model"))
    for _ in range(2):
        assert main(["predict", "--checkpoint", str(model), "--s1", str(S1), "--s2", str(scene), "--out", str(model / "pred.tif"), "--quiet"]) == 0
    new = f"{tmp_path / 'new'}/"
    assert _adapt(scene, new, "--fill-only") == 2
    assert _one_line(capsys) == f"sarclear: error: {new}: names a folder; give a file name, e.g. {tmp_path / 'new' / 'clear.tif'}"
    assert not (tmp_path / "new").exists()


def test_an_s1_pairs_folder_is_not_joined_and_every_output_option_is_a_file(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An S1 given as its two files: a third `*_VV.tif` beside them breaks every later read of that
    folder ("a second VV file"), so it is refused; another name is fine. `--write-mask new/` and
    `--uncertainty new/` are refused like `--out new/` (a review run found them written as files)."""
    work = Path(shutil.copytree(S1, tmp_path / "work"))
    pair = [str(work / "VV.tif"), str(work / "VH.tif")]
    base = ["predict", "--checkpoint", str(MODEL), "--s1", *pair, "--s2", str(scene), "--quiet"]
    assert main([*base, "--out", str(work / "out_vv.tif")]) == 2
    assert "would become part of the input product" in _one_line(capsys)
    assert main([*base, "--out", str(work / "clear.tif")]) == 0
    for option in ("--write-mask", "--uncertainty"):
        new = f"{tmp_path / 'new'}/"
        assert main([*base, "--out", str(tmp_path / "x.tif"), "--composite", option, new]) == 2
        assert _one_line(capsys).endswith(f"{new}: names a folder; give a file name, e.g. {tmp_path / 'new' / 'clear.tif'}")
    assert not (tmp_path / "new").exists()


def test_a_named_pipe_as_output_is_refused_and_left_a_pipe(scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The write goes to a temporary file renamed onto `--out`: onto a FIFO or a device it replaced
    the node with a plain file (`--out /dev/null` as root broke the machine's /dev/null)."""
    import os
    import stat

    from sarclear.errors import ConfigError
    from sarclear.io.atomic import atomic_output

    pipe = tmp_path / "pipe.tif"
    os.mkfifo(pipe)
    for command in ("adapt", "predict"):
        if command == "adapt":
            code = _adapt(scene, pipe, "--fill-only")
        else:
            code = main(["predict", "--checkpoint", str(MODEL), "--s1", str(S1), "--s2", str(scene), "--out", str(pipe), "--quiet"])
        assert code == 2
        assert "exists and is not a regular file (a device, a pipe or a socket)" in _one_line(capsys)
        assert stat.S_ISFIFO(pipe.stat().st_mode)
    with pytest.raises(ConfigError, match="not a regular file"), atomic_output(pipe):  # every writer, not only --out
        pass
    assert stat.S_ISFIFO(pipe.stat().st_mode)


@pytest.mark.parametrize("name", ["clear.jp2", "clear.vrt", "clear"])
def test_an_output_named_as_another_format_is_refused(scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    out = tmp_path / name
    code = main(["predict", "--checkpoint", str(MODEL), "--s1", str(S1), "--s2", str(scene), "--out", str(out), "--quiet"])
    assert code == 2
    assert "--out is written as a GeoTIFF; give a name ending in .tif" in _one_line(capsys)
    assert not out.exists()
