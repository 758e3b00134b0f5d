"""Wall time and peak memory of `sarclear adapt` on a whole scene, with and without `--reference`; print JSON.

A made scene (`sarclear.data.synthetic.write_scene`: 13-band L1C stack, S1, `--cloud-cover`) of
`--size` px (default 10980, a full Sentinel-2 tile); its clear twin `s2.tif` is the reference
(another date with the same ground: the cost is what is measured here, not the fill's quality,
which `bench_adapt_reference.py` measures on genuine dates). Each command runs in its own child
process, timed whole (reading, cloud detection, the fit of `--steps` steps, the prediction, the
COG) with its peak resident memory (`ru_maxrss` of that child). One torch thread by default.
`two_dates` gives two references (`--reference A B --reference-mask MA MB`): the twin with its
western half masked as cloud, then the twin again (under another name) with nothing masked, so
that both are read, checked and kept, the second filling what the first cannot see.
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
            "reference_decision": decision[-1] if decision else None, "reference_decisions": len(decision),
            "error": errors[-1] if errors else None}  # fmt: skip


def _two_dates(twin: Path, work: Path) -> tuple[list[str], list[str]]:
    """The twin as two reference dates: itself with its western half masked as cloud, and a copy of
    it (the same file twice is refused) with nothing masked; the two masks on its grid."""
    import shutil

    import numpy as np
    import rasterio

    second = Path(shutil.copyfile(twin, work / "s2_second_date.tif"))
    with rasterio.open(twin) as src:
        profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": 1, "dtype": "uint8", "crs": src.crs,
                   "transform": src.transform, "compress": "deflate", "tiled": True}  # fmt: skip
    masks = []
    for name, west in (("mask_west.tif", True), ("mask_none.tif", False)):
        mask = np.zeros((1, profile["height"], profile["width"]), np.uint8)
        if west:
            mask[:, :, : profile["width"] // 2] = 1
        with rasterio.open(work / name, "w", **profile) as dst:
            dst.write(mask)
        masks.append(str(work / name))
    return [str(twin), str(second)], masks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980, help="scene side in pixels (default 10980)")
    parser.add_argument("--steps", type=int, default=20, help="fit steps (default 20: the fit's cost does not grow with the scene)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cloud-cover", type=float, default=0.1,
                        help="the made scene's cloud cover (default 0.1; s2cloudless finds more, with its haze: 0.4 gave 83 %% "
                             "detected, too cloudy for adapt to fit)")
    parser.add_argument("--work", type=Path, help="folder for the scene and outputs (default: a temporary one)")
    parser.add_argument("--runs", default="adapt,adapt_reference,adapt_two_dates", help="which commands to time (comma-separated)")
    args = parser.parse_args(argv)
    runs = args.runs.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        start = time.perf_counter()
        paths = write_scene(work / "scene", args.size, cloud_cover=args.cloud_cover, progress=False)
        scene_s = time.perf_counter() - start
        base = ["-m", "sarclear", "--threads", str(args.threads), "adapt", "--s1", str(paths["s1"]), "--s2", str(paths["s2_cloudy"]),
                "--steps", str(args.steps)]  # fmt: skip
        result: dict = {"benchmark": "adapt_scene", "size_px": args.size, "steps": args.steps, "threads": args.threads,
                        "cloud_cover": args.cloud_cover, "scene_write_s": round(scene_s, 1)}  # fmt: skip
        if "adapt" in runs:
            result["adapt"] = _run([sys.executable, *base, "--out", str(work / "plain.tif")])
        if "adapt_reference" in runs:
            result["adapt_reference"] = _run([sys.executable, *base, "--reference", str(paths["s2"]), "--out", str(work / "reference.tif")])
        if "adapt_two_dates" in runs:
            dates, masks = _two_dates(paths["s2"], work)
            result["adapt_two_dates"] = _run([sys.executable, *base, "--reference", *dates, "--reference-mask", *masks,
                                              "--out", str(work / "two_dates.tif")])  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
