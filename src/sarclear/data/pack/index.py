"""What a training pack holds and the checks that tie it to one manifest.

A pack is a folder: one `.npy` file per array kind (numpy's own format, opened memory-mapped with
`numpy.load(mmap_mode="r")`), each with the tiles along its first axis, and `index.json`:

* `s1.npy`     `(N, 2, H, W)` float32   S1 VV, VH in dB, as `TripletDataset.read_tile` returns them
* `cloudy.npy` `(N, C, H, W)` S2 DN in the source files' dtype (uint16 for SEN12MS-CR)
* `clear.npy`  `(N, C, H, W)` the target, same dtype
* `valid.npy`  `(N, H, W)`    bool, `sarclear.data.valid` over the three images
* `index.json` format version, sarclear version, the manifest's path and SHA-256, bands, splits,
  the arrays' shapes and dtypes, and one entry per tile (sample id, split, season, and the two
  header facts `training_provenance` needs, so training from a pack never opens a GeoTIFF).

Physical units and source dtypes are stored, not network units: the pack is half the size of
float32 tensors, and the unit conversion, crops and flips stay where they are for GeoTIFFs
(`data/normalize.py`, `TripletDataset`), so both datasets give bit-identical samples.

A pack belongs to the manifest it was made from: `open_pack` refuses another manifest (its
SHA-256 differs: rows, splits or `kept` changed), other bands, or a format it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sarclear.data.manifest import Sample
from sarclear.errors import LayoutError
from sarclear.io.digest import file_sha256

FORMAT = "sarclear-pack"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
#: array kind -> file name, in the order the index lists them.
ARRAY_FILES: dict[str, str] = {"s1": "s1.npy", "cloudy": "cloudy.npy", "clear": "clear.npy", "valid": "valid.npy"}


class PackError(LayoutError):
    """A pack folder is missing, incomplete, or was made from other inputs than the run's."""


@dataclass(frozen=True)
class PackIndex:
    """`index.json` of a pack folder, read back; `position` finds a manifest row's tile."""

    folder: Path
    data: dict[str, Any]

    @property
    def sample_ids(self) -> list[str]:
        return [entry["sample_id"] for entry in self.data["samples"]]

    @property
    def tile_shape(self) -> tuple[int, int]:
        height, width = self.data["tile"]
        return int(height), int(width)

    def array_path(self, kind: str) -> Path:
        return self.folder / self.data["arrays"][kind]["file"]

    @cached_property
    def _where(self) -> dict[str, int]:
        return {sample_id: i for i, sample_id in enumerate(self.sample_ids)}

    def positions(self, samples: Sequence[Sample]) -> list[int]:
        """The pack row of each sample, or a `PackError` naming the first one not packed."""
        missing = [s for s in samples if s.sample_id not in self._where]
        if missing:
            splits = ",".join(sorted({s.split for s in missing} | set(self.data["splits"])))
            raise PackError(
                f"{self.folder}: tile {missing[0].sample_id} ({missing[0].split} split) is not in the pack "
                f"({len(missing)} rows missing); pack it with `sarclear pack --splits {splits}`"
            )
        return [self._where[s.sample_id] for s in samples]

    def check_tile_size(self, size: int) -> None:
        """Refuse a training crop larger than the packed tiles (what `check_samples` does for GeoTIFFs)."""
        height, width = self.tile_shape
        if min(height, width) < size:
            raise PackError(f"{self.folder}: tiles are {width}x{height} px, smaller than the training crop of {size} px (lower --size)")

    def header_facts(self, sample: Sample) -> tuple[bool, str | None]:
        """(synthetic?, S2 processing level) of a packed row, as `data.provenance` reads them from its header."""
        entry = self.data["samples"][self.positions([sample])[0]]
        return bool(entry["synthetic"]), entry["s2_level"]


def read_index(folder: str | Path) -> PackIndex:
    """The index of a complete pack, or a `PackError` saying what is wrong and how to remake it."""
    folder = Path(folder)
    path = folder / INDEX_FILE
    if not path.is_file():
        what = "has no index.json (not a sarclear pack, or packing was interrupted)" if folder.is_dir() else "not found"
        raise PackError(f"{folder}: {what}; make it with `sarclear pack --manifest MANIFEST --out {folder}`")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackError(f"{path}: not valid JSON ({exc}); make the pack again with `sarclear pack`") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        raise PackError(f"{path}: not a sarclear pack of format version {FORMAT_VERSION}; make it again with `sarclear pack`")
    index = PackIndex(folder, data)
    for kind in ARRAY_FILES:
        if not index.array_path(kind).is_file():
            raise PackError(f"{index.array_path(kind)}: missing from the pack; make it again with `sarclear pack`")
    return index


def open_pack(folder: str | Path, *, manifest: str | Path, bands: str) -> PackIndex:
    """The pack in `folder`, checked against the run's manifest (SHA-256 of its bytes) and bands."""
    index = read_index(folder)
    packed = index.data["manifest"]
    if file_sha256(manifest) != packed["sha256"]:
        raise PackError(
            f"{index.folder}: packed from another manifest ({packed['path']}, sha256 {packed['sha256'][:12]}), "
            f"not {manifest} as it is now; pack again with `sarclear pack --manifest {manifest} --out {index.folder}`"
        )
    if index.data["bands"] != bands:
        raise PackError(
            f"{index.folder}: holds {index.data['bands']} bands, the run trains on {bands}; "
            f"pack again with `sarclear pack --bands {bands}` or train with --bands {index.data['bands']}"
        )
    return index
