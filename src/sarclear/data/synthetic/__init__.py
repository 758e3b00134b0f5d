"""Procedural SEN12MS-CR-like data: land cover seen by S1 and S2, seasons, clouds and shadows.

Written as real GeoTIFFs in the official layout with a UTM grid, deterministic by seed, so every
stage of sarclear (curate, train, evaluate, predict) can be run and tested without the 100 GB
dataset. See docs/synthetic.md for what is modelled and why.

Public API:

* `generate_dataset(root, ...)` -> list[SyntheticTile]: a dataset of tiles + `synthetic_truth.csv`
* `make_scene(size, ...)` -> dict of arrays, in memory
* `write_scene(out_dir, size, ...)` -> dict of paths: one large scene, streamed in row strips
* `read_truth(root)`, `SyntheticTile`, `DEFECTS`, `TRUTH_FILE`
"""

from sarclear.data.synthetic.bigscene import write_scene
from sarclear.data.synthetic.scene import make_scene
from sarclear.data.synthetic.tiles import (
    DEFECTS,
    TRUTH_FILE,
    SyntheticTile,
    apply_defect,
    generate_dataset,
    read_truth,
    scene_numbers,
)

__all__ = [
    "DEFECTS",
    "TRUTH_FILE",
    "SyntheticTile",
    "apply_defect",
    "generate_dataset",
    "make_scene",
    "read_truth",
    "scene_numbers",
    "write_scene",
]
