"""What a model was trained on, recorded in its checkpoint so `predict` and `evaluate` can warn.

A model trained on `sarclear synth` data paints synthetic texture on a genuine scene, and a model
trained on Level-1C (top of atmosphere, SEN12MS-CR) sees another radiometry in a Level-2A
(surface reflectance) product. Neither is an error, and both give wrong pictures with exit 0
unless something says so: this module makes the facts to say it from.

Synthetic rasters carry the GeoTIFF tag `SARCLEAR_SYNTHETIC=1` (written by `data/synthetic`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from sarclear.data.manifest import Sample
from sarclear.io.geotiff import RasterInfo
from sarclear.io.sources import dataset_name, describe_s2

#: Tag written into every synthetic raster.
SYNTHETIC_TAG: str = "SARCLEAR_SYNTHETIC"
#: Rows whose headers are read to tell synthetic from real data (spread evenly over the set).
SAMPLED_ROWS: int = 16

Log = Callable[[str], None]


def is_synthetic(path: str | Path) -> bool:
    """True when the raster (or product) at `path` was written by `sarclear synth`."""
    try:
        with rasterio.open(dataset_name(path)) as src:
            return src.tags().get(SYNTHETIC_TAG) == "1"
    except (RasterioError, OSError):
        return False


def training_provenance(
    samples: Sequence[Sample], manifest: str | Path, facts: Callable[[Sample], tuple[bool, str | None]] | None = None
) -> dict[str, str]:
    """`training_data`, `s2_level` and a one-line `training_summary` for the rows a model trains on.

    `facts` gives a row's (synthetic?, level); by default its S2 header is read (`header_facts`).
    A training pack passes the facts it recorded when packing, so its GeoTIFFs need not be there.
    """
    if not samples:
        return {"training_data": "unknown", "s2_level": "L1C", "training_summary": ""}
    step = max(1, len(samples) // SAMPLED_ROWS)
    picked = list(samples[::step])[:SAMPLED_ROWS]
    found = [facts(s) if facts is not None else header_facts(s.s2_path) for s in picked]
    synthetic = [f[0] for f in found]
    data = "synthetic" if all(synthetic) else "real" if not any(synthetic) else "mixed"
    levels = Counter(f[1] for f in found)
    level = levels.most_common(1)[0][0] or "L1C"
    seasons = Counter(s.season for s in samples)
    season_text = ", ".join(f"{k} {v}" for k, v in sorted(seasons.items()))
    summary = f"{len(samples)} {data} {level} triplets from {Path(manifest).name} ({season_text})"
    return {"training_data": data, "s2_level": level, "training_summary": summary}


def header_facts(path: Path) -> tuple[bool, str | None]:
    """(synthetic?, processing level) of one S2 file from a single header read."""
    try:
        with rasterio.open(dataset_name(path)) as src:
            synthetic, descriptions, count = src.tags().get(SYNTHETIC_TAG) == "1", src.descriptions, src.count
    except (RasterioError, OSError):
        return False, None
    return synthetic, describe_s2(path, descriptions=descriptions, count=count)[1].level


def warn_on_mismatch(training_data: str, s2_level: str, scene: RasterInfo, scene_level: str | None, log: Log) -> list[str]:
    """Log (and return) a warning for a synthetic-data model on real data, and for a level mismatch."""
    warnings = []
    if training_data == "synthetic" and not is_synthetic(scene.path):
        warnings.append(
            f"WARNING: the model was trained on synthetic data (sarclear synth) and {scene.path.name} is a real scene: expect synthetic "
            "texture, not a faithful picture; fit one to this scene with `sarclear adapt`, or train on SEN12MS-CR"
        )
    if scene_level is not None and s2_level and scene_level != s2_level:
        warnings.append(
            f"WARNING: the model was trained on Level-{s2_level[1:]} and {scene.path.name} is Level-{scene_level[1:]} "
            f"({'surface' if scene_level == 'L2A' else 'top-of-atmosphere'} reflectance): colours will be off; use {s2_level} products"
        )
    for line in warnings:
        log(line)
    return warnings
