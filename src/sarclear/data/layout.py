"""Find SEN12MS-CR triplets on disk and assign the official train/val/test split.

Two layouts are recognised, because both exist on users' disks:

* the official one, as distributed by TUM (Ebel et al., 2021)::

    ROOT/ROIs1868_summer_s1/s1_73/ROIs1868_summer_s1_73_p30.tif
    ROOT/ROIs1868_summer_s2/s2_73/ROIs1868_summer_s2_73_p30.tif
    ROOT/ROIs1868_summer_s2_cloudy/s2_cloudy_73/ROIs1868_summer_s2_cloudy_73_p30.tif

* GLF-CR's flattened one (xufangchn/GLF-CR, `data/`)::

    ROOT/s1/ROIs1970_fall_139_p839.tif
    ROOT/s2_cloudfree/ROIs1970_fall_139_p839.tif
    ROOT/s2_cloudy/ROIs1970_fall_139_p839.tif

A triplet is identified by (ROI set, scene, patch). Missing partners are reported, never fatal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sarclear.errors import LayoutError

#: ROI-set prefix -> season name, as in the SEN12MS-CR release.
SEASONS: dict[str, str] = {
    "ROIs1158_spring": "spring",
    "ROIs1868_summer": "summer",
    "ROIs1970_fall": "fall",
    "ROIs2017_winter": "winter",
}

#: Official split by scene folder, as in the SEN12MS-CR loader of UnCRtainTS (PatrickTUM/UnCRtainTS,
#: `data/dataLoader.py`, `SEN12MSCR.splits`), shared by the published SEN12MS-CR baselines. Scenes
#: are matched exactly as strings: scene "17" is not "173" nor "1".
TEST_SCENES: dict[str, frozenset[str]] = {
    "spring": frozenset({"106", "123", "140", "31", "44"}),
    "summer": frozenset({"119", "73"}),
    "fall": frozenset({"139"}),
    "winter": frozenset({"108", "63"}),
}
VAL_SCENES: dict[str, frozenset[str]] = {
    "spring": frozenset({"17"}),
    "summer": frozenset({"19", "80", "127", "17"}),
    "fall": frozenset({"65"}),
    "winter": frozenset({"22", "107", "130", "84"}),
}

MODALITIES = ("s1", "s2_cloudy", "s2")

_OFFICIAL = re.compile(r"^(?P<roi>ROIs\d+_[A-Za-z]+)_(?P<mod>s1|s2|s2_cloudy)_(?P<scene>\d+)_p(?P<patch>\d+)\.tiff?$")
_FLAT = re.compile(r"^(?P<roi>ROIs\d+_[A-Za-z]+)_(?P<scene>\d+)_p(?P<patch>\d+)\.tiff?$")
_FLAT_DIRS = {"s1": "s1", "s2_cloudy": "s2_cloudy", "s2_cloudfree": "s2", "s2": "s2", "s2_clear": "s2"}


@dataclass(frozen=True)
class Triplet:
    """One SEN12MS-CR sample: S1 (VV, VH dB), cloudy S2 and clear S2, any of which may be missing."""

    roi: str
    scene: str
    patch: int
    s1_path: Path | None
    s2_cloudy_path: Path | None
    s2_path: Path | None

    @property
    def season(self) -> str:
        return season_of(self.roi)

    @property
    def sample_id(self) -> str:
        return f"{self.roi}_{self.scene}_p{self.patch}"

    @property
    def split(self) -> str:
        return official_split(self.season, self.scene)

    @property
    def missing(self) -> tuple[str, ...]:
        """Names of the modalities whose file was not found."""
        paths = {"s1": self.s1_path, "s2_cloudy": self.s2_cloudy_path, "s2": self.s2_path}
        return tuple(name for name in MODALITIES if paths[name] is None)


def name_parts(name: str) -> tuple[str, str, int] | None:
    """(roi, scene, patch) of a SEN12MS-CR file name in either layout, or of a sample id
    (`ROIs1868_summer_73_p30`); None when the name does not follow SEN12MS-CR's naming."""
    match = _OFFICIAL.match(name) or _FLAT.match(name) or _FLAT.match(name + ".tif")
    if not match:
        return None
    return match["roi"], str(int(match["scene"])), int(match["patch"])


def season_of(roi: str) -> str:
    """`ROIs1868_summer` -> `summer`; unknown ROI sets keep their own suffix as season name."""
    return SEASONS.get(roi, roi.split("_", 1)[-1].lower())


def official_split(season: str, scene: str | int) -> str:
    """`train`, `val` or `test` for a scene of a season, by exact match of the scene number."""
    scene = str(int(scene))
    if scene in TEST_SCENES.get(season, ()):
        return "test"
    if scene in VAL_SCENES.get(season, ()):
        return "val"
    return "train"


def _walk_tifs(root: Path) -> Iterator[tuple[str, str, str]]:
    """Yield (dirpath, parent folder name, file name) of every .tif under root (os.scandir: fast)."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        parent = os.path.basename(dirpath)
        for name in sorted(filenames):
            if name.lower().endswith((".tif", ".tiff")):
                yield dirpath, parent, name


def find_triplets(root: str | Path) -> list[Triplet]:
    """Every triplet under `root`, in either layout, sorted by (roi, scene, patch).

    Raises `LayoutError` if the root does not exist or holds no SEN12MS-CR-named file at all,
    which almost always means a wrong path rather than an empty dataset.
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: dataset root not found or not a directory")
    found: dict[tuple[str, str, int], dict[str, Path]] = {}
    for dirpath, parent, name in _walk_tifs(root):
        match = _OFFICIAL.match(name)
        if match:
            modality = match["mod"]
        else:
            match = _FLAT.match(name)
            if not match or parent not in _FLAT_DIRS:
                continue
            modality = _FLAT_DIRS[parent]
        key = (match["roi"], str(int(match["scene"])), int(match["patch"]))
        found.setdefault(key, {})[modality] = Path(dirpath) / name
    if not found:
        raise LayoutError(
            f"{root}: no SEN12MS-CR files found (expected e.g. ROIs1868_summer_s1/s1_73/ROIs1868_summer_s1_73_p30.tif "
            "or s1/ROIs1970_fall_139_p839.tif)"
        )
    return [
        Triplet(roi, scene, patch, paths.get("s1"), paths.get("s2_cloudy"), paths.get("s2"))
        for (roi, scene, patch), paths in sorted(found.items(), key=lambda kv: (kv[0][0], int(kv[0][1]), kv[0][2]))
    ]


def official_paths(root: str | Path, roi: str, scene: int | str, patch: int) -> dict[str, Path]:
    """Where a triplet's three files live in the official layout (used by the synthetic writer)."""
    root = Path(root)
    return {
        modality: root / f"{roi}_{modality}" / f"{modality}_{scene}" / f"{roi}_{modality}_{scene}_p{patch}.tif"
        for modality in MODALITIES
    }
