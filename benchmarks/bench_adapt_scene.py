"""Wall time and peak memory of `sarclear adapt` on a whole scene, with and without `--reference`; print JSON.

A made scene (`sarclear.data.synthetic.write_scene`: 13-band L1C stack, S1, `--cloud-cover`) of
`--size` px (default 10980, a full Sentinel-2 tile); its clear twin `s2.tif` is the reference
(another date with the same ground: the cost is what is measured here, not the fill's quality,
which `bench_adapt_reference.py` measures on genuine dates). Each command runs in its own child
process, timed whole (reading, cloud detection, the fit of `--steps` steps, the prediction, the
COG) with its peak resident memory (`ru_maxrss` of that child). One torch thread by default.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sarclear.data.synthetic import write_scene

_MEASURE = "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


def _run(args: list[str]) -> dict:
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    code, peak_kb = child.stdout.split()[-2:]
    decision = [line for line in child.stderr.splitlines() if ": used" in line or "NOT used" in line]
    errors = [line for line in child.stderr.splitlines() if line.startswith("sarclear: error")]
    return {"exit": int(code), "wall_s": round(wall, 1), "peak_rss_mb": round(int(peak_kb) / 1024),
            "reference_decision": decision[-1] if decision else None, "error": errors[-1] if errors else None}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980, help="scene side in pixels (default 10980)")
    parser.add_argument("--steps", type=int, default=20, help="fit steps (default 20: the fit's cost does not grow with the scene)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cloud-cover", type=float, default=0.1,
                        help="the made scene's cloud cover (default 0.1; s2cloudless finds more, with its haze: 0.4 gave 83 %% "
                             "detected, too cloudy for adapt to fit)")
    parser.add_argument("--work", type=Path, help="folder for the scene and outputs (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        start = time.perf_counter()
        paths = write_scene(work / "scene", args.size, cloud_cover=args.cloud_cover, progress=False)
        scene_s = time.perf_counter() - start
        base = ["-m", "sarclear", "--threads", str(args.threads), "adapt", "--s1", str(paths["s1"]), "--s2", str(paths["s2_cloudy"]),
                "--steps", str(args.steps)]  # fmt: skip
        result = {"benchmark": "adapt_scene", "size_px": args.size, "steps": args.steps, "threads": args.threads, "cloud_cover": args.cloud_cover,
                  "scene_write_s": round(scene_s, 1),
                  "adapt": _run([sys.executable, *base, "--out", str(work / "plain.tif")]),
                  "adapt_reference": _run([sys.executable, *base, "--reference", str(paths["s2"]), "--out", str(work / "reference.tif")])}  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
