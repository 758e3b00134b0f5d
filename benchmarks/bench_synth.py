"""Speed and memory of the synthetic data generator. Prints one JSON line.

* `dataset`: `generate_dataset` of `--tiles` 256-px tiles (summer + winter, 10 % defects) into a
  temporary folder: wall time and process CPU time (render + deflate GeoTIFF writing).
* `scene`: `write_scene` of one `--scene-size` px scene (13 bands), streamed in 256-row strips,
  measured in a child process so its peak resident memory (ru_maxrss) is the scene's alone.

Usage: .venv/bin/python benchmarks/bench_synth.py [--tiles 64] [--scene-size 8192]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sarclear.data.synthetic import generate_dataset

_CHILD = """
import resource, sys, time
from pathlib import Path
from sarclear.data.synthetic import write_scene
start = time.perf_counter()
write_scene(Path(sys.argv[1]), int(sys.argv[2]), cloud_cover=0.4, progress=False)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=64)
    parser.add_argument("--scene-size", type=int, default=8192)
    args = parser.parse_args()
    patches = max(1, math.ceil(args.tiles / 4))
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        tiles = generate_dataset(Path(tmp) / "ds", scenes=2, patches=patches, size=256, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(tmp) / "scene"), str(args.scene_size)],
            capture_output=True, text=True, check=True,
        )
        scene_s, maxrss_kb = child.stdout.split()
        scene_bytes = sum(p.stat().st_size for p in (Path(tmp) / "scene").iterdir())
    print(json.dumps({
        "dataset_tiles": len(tiles), "tile_px": 256, "dataset_wall_s": round(wall, 2), "dataset_cpu_s": round(cpu, 2),
        "scene_px": args.scene_size, "scene_wall_s": round(float(scene_s), 1),
        "scene_peak_rss_mb": round(int(maxrss_kb) / 1024), "scene_files_mb": round(scene_bytes / 2**20),
        "own_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
