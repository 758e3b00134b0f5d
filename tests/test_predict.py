"""`sarclear predict` end to end on synthetic scenes with a real CRS: grid, seams, nodata, COG, errors.

Most tests run the real pipeline (reading, tiling, blending, compositing, COG writing) around an
identity-like module, so the expected output is known exactly; the CLI tests use a real (tiny,
untrained) checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from torch import nn

from sarclear.cli import main
from sarclear.errors import ConfigError, RasterError
from sarclear.io import write_raster
from sarclear.io.cog import cog_problems
from sarclear.models.checkpoint import save_generator
from sarclear.models.spec import ModelSpec
from sarclear.predict import predict_with_engine
from sarclear.predict.engine import TorchEngine
from sarclear.predict.reader import SceneReader

CRS = "EPSG:32631"
TRANSFORM = from_origin(600000.0, 5100000.0, 10.0, 10.0)
SPEC = ModelSpec(ngf=4, n_down=5, tile_size=32)


class CloudyRGB(nn.Module):
    """'Identity' generator: returns the cloudy B4, B3, B2 channels of its (VV, VH, R, G, B) input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 2:5]


class Constant(nn.Module):
    """Predicts reflectance 0.5 (5000 DN) everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :3])


def write_scene(folder: Path, height: int, width: int, *, bands: int = 13, seed: int = 0, s1_db: np.ndarray | None = None) -> tuple[Path, Path]:
    """Textured S2 (DN) and S1 (dB) on one 10 m UTM grid; returns (s1, s2) paths."""
    rng = np.random.default_rng(seed)
    s2 = rng.integers(200, 4000, (bands, height, width)).astype(np.uint16)
    s1 = s1_db if s1_db is not None else np.stack([rng.normal(-10, 3, (height, width)), rng.normal(-17, 3, (height, width))]).astype(np.float32)
    return (
        write_raster(folder / "s1.tif", s1, crs=CRS, transform=TRANSFORM),
        write_raster(folder / "s2.tif", s2, crs=CRS, transform=TRANSFORM),
    )


def run_identity(s1: Path | None, s2: Path, out: Path, model: nn.Module | None = None, **kwargs) -> Path:
    engine = TorchEngine(model or CloudyRGB(), "cpu", "fp32")
    return predict_with_engine(engine, SPEC, s1, s2, out, progress=False, **kwargs)


def read(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile, tuple]:
    with rasterio.open(path) as src:
        return src.read(), src.profile, src.descriptions


@pytest.mark.parametrize("overlap", [None, 4])  # the default (a quarter of a 32 px tile: 8 px) and an eighth
def test_identity_model_reproduces_the_input_across_tile_borders_and_edges(tmp_path: Path, overlap: int | None) -> None:
    s1, s2 = write_scene(tmp_path, 75, 101)  # not a multiple of the 32 px tile in either direction
    out = run_identity(s1, s2, tmp_path / "out.tif", overlap=overlap)
    got, profile, descriptions = read(out)
    expected, _, _ = read(s2)
    assert got.dtype == np.uint16 and got.shape == (3, 75, 101)
    assert np.abs(got.astype(int) - expected[[3, 2, 1]].astype(int)).max() <= 1
    assert descriptions == ("B4", "B3", "B2")
    assert profile["crs"] == CRS and profile["transform"] == TRANSFORM
    assert profile["nodata"] == 0


def test_output_is_a_valid_cog_on_the_input_grid(tmp_path: Path) -> None:
    s1, s2 = write_scene(tmp_path, 600, 700, bands=3)
    out = run_identity(s1, s2, tmp_path / "out.tif", tile=64, batch_size=16)
    assert cog_problems(out) == []
    with rasterio.open(out) as src, rasterio.open(s2) as ref:
        assert (src.crs, src.transform, src.shape) == (ref.crs, ref.transform, ref.shape)
        assert src.overviews(1) and src.compression is not None and src.block_shapes[0] == (512, 512)
        np.testing.assert_allclose(src.read().astype(int), ref.read().astype(int), atol=1)


def test_nodata_in_the_input_stays_nodata(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    s1_db = np.stack([rng.normal(-10, 3, (70, 90)), rng.normal(-17, 3, (70, 90))]).astype(np.float32)
    s1_db[:, 50:60, 10:20] = np.nan
    s1, s2 = write_scene(tmp_path, 70, 90, s1_db=s1_db)
    with rasterio.open(s2, "r+") as dst:  # an S2 no-data corner: all bands 0
        data = dst.read()
        data[:, :12, :20] = 0
        dst.write(data)
    got, _, _ = read(run_identity(s1, s2, tmp_path / "out.tif", overlap=8))
    assert np.all(got[:, :12, :20] == 0) and np.all(got[:, 50:60, 10:20] == 0)
    valid = np.ones((70, 90), bool)
    valid[:12, :20] = valid[50:60, 10:20] = False
    assert np.all(got[:, valid] > 0)


def test_a_scene_smaller_than_one_tile(tmp_path: Path) -> None:
    s1, s2 = write_scene(tmp_path, 20, 25)
    got, _, _ = read(run_identity(s1, s2, tmp_path / "out.tif"))
    expected, _, _ = read(s2)
    assert np.abs(got.astype(int) - expected[[3, 2, 1]].astype(int)).max() <= 1


def test_an_optical_only_model_needs_no_s1(tmp_path: Path) -> None:
    _, s2 = write_scene(tmp_path, 40, 50, bands=3)
    spec = ModelSpec(in_channels=3, use_sar=False, ngf=4, n_down=5, tile_size=32)

    class Identity(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    out = predict_with_engine(TorchEngine(Identity(), "cpu", "fp32"), spec, None, s2, tmp_path / "out.tif", progress=False)
    got, _, _ = read(out)
    expected, _, _ = read(s2)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


class VVAsRed(nn.Module):
    """Outputs the VV channel in all three bands, to see S1 as it arrives on the S2 grid."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, [0, 0, 0]]


