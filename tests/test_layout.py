"""Finding SEN12MS-CR triplets on disk (official and GLF-CR flattened layouts) and the official split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sarclear.data.layout import find_triplets, official_paths, official_split, season_of
from sarclear.errors import LayoutError
from sarclear.io import write_raster
from tests.helpers import CRS, make_arrays, transform_for, write_triplet


def _write_flat(root: Path, name: str, folders=("s1", "s2_cloudfree", "s2_cloudy")) -> None:
    arrays = make_arrays(8)
    source = {"s1": arrays["s1"], "s2_cloudfree": arrays["s2"], "s2_cloudy": arrays["s2_cloudy"]}
    for folder in folders:
        write_raster(root / folder / name, source[folder], crs=CRS, transform=transform_for())


def test_official_layout_is_found(tmp_path: Path) -> None:
    paths = write_triplet(tmp_path, "ROIs1868_summer", scene=73, patch=30)
    (triplet,) = find_triplets(tmp_path)
    assert (triplet.roi, triplet.scene, triplet.patch, triplet.season) == ("ROIs1868_summer", "73", 30, "summer")
    assert (triplet.s1_path, triplet.s2_cloudy_path, triplet.s2_path) == (paths["s1"], paths["s2_cloudy"], paths["s2"])
    assert triplet.sample_id == "ROIs1868_summer_73_p30"
    assert triplet.split == "test" and triplet.missing == ()
    assert paths["s2_cloudy"].relative_to(tmp_path).as_posix() == (
        "ROIs1868_summer_s2_cloudy/s2_cloudy_73/ROIs1868_summer_s2_cloudy_73_p30.tif"
    )


def test_glfcr_flattened_layout_is_found(tmp_path: Path) -> None:
    _write_flat(tmp_path, "ROIs1970_fall_139_p839.tif")
    (triplet,) = find_triplets(tmp_path)
    assert triplet.sample_id == "ROIs1970_fall_139_p839" and triplet.missing == ()
    assert triplet.s2_path == tmp_path / "s2_cloudfree" / "ROIs1970_fall_139_p839.tif"
    assert triplet.s2_cloudy_path == tmp_path / "s2_cloudy" / "ROIs1970_fall_139_p839.tif"
    assert (triplet.season, triplet.split) == ("fall", "test")


def test_orphans_are_reported_not_fatal(tmp_path: Path) -> None:
    paths = write_triplet(tmp_path, "ROIs2017_winter", scene=5, patch=1)
    paths["s2"].unlink()
    _write_flat(tmp_path / "flat", "ROIs1158_spring_40_p2.tif", folders=("s1",))
    found = {t.sample_id: t for t in find_triplets(tmp_path)}
    assert found["ROIs2017_winter_5_p1"].missing == ("s2",)
    assert found["ROIs2017_winter_5_p1"].s2_path is None
    assert found["ROIs1158_spring_40_p2"].missing == ("s2_cloudy", "s2")


def test_split_matches_scene_numbers_exactly(tmp_path: Path) -> None:
    # summer 17 is a validation scene; 173 and 1 share its digits but are training scenes.
    for scene in (17, 173, 1):
        write_triplet(tmp_path, "ROIs1868_summer", scene=scene, patch=4)
    found = {t.scene: t for t in find_triplets(tmp_path)}
    assert {scene: t.split for scene, t in found.items()} == {"17": "val", "173": "train", "1": "train"}
    for scene, triplet in found.items():  # no folder swallowed another's files
        assert triplet.s1_path.parent.name == f"s1_{scene}" and triplet.missing == ()
    assert [t.scene for t in find_triplets(tmp_path)] == ["1", "17", "173"]  # numeric order


@pytest.mark.parametrize(
    ("season", "scene", "split"),
    [("spring", 31, "test"), ("spring", 3, "train"), ("spring", 17, "val"), ("winter", "063", "test"),
     ("winter", 84, "val"), ("fall", 139, "test"), ("fall", 13, "train"), ("summer", 119, "test")],
)
def test_official_split_table(season: str, scene, split: str) -> None:
    assert official_split(season, scene) == split


def test_real_triplets_are_found_with_their_official_split(real_root: Path) -> None:
    found = {t.sample_id: t for t in find_triplets(real_root)}
    assert set(found) == {"ROIs1970_fall_139_p839", "ROIs2017_winter_112_p797"}
    assert found["ROIs1970_fall_139_p839"].split == "test"
    assert found["ROIs2017_winter_112_p797"].split == "train"
    assert all(t.missing == () for t in found.values())


def test_unrelated_files_are_ignored_and_empty_roots_are_errors(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="not found"):
        find_triplets(tmp_path / "nope")
    write_raster(tmp_path / "misc" / "ROIs1970_fall_139_p839.tif", np.zeros((1, 4, 4), np.uint8), crs=CRS,
                 transform=transform_for())  # flat name, but not in an s1/s2 folder
    (tmp_path / "notes.tif.txt").write_text("x")
    with pytest.raises(LayoutError, match="no SEN12MS-CR files found"):
        find_triplets(tmp_path)


def test_official_paths_round_trip_through_find_triplets(tmp_path: Path) -> None:
    paths = official_paths(tmp_path, "ROIs1158_spring", 106, 7)
    arrays = make_arrays(8)
    for modality, path in paths.items():
        write_raster(path, arrays[modality], crs=CRS, transform=transform_for())
    (triplet,) = find_triplets(tmp_path)
    assert (triplet.s1_path, triplet.s2_cloudy_path, triplet.s2_path) == (paths["s1"], paths["s2_cloudy"], paths["s2"])
    assert season_of("ROIs9999_monsoon") == "monsoon"
