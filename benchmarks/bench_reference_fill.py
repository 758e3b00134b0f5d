"""Cost of `adapt --reference`'s fill on a whole scene, beside the plain push-pull fill; print JSON.

`adapt` fills the whole scene once, for the model's input under the real clouds
(`AdaptScene.filled_scene`); with a reference that is `sarclear.data.reference_fill`, whose
windowed least-squares fit holds a few full-size float32 planes per band. This measures both
fills on the same made scene (fields of random colours, the reference the same fields in other
colours, a third of the scene under round clouds, a tenth of the reference under its own), each in
a fresh process, for its wall time and peak resident memory (`ru_maxrss`), and that peak above
the resident memory just before the fill (`peak_above_inputs_mb`: what the fill itself adds; the
scene is built in place so that its setup does not set the peak). Default: a full Sentinel-2
tile, 10980 px.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import resource, sys, time
import numpy as np
from sarclear.data.hole_fill import pushpull_fill
from sarclear.data.reference_fill import reference_fill

method, size = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
cells = -(-size // 20)
optical = np.empty((3, size, size), np.float32)  # built in place: the setup's own peak stays low
for band in optical:
    band[:] = np.repeat(np.repeat(2 * rng.random((cells, cells), dtype=np.float32) - 1, 20, 0), 20, 1)[:size, :size]
reference = optical * np.float32(0.8)
reference += np.float32(0.1)
yy, xx = np.ogrid[:size, :size]
def clouds(count, radius, seed):
    r = np.random.default_rng(seed)
    mask = np.zeros((size, size), bool)
    for cy, cx in r.integers(0, size, (count, 2)):
        mask[max(0, cy - radius):cy + radius, max(0, cx - radius):cx + radius] |= (
            (yy[max(0, cy - radius):cy + radius] - cy) ** 2 + (xx[:, max(0, cx - radius):cx + radius] - cx) ** 2 < radius**2)
    return mask
radius = max(4, size // 40)
clear = ~clouds(int(0.45 * (size / radius) ** 2 / 3.14), radius, 1)
reference_clear = ~clouds(int(0.11 * (size / radius) ** 2 / 3.14), radius, 2)
def rss_kb():
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1])
before = rss_kb()
start = time.perf_counter()
if method == "pushpull":
    out = pushpull_fill(optical, clear)
else:
    out = reference_fill(optical, clear, reference, reference_clear)
seconds = time.perf_counter() - start
inside = ~clear & reference_clear
error = float(np.abs(out[:, inside] - optical[:, inside]).mean()) if inside.any() else 0.0
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, before, 1 - clear.mean(), 1 - reference_clear.mean(), error)
"""


def run(method: str, size: int) -> dict:
    child = subprocess.run([sys.executable, "-c", _CHILD, method, str(size)], capture_output=True, text=True, check=True)
    seconds, peak_kb, before_kb, cloud, reference_cloud, error = child.stdout.split()
    return {"wall_s": round(float(seconds), 1), "peak_rss_mb": round(int(peak_kb) / 1024),
            "rss_before_mb": round(int(before_kb) / 1024), "peak_above_inputs_mb": round((int(peak_kb) - int(before_kb)) / 1024),
            "cloud_share": round(float(cloud), 3),
            "reference_cloud_share": round(float(reference_cloud), 3), "mean_abs_error_where_reference_clear": round(float(error), 4)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980, help="scene side in pixels (default 10980, a full S2 tile)")
    args = parser.parse_args(argv)
    inputs_mb = round((2 * 3 * 4 + 2) * args.size**2 / 2**20)  # optical and reference float32, two bool masks
    result = {"benchmark": "reference_fill", "size_px": args.size, "inputs_mb": inputs_mb,
              "pushpull": run("pushpull", args.size), "reference_fill": run("reference", args.size)}  # fmt: skip
    result["wall_ratio"] = round(result["reference_fill"]["wall_s"] / max(result["pushpull"]["wall_s"], 1e-3), 2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