def _vv_ramp(x: np.ndarray) -> np.ndarray:
    """VV in dB as a linear function of easting (bilinear resampling reproduces it exactly)."""
    return -20.0 + (x - 600000.0) / 100.0


def test_s1_on_a_20m_grid_is_reprojected_onto_the_10m_s2_grid(tmp_path: Path) -> None:
    _, s2 = write_scene(tmp_path, 64, 64)
    # 20 m S1 covering the S2 extent plus a margin, VV a ramp in easting
    origin_x, origin_y = 600000.0 - 100, 5100000.0 + 100
    cols = origin_x + 20.0 * (np.arange(45) + 0.5)
    vv = np.broadcast_to(_vv_ramp(cols), (45, 45))
    s1 = write_raster(tmp_path / "s1_20m.tif", np.stack([vv, vv - 7]).astype(np.float32), crs=CRS, transform=from_origin(origin_x, origin_y, 20.0, 20.0))
    messages: list[str] = []
    got, profile, _ = read(run_identity(s1, s2, tmp_path / "out.tif", model=VVAsRed(), log=messages.append))
    assert profile["transform"] == TRANSFORM and got.shape == (3, 64, 64)
    assert any("reprojecting onto the S2 grid" in m for m in messages)
    centres = 600000.0 + 10.0 * (np.arange(64) + 0.5)
    expected = (_vv_ramp(centres) + 25.0) / 25.0 * 10000.0  # VV [-25, 0] dB -> [0, 10000] DN
    np.testing.assert_allclose(got[0].astype(float), np.broadcast_to(expected, (64, 64)), atol=2)


def test_s1_partly_outside_the_scene_leaves_nodata_where_it_does_not_reach(tmp_path: Path) -> None:
    _, s2 = write_scene(tmp_path, 64, 64)
    half = np.full((2, 64, 32), -10.0, np.float32)  # covers the western half only
    s1 = write_raster(tmp_path / "s1_half.tif", half, crs=CRS, transform=TRANSFORM)
    got, _, _ = read(run_identity(s1, s2, tmp_path / "out.tif"))
    assert np.all(got[:, :, :32] > 0) and np.all(got[:, :, 33:] == 0)


def test_s1_not_overlapping_the_scene_is_an_error(tmp_path: Path) -> None:
    _, s2 = write_scene(tmp_path, 32, 32)
    far = write_raster(tmp_path / "far.tif", np.full((2, 32, 32), -10.0, np.float32), crs=CRS, transform=from_origin(700000.0, 5100000.0, 10.0, 10.0))
    with pytest.raises(RasterError, match="does not overlap"):
        run_identity(far, s2, tmp_path / "out.tif")
    assert not (tmp_path / "out.tif").exists()


