"""Training packs: a manifest's tiles as memory-mapped arrays, read without decoding GeoTIFFs.

`write_pack` makes one (`sarclear pack`), `open_pack` checks it belongs to a run's manifest,
`PackedDataset` trains from it. The layout is described in `index.py`.
"""

from sarclear.data.pack.dataset import PackedDataset
from sarclear.data.pack.index import PackError, PackIndex, open_pack, read_index
from sarclear.data.pack.write import write_pack

__all__ = ["PackError", "PackIndex", "PackedDataset", "open_pack", "read_index", "write_pack"]
