"""`PackedDataset`: the training dataset reading a pack's memory-mapped arrays instead of GeoTIFFs.

It is a `TripletDataset` whose `read_tile` returns a packed row in the dtypes `read_triplet`
gives (float32), so unit conversion, crops, flips and the sample dict are the parent's code:
for the same rows, seed and epoch both return identical tensors (tests/test_pack.py).

The arrays are opened lazily in each process that reads them (a DataLoader worker maps the files
itself), and never pickled: a memory map sent to a worker would be copied whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sarclear.data.dataset import TileArrays, TripletDataset
from sarclear.data.manifest import Sample
from sarclear.data.pack.index import ARRAY_FILES, PackIndex


class PackedDataset(TripletDataset):
    """Manifest rows read from a pack (`sarclear pack`); every keyword is `TripletDataset`'s."""

    def __init__(self, pack: PackIndex, samples: Sequence[Sample], **options: Any) -> None:
        super().__init__(samples, bands=pack.data["bands"], **options)
        self.pack = pack
        self.positions = pack.positions(self.samples)
        self._arrays: dict[str, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None}

    def _opened(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {kind: np.load(self.pack.array_path(kind), mmap_mode="r") for kind in ARRAY_FILES}
        return self._arrays

    def read_tile(self, index: int) -> TileArrays:
        """Packed row of sample `index`: S1 as stored, S2 DN cast to float32 exactly as `read_triplet` does."""
        arrays, row = self._opened(), self.positions[index]
        return TileArrays(
            np.array(arrays["s1"][row], dtype=np.float32),
            arrays["cloudy"][row].astype(np.float32),
            arrays["clear"][row].astype(np.float32),
            np.array(arrays["valid"][row], dtype=bool),
        )
