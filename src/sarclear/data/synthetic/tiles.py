"""A SEN12MS-CR-like dataset of tiles: official layout, official splits, known defects, truth CSV.

Each (season, scene) is one landscape; its patches are adjacent windows of it on a real UTM grid
(10 m pixels), so tiles of a scene join up like the genuine ones. Scene numbers are official ones,
so the exact-match split logic of `layout.py` is exercised: scene index 0 of every season takes
that season's first official TEST scene, index 1 its first VAL scene, the others TRAIN scene
numbers that are in neither list (from 6 scenes on, index 2 is a second TEST scene). With
`scenes < 3` train comes first (1 scene: train; 2: train and test), so a small set still trains.

A `bad_fraction` share of tiles carries exactly one defect, named by the curation reason code it
must trigger, and `synthetic_truth.csv` records it together with the true cloud cover, so the
curation rules can be scored against ground truth.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from rasterio.transform import Affine, from_origin

from sarclear.data.bands import S1_BANDS, S2_BANDS, S2_RGB_POSITIONS
from sarclear.data.layout import (
    SEASONS,
    TEST_SCENES,
    VAL_SCENES,
    official_paths,
    official_split,
)
from sarclear.data.normalize import render_8bit
from sarclear.data.provenance import SYNTHETIC_TAG
from sarclear.data.synthetic.landcover import LandscapeParams, draw_landscape
from sarclear.data.synthetic.noise import sub_seed
from sarclear.data.synthetic.scene import (
    SEASON_LOOK,
    check_season,
    draw_scene_spec,
    render_window,
)
from sarclear.errors import ConfigError, LayoutError
from sarclear.io.atomic import atomic_output
from sarclear.io.geotiff import write_raster
from sarclear.progress import progress_bar

#: Defect codes = the curation reason codes they must trigger (`curate/rules.py`, docs/curate.md).
DEFECTS: tuple[str, ...] = ("no_sar_variance", "no_data", "low_optical_contrast", "nan_values")
TRUTH_FILE = "synthetic_truth.csv"
PIXEL_M = 10.0
#: Minimum contrast sigma (std of the clear RGB rendered to 8 bits, DN [0, 3000] -> [0, 255], as
#: curation measures it) of a GOOD tile, per season: a margin above curation's default thresholds
#: (summer 10, winter 3, spring/fall 6.5; `curate/rules.py`). A tile below it (a small tile that
#: falls inside one dark forest) is redrawn from elsewhere in its landscape, so "good" in the
#: truth table always means "curation should keep it", even at 32 px.
CONTRAST_FLOOR: dict[str, float] = {"spring": 8.0, "summer": 12.0, "fall": 8.0, "winter": 4.5}
_MAX_REDRAWS = 8
_REDRAW_SHIFT_PX = 10_007  # far enough that the next try sees other fields, forests and towns
_ROI_OF_SEASON = {season: roi for roi, season in SEASONS.items()}
_SEASON_INDEX = {season: i for i, season in enumerate(SEASON_LOOK)}


@dataclass(frozen=True)
class SyntheticTile:
    """What the generator knows about one triplet it wrote (one row of `synthetic_truth.csv`)."""

    sample_id: str
    roi: str
    season: str
    scene: int
    patch: int
    split: str
    defect: str  # '' for a good tile, else the curation reason code it must trigger
    cloud_cover_pct: float  # share of the cloudy image with cloud opacity > 0.5, percent


#: Scenes per season from which a second test scene is drawn (see `scene_numbers`).
SECOND_TEST_FROM: int = 6
#: Scenes per season from which test, val and train are all present (fewer: train, then test).
SPLIT_ALL_FROM: int = 3


def scene_numbers(season: str, count: int) -> list[int]:
    """Official scene numbers for `count` scenes: [first test, first val, train, train, ...].

    With fewer than `SPLIT_ALL_FROM` (3) scenes a set cannot hold every split; it keeps one to
    train on: 1 scene is [train], 2 are [train, first test] (no val: training runs without one).

    From `SECOND_TEST_FROM` scenes on, index 2 is the season's second official test scene (where
    it has one), so a larger dataset is scored on two landscapes per season instead of one.
    """
    test = sorted(int(s) for s in TEST_SCENES[season])
    val = sorted(int(s) for s in VAL_SCENES[season])
    reserved = set(test) | set(val)
    train = (n for n in range(1, 10_000) if n not in reserved)
    if count < SPLIT_ALL_FROM:  # too few for all three splits: train first, then test, never no train
        return ([next(train)] + [test[0]])[:count]
    numbers = [test[0], val[0]]
    if count >= SECOND_TEST_FROM and len(test) > 1:
        numbers.append(test[1])
    numbers += [next(train) for _ in range(count - len(numbers))]
    return numbers


def apply_defect(arrays: dict[str, np.ndarray], defect: str) -> dict[str, np.ndarray]:
    """A copy of a tile's arrays with one defect injected, as found in the real SEN12MS-CR."""
    out = dict(arrays)
    if defect == "no_sar_variance":  # S1 filled with one value (failed acquisition)
        out["s1"] = np.full_like(arrays["s1"], -25.0)
    elif defect == "no_data":  # optical target all zero (SEN12MS-CR's no-data)
        out["s2"] = np.zeros_like(arrays["s2"])
    elif defect == "low_optical_contrast":  # flat grey target: RGB equal and uniform, other bands flat
        clear = arrays["s2"]
        flat = np.median(clear.reshape(clear.shape[0], -1), axis=1)
        flat[1:4] = clear[1:4].mean()
        out["s2"] = np.broadcast_to(np.rint(flat).astype(clear.dtype)[:, None, None], clear.shape).copy()
    elif defect == "nan_values":  # a stripe of NaN in S1 (border-noise removal gone wrong)
        s1 = arrays["s1"].copy()
        height = s1.shape[-2]
        s1[:, height // 4 : height // 4 + max(1, height // 16), :] = np.nan
        out["s1"] = s1
    elif defect:
        raise ValueError(f"unknown defect {defect!r}; expected one of {', '.join(DEFECTS)}")
    return out


def clear_contrast(clear_dn: np.ndarray) -> float:
    """Contrast sigma of a 13-band clear image as curation measures it (8-bit RGB rendering)."""
    rgb = clear_dn[list(S2_RGB_POSITIONS)]
    return float(render_8bit(rgb).std(dtype=np.float64))


def _render_tile(
    season: str, tile_seed: int, window: tuple[int, int, int, int], cover: float, landscape: LandscapeParams, good: bool
) -> dict[str, np.ndarray]:
    """A tile's arrays; a good tile below its season's `CONTRAST_FLOOR` is redrawn further along."""
    row, col, height, width = window
    for attempt in range(_MAX_REDRAWS):
        shifted = (row, col + attempt * _REDRAW_SHIFT_PX, height, width)
        spec = draw_scene_spec(season, tile_seed, shifted, cloud_cover=cover, landscape=landscape)
        arrays = render_window(spec, *shifted, np.random.default_rng(tile_seed))
        if not good or clear_contrast(arrays["s2"]) >= CONTRAST_FLOOR[season]:
            break
    return arrays


def _plan_defects(rng: np.random.Generator, count: int, bad_fraction: float) -> list[str]:
    """One defect code per tile ('' = good); the codes cycle so all four occur from 4 bad tiles on."""
    n_bad = int(round(count * bad_fraction))
    plan = [""] * count
    for k, index in enumerate(rng.choice(count, size=n_bad, replace=False)):
        plan[int(index)] = DEFECTS[k % len(DEFECTS)]
    return plan


def _write_tile(root: Path, tile: SyntheticTile, arrays: dict[str, np.ndarray], crs: str, transform: Affine) -> None:
    paths = official_paths(root, tile.roi, tile.scene, tile.patch)
    tags = {SYNTHETIC_TAG: "1"}
    write_raster(paths["s1"], arrays["s1"], crs=crs, transform=transform, descriptions=S1_BANDS, tags=tags)
    for key in ("s2_cloudy", "s2"):
        write_raster(paths[key], arrays[key], crs=crs, transform=transform, descriptions=S2_BANDS, tags=tags)


def generate_dataset(
    root: Path,
    *,
    scenes: int = 2,
    patches: int = 8,
    size: int = 256,
    seasons: Sequence[str] = ("summer", "winter"),
    seed: int = 0,
    bad_fraction: float = 0.1,
    progress: bool = True,
) -> list[SyntheticTile]:
    """Write `len(seasons) * scenes * patches` triplets under `root` plus `synthetic_truth.csv`.

    Cloud covers are stratified over the whole dataset (tile i of n gets a cover in
    [i/n, (i+1)/n) in shuffled order), so every cover bin occurs once there are ~10 tiles.
    """
    for season in seasons:
        check_season(season)
    if scenes < 1 or patches < 1 or size < 8:
        raise ConfigError(f"need scenes >= 1, patches >= 1 and size >= 8 px (got {scenes}, {patches}, {size})")
    if not 0.0 <= bad_fraction <= 1.0:
        raise ConfigError(f"bad fraction {bad_fraction} is not in [0, 1]")
    root = Path(root)
    columns = math.ceil(math.sqrt(patches))
    jobs = [(season, s, p) for season in seasons for s in range(scenes) for p in range(patches)]
    rng = np.random.default_rng(sub_seed(seed, 0xDA7A))
    covers = (rng.permutation(len(jobs)) + rng.uniform(size=len(jobs))) / len(jobs)
    defects = _plan_defects(rng, len(jobs), bad_fraction)
    extent = (math.ceil(patches / columns) * size, columns * size)
    landscapes = {
        (season, s): draw_landscape(np.random.default_rng(sub_seed(seed, 0x1A4D, _SEASON_INDEX[season], s)), extent)
        for season in seasons
        for s in range(scenes)
    }
    tiles: list[SyntheticTile] = []
    for index, (season, scene_index, patch_index) in enumerate(progress_bar(jobs, desc="synth", unit="tile", disable=not progress)):
        season_index = _SEASON_INDEX[season]
        scene = scene_numbers(season, scenes)[scene_index]
        row, col = divmod(patch_index, columns)
        window = (row * size, col * size, size, size)
        tile_seed = sub_seed(seed, 0x711E, season_index, scene_index, patch_index)
        landscape = landscapes[season, scene_index]
        arrays = _render_tile(season, tile_seed, window, float(covers[index]), landscape, not defects[index])
        roi = _ROI_OF_SEASON[season]
        tile = SyntheticTile(
            sample_id=f"{roi}_{scene}_p{patch_index + 1}",
            roi=roi,
            season=season,
            scene=scene,
            patch=patch_index + 1,
            split=official_split(season, scene),
            defect=defects[index],
            cloud_cover_pct=round(100.0 * float(np.mean(arrays["cloud_opacity"] > 0.5)), 4),
        )
        # Scenes of a season sit side by side in one UTM zone; a scene's patches tile its extent.
        transform = from_origin(
            300_000.0 + (scene_index * (columns + 4) + col) * size * PIXEL_M,
            5_400_000.0 - row * size * PIXEL_M,
            PIXEL_M,
            PIXEL_M,
        )
        _write_tile(root, tile, apply_defect(arrays, tile.defect), f"EPSG:{32631 + season_index}", transform)
        tiles.append(tile)
    write_truth(root / TRUTH_FILE, tiles)
    return tiles


def write_truth(path: Path, tiles: Sequence[SyntheticTile]) -> Path:
    """The truth table, atomically: one row per tile, the fields of `SyntheticTile`."""
    with atomic_output(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(SyntheticTile)])
        writer.writeheader()
        writer.writerows(asdict(t) for t in tiles)
    return Path(path)


def read_truth(root_or_csv: str | Path) -> list[SyntheticTile]:
    """Read `synthetic_truth.csv` (give the dataset root or the CSV itself)."""
    path = Path(root_or_csv)
    path = path / TRUTH_FILE if path.is_dir() else path
    if not path.is_file():
        raise LayoutError(f"{path}: synthetic truth table not found (written by `sarclear synth`)")
    with path.open(newline="") as handle:
        return [
            SyntheticTile(
                sample_id=row["sample_id"],
                roi=row["roi"],
                season=row["season"],
                scene=int(row["scene"]),
                patch=int(row["patch"]),
                split=row["split"],
                defect=row["defect"],
                cloud_cover_pct=float(row["cloud_cover_pct"]),
            )
            for row in csv.DictReader(handle)
        ]
