"""One large synthetic scene (e.g. 8192 x 8192 px) for `predict` demos and benchmarks.

Rendered and written strip by strip (`STRIP_ROWS` rows at a time, through rasterio windows) so
memory stays bounded whatever the size; the result equals `make_scene` with the same arguments.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from sarclear.data.bands import RGB_NAMES, S1_BANDS, S2_BANDS, S2_RGB_POSITIONS
from sarclear.data.provenance import SYNTHETIC_TAG
from sarclear.data.synthetic.scene import STRIP_ROWS, draw_scene_spec, render_window, strip_rng
from sarclear.errors import ConfigError
from sarclear.io.atomic import atomic_output
from sarclear.io.profiles import gtiff_profile
from sarclear.progress import progress_bar

_BLOCK = 256


def write_scene(
    out_dir: Path,
    size: int,
    *,
    season: str = "summer",
    seed: int = 0,
    bands: int = 13,
    cloud_cover: float | None = None,
    snow: bool = False,
    crs: str = "EPSG:32632",
    origin: tuple[float, float] = (400_000.0, 5_300_000.0),
    progress: bool = True,
) -> dict[str, Path]:
    """Write `out_dir/s1.tif`, `s2_cloudy.tif`, `s2.tif` for a `size` x `size` scene at 10 m.

    `bands` 13 writes the L1C stack, 3 writes B4, B3, B2 (with band descriptions, so readers find
    RGB by name). `cloud_cover` in [0, 1] (None: drawn). Returns the paths by modality.
    """
    if bands not in (13, 3):
        raise ConfigError(f"bands must be 13 (L1C stack) or 3 (B4, B3, B2), got {bands}")
    if size < 8:
        raise ConfigError(f"scene size must be at least 8 px, got {size}")
    out_dir = Path(out_dir)
    spec = draw_scene_spec(season, seed, (0, 0, size, size), cloud_cover=cloud_cover, snow=snow)
    transform = from_origin(origin[0], origin[1], 10.0, 10.0)
    s2_index = list(range(13)) if bands == 13 else list(S2_RGB_POSITIONS)
    s2_names = S2_BANDS if bands == 13 else RGB_NAMES
    layout = {"s1": (2, "float32", S1_BANDS, [0, 1]), "s2_cloudy": (bands, "uint16", s2_names, s2_index),
              "s2": (bands, "uint16", s2_names, s2_index)}
    paths = {key: out_dir / f"{key}.tif" for key in layout}
    with contextlib.ExitStack() as stack:
        outputs = {}
        for key, (count, dtype, names, _) in layout.items():
            tmp = stack.enter_context(atomic_output(paths[key]))
            profile = gtiff_profile(count=count, height=size, width=size, dtype=dtype, crs=crs, transform=transform,
                                    blocksize=_BLOCK, bigtiff=True)
            dst = stack.enter_context(rasterio.open(tmp, "w", **profile))
            for band, name in enumerate(names, start=1):
                dst.set_band_description(band, name)
            dst.update_tags(**{SYNTHETIC_TAG: "1"})
            outputs[key] = dst
        for top in progress_bar(range(0, size, STRIP_ROWS), desc="scene", unit="strip", disable=not progress):
            height = min(STRIP_ROWS, size - top)
            arrays = render_window(spec, top, 0, height, size, strip_rng(seed, top // STRIP_ROWS))
            for key, (_, _, _, index) in layout.items():
                outputs[key].write(np.ascontiguousarray(arrays[key][index]), window=Window(0, top, size, height))
    return paths