def test_composite_keeps_clear_pixels_and_fills_masked_ones(tmp_path: Path) -> None:
    s1, s2 = write_scene(tmp_path, 64, 80)
    cloud = np.zeros((64, 80), np.uint8)
    cloud[20:40, 30:50] = 1
    mask = write_raster(tmp_path / "mask.tif", cloud, crs=CRS, transform=TRANSFORM)
    out = run_identity(s1, s2, tmp_path / "out.tif", model=Constant(), composite=True, mask=mask, write_mask=tmp_path / "used.tif", quicklook="png")
    got, _, _ = read(out)
    observed, _, _ = read(s2)
    assert np.all(got[:, 20:40, 30:50] == 5000)
    far = np.ones((64, 80), bool)
    far[10:50, 20:60] = False
    np.testing.assert_array_equal(got[:, far], observed[[3, 2, 1]][:, far])
    near = got[0, 30, 50:58].astype(float)  # the feathered edge lies between the two
    assert np.all(np.minimum(5000, observed[3, 30, 50:58]) <= near + 1) and np.all(near <= np.maximum(5000, observed[3, 30, 50:58]) + 1)
    used, _, _ = read(tmp_path / "used.tif")
    np.testing.assert_array_equal(used[0], cloud)
    from PIL import Image

    with Image.open(tmp_path / "out.png") as image:
        assert image.size == (80, 64) and image.mode == "RGB"


def test_composite_detects_clouds_when_no_mask_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sarclear.data.clouds")
    rng = np.random.default_rng(3)
    # typical L1C spectra (DN, B1..B12) of vegetated land and of a thick cloud
    land = np.array([1300, 1000, 900, 700, 1000, 2000, 2400, 2500, 2700, 800, 15, 1800, 1000])
    cloud = np.array([6000, 6200, 6300, 6500, 6600, 6700, 6800, 6800, 6900, 3000, 1200, 4500, 3500])
    s2 = (land[:, None, None] * rng.uniform(0.85, 1.15, (1, 64, 64))).astype(np.uint16)
    s2[:, 16:48, 16:48] = (cloud[:, None, None] * rng.uniform(0.95, 1.05, (1, 32, 32))).astype(np.uint16)
    s2_path = write_raster(tmp_path / "s2.tif", s2, crs=CRS, transform=TRANSFORM)
    s1 = write_raster(tmp_path / "s1.tif", np.full((2, 64, 64), -12.0, np.float32), crs=CRS, transform=TRANSFORM)
    run_identity(s1, s2_path, tmp_path / "out.tif", model=Constant(), composite=True, write_mask=tmp_path / "m.tif")
    used, _, _ = read(tmp_path / "m.tif")
    assert used[0, 20:44, 20:44].mean() > 0.9 and used[0, :8, :8].mean() < 0.1
    got, _, _ = read(tmp_path / "out.tif")
    assert np.all(got[:, 24:40, 24:40] == 5000)
    np.testing.assert_array_equal(got[:, :4, :4], s2[[3, 2, 1], :4, :4])
    # detection in narrow column chunks (with context margins) gives the same mask and output
    monkeypatch.setattr("sarclear.predict.masking.CHUNK", 20)
    run_identity(s1, s2_path, tmp_path / "out2.tif", model=Constant(), composite=True, write_mask=tmp_path / "m2.tif")
    np.testing.assert_array_equal(read(tmp_path / "m2.tif")[0], used)
    np.testing.assert_array_equal(read(tmp_path / "out2.tif")[0], got)


class Exploding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls > 2:
            raise RuntimeError("boom")
        return x[:, 2:5]


def test_a_failing_run_leaves_no_file_behind(tmp_path: Path) -> None:
    s1, s2 = write_scene(tmp_path / "in", 80, 80)
    out_dir = tmp_path / "out"
    with pytest.raises(RuntimeError, match="boom"):
        run_identity(s1, s2, out_dir / "out.tif", model=Exploding(), composite=True, write_mask=out_dir / "m.tif", quicklook="jpeg", batch_size=1)
    assert list(out_dir.iterdir()) == []


def test_settings_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    s1, s2 = write_scene(tmp_path, 40, 40)
    with pytest.raises(ConfigError, match="multiple of 32"):
        run_identity(s1, s2, tmp_path / "out.tif", tile=48)
    with pytest.raises(ConfigError, match="overwrite an input"):
        run_identity(s1, s2, s2)
    assert not (tmp_path / "out.tif").exists()


