"""Benchmark the composite mask with and without cloud shadows; print JSON.

A synthetic 13-band L1C scene (`--size` px square, 10 m UTM grid, land DN with texture, square
clouds with darkened patches beside them) is written once; `MaskSource` then makes the mask of the
whole scene strip by strip, exactly as `predict --composite` does (256-row strips), once with
shadows off and once with them on (any direction; and with the sun's azimuth given). Reported:
wall and CPU seconds of each, the shadow search's extra cost, the cloud and shadow shares.

    python benchmarks/bench_shadows.py --size 2048
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from sarclear.io import write_raster
from sarclear.io.sun_angles import SunAngles
from sarclear.predict.masking import MaskSource
from sarclear.predict.reader import SceneReader
from sarclear.predict.scene import inspect_scene

LAND = np.array([1300, 1000, 900, 700, 1000, 2000, 2400, 2500, 2700, 800, 15, 1800, 1000])
CLOUD = np.array([6000, 6200, 6300, 6500, 6600, 6700, 6800, 6800, 6900, 3000, 1200, 4500, 3500])
STRIP = 256


def write_scene(folder: Path, size: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    s2 = (LAND[:, None, None] * rng.uniform(0.85, 1.15, (1, size, size))).astype(np.uint16)
    for _ in range(max(1, size * size // 40_000)):
        y, x, side = int(rng.integers(0, size - 64)), int(rng.integers(0, size - 64)), int(rng.integers(12, 48))
        s2[:, y : y + side, x : x + side] = CLOUD[:, None, None]
        shade = (slice(y + side, min(size, y + 2 * side)), slice(x, x + side))  # south of it
        s2[:, shade[0], shade[1]] = (s2[:, shade[0], shade[1]] * 0.35).astype(np.uint16)
    return write_raster(folder / "s2.tif", s2, crs="EPSG:32631", transform=from_origin(600000.0, 5100000.0, 10.0, 10.0))


def run(path: Path, shadows: bool, sun: SunAngles | None) -> dict[str, float | str]:
    inputs = replace(inspect_scene(path, None, use_sar=False, bands="rgb"), sun=sun)
    wall, cpu = time.perf_counter(), time.process_time()
    with SceneReader(inputs) as reader:
        source = MaskSource(reader) if shadows else MaskSource(reader, shadow_dilation=None)
        for r0 in range(0, inputs.shape[0], STRIP):
            source.rows(r0, min(inputs.shape[0], r0 + STRIP))
    tags = source.tags()
    return {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "cloud_pct": float(tags["SARCLEAR_CLOUD_PCT"]), "shadow_pct": float(tags["SARCLEAR_SHADOW_PCT"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_scene(Path(tmp), args.size)
        results = {"size_px": args.size, "strip_rows": STRIP,
                   "no_shadows": run(path, False, None), "shadows_any_direction": run(path, True, None),
                   "shadows_sun_given": run(path, True, SunAngles(40.0, 0.0))}  # fmt: skip
    base = results["no_shadows"]["cpu_s"]
    for key in ("shadows_any_direction", "shadows_sun_given"):
        results[key]["extra_cpu_s"] = round(results[key]["cpu_s"] - base, 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
