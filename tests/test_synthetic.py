"""Synthetic SEN12MS-CR-like data: real GeoTIFFs in the official layout, defects as declared,
clouds as declared, land cover visible to both sensors, seasons that look like seasons."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.cli import main
from sarclear.data.layout import find_triplets, official_paths, official_split
from sarclear.data.normalize import render_8bit
from sarclear.data.synthetic import (
    DEFECTS,
    TRUTH_FILE,
    apply_defect,
    generate_dataset,
    make_scene,
    read_truth,
    scene_numbers,
    write_scene,
)
from sarclear.data.synthetic.landcover import LandCover, landcover
from sarclear.data.synthetic.scene import draw_scene_spec
from sarclear.data.synthetic.tiles import CONTRAST_FLOOR, clear_contrast
from sarclear.data.triplet import check_triplet
from sarclear.errors import ConfigError
from sarclear.io import read_raster

SIZE = 32


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("synth")
    tiles = generate_dataset(root, scenes=3, patches=4, size=SIZE, seed=7, bad_fraction=0.25, progress=False)
    return root, tiles


def _read(root: Path, tile, modality: str) -> np.ndarray:
    return read_raster(official_paths(root, tile.roi, tile.scene, tile.patch)[modality])[0]


def test_files_are_sen12mscr_geotiffs_on_one_utm_grid(dataset) -> None:
    root, tiles = dataset
    assert len(tiles) == 2 * 3 * 4
    for tile in tiles:
        paths = official_paths(root, tile.roi, tile.scene, tile.patch)
        s1, cloudy, clear = check_triplet(paths["s1"], paths["s2_cloudy"], paths["s2"])  # one shared grid
        assert (s1.count, s1.dtype) == (2, "float32")
        assert (cloudy.count, cloudy.dtype, clear.count, clear.dtype) == (13, "uint16", 13, "uint16")
        assert s1.shape == (SIZE, SIZE)
        assert s1.crs.is_projected and s1.crs.to_epsg() in range(32601, 32661)  # UTM north
        assert (s1.transform.a, s1.transform.e) == (10.0, -10.0)


def test_patches_of_a_scene_are_adjacent_windows(dataset) -> None:
    root, tiles = dataset
    first, second = (t for t in tiles if t.season == "summer" and t.scene == tiles[0].scene and t.patch in (1, 2))
    a = rasterio.open(official_paths(root, first.roi, first.scene, 1)["s2"])
    b = rasterio.open(official_paths(root, second.roi, second.scene, 2)["s2"])
    with a, b:
        assert b.transform.c - a.transform.c == SIZE * 10.0 and b.transform.f == a.transform.f


def test_layout_finds_every_tile_with_the_declared_split(dataset) -> None:
    root, tiles = dataset
    found = {t.sample_id: t for t in find_triplets(root)}
    assert set(found) == {t.sample_id for t in tiles}
    for tile in tiles:
        assert found[tile.sample_id].missing == ()
        assert found[tile.sample_id].split == tile.split
    assert Counter(t.split for t in tiles) == {"test": 8, "val": 8, "train": 8}
    assert read_truth(root) == tiles and (root / TRUTH_FILE).is_file()


def test_scene_numbers_follow_the_official_split() -> None:
    assert scene_numbers("summer", 4)[:2] == [73, 17]  # first test, first val scene of summer
    assert scene_numbers("winter", 2) == [1, 63]  # scenes=2: a train and a test scene, no val
    assert scene_numbers("winter", 1) == [1]  # scenes=1: train only, so `sarclear train` still runs
    assert scene_numbers("summer", 6)[:3] == [73, 17, 119]  # from 6 scenes on: a second test scene
    assert official_split("summer", scene_numbers("summer", 6)[2]) == "test"
    train = scene_numbers("fall", 5)[2:]
    assert all(n not in (139, 65) for n in train) and len(set(train)) == 3


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    kwargs = dict(scenes=1, patches=2, size=SIZE, seasons=("fall",), bad_fraction=0.0, progress=False)
    a = generate_dataset(tmp_path / "a", seed=3, **kwargs)
    b = generate_dataset(tmp_path / "b", seed=3, **kwargs)
    c = generate_dataset(tmp_path / "c", seed=4, **kwargs)
    assert a == b
    for modality in ("s1", "s2_cloudy", "s2"):
        np.testing.assert_array_equal(_read(tmp_path / "a", a[0], modality), _read(tmp_path / "b", b[0], modality))
    assert not np.array_equal(_read(tmp_path / "a", a[0], "s2"), _read(tmp_path / "c", c[0], "s2"))


def test_defects_are_present_exactly_as_declared(dataset) -> None:
    root, tiles = dataset
    declared = Counter(t.defect for t in tiles if t.defect)
    assert sum(declared.values()) == round(0.25 * len(tiles)) and set(declared) == set(DEFECTS)
    for tile in tiles:
        s1, clear = _read(root, tile, "s1"), _read(root, tile, "s2")
        finite = bool(np.isfinite(s1).all())
        assert finite == (tile.defect != "nan_values"), tile
        assert (np.nanstd(s1) == 0) == (tile.defect == "no_sar_variance"), tile
        assert (clear.max() == 0) == (tile.defect == "no_data"), tile
        sigma = clear_contrast(clear)
        if tile.defect == "low_optical_contrast":
            assert sigma == 0 and clear.min() > 0
        elif not tile.defect:
            assert sigma >= CONTRAST_FLOOR[tile.season] and clear.min() > 0 and np.nanstd(s1) > 1.0


def test_apply_defect_rejects_unknown_codes() -> None:
    with pytest.raises(ValueError, match="unknown defect"):
        apply_defect(make_scene(8), "bad_luck")


def test_cloud_cover_in_truth_matches_the_opacity_and_spans_all_bins(dataset) -> None:
    _, tiles = dataset
    bins = Counter(int(np.digitize(t.cloud_cover_pct, [10, 30, 60, 90])) for t in tiles)
    assert set(bins) == {0, 1, 2, 3, 4}
    for cover in (0.0, 0.3, 0.75, 1.0):
        scene = make_scene(64, seed=5, cloud_cover=cover)
        assert np.mean(scene["cloud_opacity"] > 0.5) == pytest.approx(cover, abs=0.01)


def test_clouds_are_in_the_cloudy_image_only() -> None:
    scene = make_scene(64, seed=2, cloud_cover=0.5)
    opaque = scene["cloud_opacity"] > 0.95
    cloudy, clear = scene["s2_cloudy"].astype(float), scene["s2"].astype(float)
    assert cloudy[1:4][:, opaque].mean() > 3000  # bright, white cloud tops
    assert clear[1:4].max() < 3500 and clear[10].max() < 100  # clear target: no cloud, no cirrus signal
    assert cloudy[10][opaque].mean() > clear[10].mean()  # B10 (cirrus) responds to cloud


def test_land_cover_is_visible_to_both_sensors() -> None:
    seed, size = 34, 96  # a seed whose first 96 px show water, a town and green crops
    scene = make_scene(size, seed=seed, cloud_cover=0.0)
    spec = draw_scene_spec("summer", seed, (0, 0, size, size), cloud_cover=0.0)
    coords = np.arange(size, dtype=np.float64)
    classes = landcover(spec.landscape, coords, coords).classes
    vv, nir, red = scene["s1"][0], scene["s2"][7].astype(float), scene["s2"][3].astype(float)
    for cls in (LandCover.WATER, LandCover.BUILT, LandCover.CROP_GREEN):
        assert (classes == cls).sum() > 50, f"seed {seed} should show {cls.name}"
    water, built, crop = (classes == LandCover.WATER), (classes == LandCover.BUILT), (classes == LandCover.CROP_GREEN)
    assert np.median(vv[water]) < -18 and np.median(vv[built]) > -7  # specular water, double-bounce towns
    assert nir[water].mean() < 0.5 * nir[crop].mean()  # water dark in NIR, vegetation bright
    assert nir[crop].mean() > 2 * red[crop].mean()  # red edge of green vegetation
    assert np.median(scene["s1"][1] - vv) < -5  # VH well below VV


def test_winter_has_less_contrast_than_summer() -> None:
    for seed in range(3):
        summer = clear_contrast(make_scene(128, season="summer", seed=seed)["s2"])
        winter = clear_contrast(make_scene(128, season="winter", seed=seed)["s2"])
        assert 4 < winter < 15 < summer


def test_snow_is_optional_and_winter_only() -> None:
    plain = make_scene(64, season="winter", seed=1, cloud_cover=0.0)["s2"]
    snowy = make_scene(64, season="winter", seed=1, cloud_cover=0.0, snow=True)["s2"]
    summer = make_scene(64, season="summer", seed=1, cloud_cover=0.0, snow=True)["s2"]
    assert snowy[1:4].mean() >= plain[1:4].mean()
    np.testing.assert_array_equal(summer, make_scene(64, season="summer", seed=1, cloud_cover=0.0)["s2"])


def test_write_scene_streams_the_same_scene_as_make_scene(tmp_path: Path) -> None:
    size = 300  # two strips, the second partial
    paths = write_scene(tmp_path / "full", size, season="fall", seed=4, cloud_cover=0.4, progress=False)
    scene = make_scene(size, season="fall", seed=4, cloud_cover=0.4)
    for modality, path in paths.items():
        np.testing.assert_array_equal(read_raster(path)[0], scene[modality])
    rgb = write_scene(tmp_path / "rgb", 40, bands=3, seed=4, progress=False)
    data, info = read_raster(rgb["s2"])
    assert info.descriptions == ("B4", "B3", "B2")
    np.testing.assert_array_equal(data, make_scene(40, seed=4)["s2"][[3, 2, 1]])
    with pytest.raises(ConfigError, match="bands must be 13"):
        write_scene(tmp_path / "x", 40, bands=4)


def test_bad_arguments_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown season 'autumn'"):
        generate_dataset(tmp_path, seasons=("autumn",), progress=False)
    with pytest.raises(ConfigError, match="bad fraction"):
        generate_dataset(tmp_path, bad_fraction=1.5, progress=False)


def test_synth_cli_writes_a_dataset_and_a_scene(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert main(["synth", str(out), "--patches", "2", "--size", "32", "--seasons", "spring", "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("wrote 6 triplets of 32 px") and "train 2, val 2, test 2" in line
    assert len(find_triplets(out)) == 6
    assert main(["synth", str(tmp_path / "scene"), "--scene-size", "48", "--bands", "3", "--cloud-cover", "20", "--quiet"]) == 0
    assert {p.name for p in (tmp_path / "scene").iterdir()} == {"s1.tif", "s2_cloudy.tif", "s2.tif"}
    assert main(["synth", str(tmp_path / "bad"), "--seasons", "monsoon"]) == 2
    assert "unknown season 'monsoon'" in capsys.readouterr().err


def test_render_matches_curation_rendering() -> None:
    clear = make_scene(32, seed=0)["s2"]
    assert clear_contrast(clear) == pytest.approx(float(render_8bit(clear[[3, 2, 1]]).std()))