# --- the command line, with a real (tiny, untrained) checkpoint ---------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("run")
    save_generator(run / "checkpoints" / "best" / "generator.safetensors", SPEC.build(), SPEC)
    return run


def _cli(*args: object) -> int:
    return main(["predict", *map(str, args), "--quiet"])


def test_cli_predicts_a_scene_with_a_real_checkpoint(tmp_path: Path, checkpoint: Path) -> None:
    s1, s2 = write_scene(tmp_path, 50, 70)
    assert _cli("--checkpoint", checkpoint, "--s1", s1, "--s2", s2, "--out", tmp_path / "out.tif") == 0
    with rasterio.open(tmp_path / "out.tif") as src:
        assert (src.crs, src.transform, src.shape, src.count, src.dtypes[0]) == (CRS, TRANSFORM, (50, 70), 3, "uint16")
        assert src.read().min() > 0


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sarclear: error: ")
    return err[0]


def test_cli_bad_inputs_exit_2_with_one_line_and_no_output(tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s1, s2 = write_scene(tmp_path, 40, 40)
    out = tmp_path / "out.tif"
    linear = write_raster(tmp_path / "linear.tif", np.full((2, 40, 40), 0.05, np.float32), crs=CRS, transform=TRANSFORM)
    five = write_raster(tmp_path / "five.tif", np.ones((5, 40, 40), np.uint16), crs=CRS, transform=TRANSFORM)
    other_grid = write_raster(tmp_path / "moved.tif", np.full((2, 40, 40), -10.0, np.float32), crs=CRS, transform=from_origin(0.0, 0.0, 10.0, 10.0))
    cases = [
        (("--s1", s1, "--s2", tmp_path / "missing.tif"), "missing.tif: file not found"),
        (("--s1", linear, "--s2", s2), "linear.tif: looks like linear power"),
        (("--s1", s1, "--s2", five), "five.tif: wrong band count"),
        (("--s1", other_grid, "--s2", s2), "moved.tif: does not overlap"),
        (("--s2", s2), "--s1 is required"),
        (("--s1", s1, "--s2", s2, "--tile", "40"), "multiple of 32"),
        (("--s1", s1, "--s2", s2, "--device", "foo"), "--device foo: not a torch device"),
    ]
    for args, message in cases:
        assert _cli("--checkpoint", checkpoint, *args, "--out", out) == 2
        assert message in _error_line(capsys)
        assert not out.exists()
    assert _cli("--checkpoint", tmp_path / "nope", "--s1", s1, "--s2", s2, "--out", out) == 2
    assert "checkpoint not found" in _error_line(capsys)


def test_unreadable_strip_in_the_background_read_is_a_one_line_error_and_no_output(
    tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A strip that fails to read while the model runs on the previous one (the prefetch thread)
    surfaces as the same one-line error, exit 2, and no output file."""
    s1, s2 = write_scene(tmp_path, 100, 40)  # 4 rows of 32 px windows
    calls = []
    original = SceneReader.s2

    def failing_s2(self: SceneReader, r0: int, r1: int, bands: tuple[int, ...], cols: tuple[int, int] | None = None) -> np.ndarray:
        calls.append(r0)
        if len(calls) == 3:
            raise RasterError(str(self.inputs.s2.path), "corrupt or truncated TIFF, pixels unreadable: injected")
        return original(self, r0, r1, bands, cols)

    monkeypatch.setattr(SceneReader, "s2", failing_s2)
    out = tmp_path / "out.tif"
    assert _cli("--checkpoint", checkpoint, "--s1", s1, "--s2", s2, "--out", out) == 2
    assert "s2.tif: corrupt or truncated TIFF, pixels unreadable: injected" in _error_line(capsys)
    assert len(calls) == 3 and not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["s1.tif", "s2.tif"]  # no work or temporary file left


def test_cli_all13_checkpoint_needs_13_bands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = ModelSpec(in_channels=15, ngf=4, n_down=5, tile_size=32, bands="all13")
    ckpt = save_generator(tmp_path / "generator.safetensors", spec.build(), spec)
    s1, s2 = write_scene(tmp_path, 40, 40, bands=3)
    assert _cli("--checkpoint", ckpt, "--s1", s1, "--s2", s2, "--out", tmp_path / "out.tif") == 2
    assert "s2.tif: has 3 band(s) but the checkpoint's model was trained on all 13" in _error_line(capsys)
