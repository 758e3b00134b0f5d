"""Benchmark `sarclear adapt --reference` (a clear image of another date) on genuine data; print JSON.

All cases are SSL4EO-S12 location 0000200 (India, T43RCP; /work/shared/data/real-scenes/SOURCE.md),
a 256 px crop, with a *real cloud shape* and real cloud pixels pasted over a clear image, as in
`bench_adapt.py` (the same windows of the s2cloudless test scene, `cloud_windows`):

* `10d-*`: the scene is the L1C of 2020-08-23, which has its own cumulus and their shadows (69 %
  of the crop as sarclear detects them, 82 % once adapt dilates the mask by 6 px; they are filled
  too, and left out of the score); the reference is the L2A of 2020-08-13 (10 days earlier,
  another processing level, and cloud-free apart from haze); S1 of 2020-09-03. Scored inside the
  pasted cloud where the scene is clear. Under 10 % of these scenes is left clear, too little for
  adapt to fit a model from (it refuses, as the command does): the fits are reported as skipped.
* `10d-back-*`: the other way round: the scene is the clear L2A of 2020-08-13, the reference the
  cloudy L1C of 2020-08-23 (10 days later; only its clear third can be used).
* `70d-*`: the scene is the clear L2A of 2020-08-13, the reference the L2A of 2020-06-04 (70 days
  earlier: before the monsoon, other crops); S1 of 2020-09-03.
* `70d-back-*`: the scene is the clear L1C of 2020-06-04 (`bench_adapt.py`'s `ssl4eo-*`), the
  reference the L2A of 2020-08-13 (70 days later); S1 of 2020-06-07.
* `10d-back+70d-*`: two reference dates (`--reference A B`): the scene and clouds of `10d-back`,
  the cloudy L1C of 2020-08-23 (10 days later) first, the L2A of 2020-06-04 (70 days earlier) for
  what it cannot see.

The reference is given as its per-band folder, as downloaded (264 px: warped onto the crop's grid),
and read by adapt's own path (clouds detected; these L2A folders have no B10 or SCL, so by
brightness). Methods, scored inside the mask with `sarclear.evaluate.metrics.dn_metrics` (PSNR
reflectance scale, SSIM 8-bit display): identity, mean fill, push-pull (adapt's fill without a
reference), reference fill (the fill with it, whatever its self-check says: `--force-reference`,
`sarclear.data.reference_fill`), checked fill (adapt's fill as adapt decides: with the reference
only if the self-check keeps it), the fusion fit without and with the reference (as adapt decides).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adapt import SSL4EO, _read, _write_case, bench_arguments, cloud_windows, emit, score  # noqa: E402
from sarclear.adapt.reference import use_references  # noqa: E402
from sarclear.adapt.scene import SHADOW_DILATION_PX, TooCloudyError, load_scene  # noqa: E402
from sarclear.data.clouds import DEFAULT_THRESHOLD  # noqa: E402
from sarclear.data.normalize import s2_from_network  # noqa: E402
from sarclear.evaluate.adapt_method import adapt_prediction, read_prediction  # noqa: E402
from sarclear.evaluate.baselines import mean_fill_array, pushpull_array  # noqa: E402
from sarclear.io.geotiff import write_raster  # noqa: E402

WINDOW = (4, 4, 256)
METHODS = ("identity", "mean_fill", "pushpull", "reference_fill", "checked_fill", "fusion_fit", "fusion_fit_reference")


def _folder(kind: str, date: str) -> Path:
    return next((SSL4EO / kind / "0000200").glob(f"{date}*"))


def _rgb(folder: Path) -> tuple[np.ndarray, dict]:
    bands = [_read(folder / f"{b}.tif", WINDOW) for b in ("B4", "B3", "B2")]
    return np.stack([b[0] for b in bands]), bands[0][1]


def _s1(date: str) -> np.ndarray:
    folder = next((SSL4EO / "s1" / "0000200").glob(f"*_{date}T*"))
    return np.stack([_read(folder / f"{p}.tif", WINDOW)[0] for p in ("VV", "VH")])


def _own_clouds(folder: Path) -> np.ndarray:
    """The scene's own clouds and shadows as adapt detects them (dilated as adapt dilates), on the crop."""
    top, left, size = WINDOW
    return load_scene(folder, None, use_sar=False).cloud[top : top + size, left : left + size]


def prepare_cases(work: Path, seed: int) -> list[dict]:
    """Write every case's S1, cloudy S2, truth, adapt mask and scoring mask under `work`."""
    # (name, scene, reference, S1 date, cloud windows): the 10-day pair gets more windows, as its
    # own clouds leave a smaller share of each pasted cloud to score.
    plans = [("10d", ("s2c", "20200823"), [("s2a", "20200813")], "20200903", 4),
             ("10d-back", ("s2a", "20200813"), [("s2c", "20200823")], "20200903", 2),
             ("70d", ("s2a", "20200813"), [("s2a", "20200604")], "20200903", 2),
             ("70d-back", ("s2c", "20200604"), [("s2a", "20200813")], "20200607", 2),
             ("10d-back+70d", ("s2a", "20200813"), [("s2c", "20200823"), ("s2a", "20200604")], "20200903", 2)]  # fmt: skip
    cases = []
    for name, scene, references, s1_date, windows in plans:
        truth, meta = _rgb(_folder(*scene))
        own = _own_clouds(_folder(*scene)) if name == "10d" else np.zeros(truth.shape[1:], bool)
        reference_rgb = _rgb(_folder(*references[0]))[0]  # the crop the figure shows (the nearest date)
        for k, (cloud, cloudy) in enumerate(cloud_windows(256, windows, seed)):
            folder = work / f"{name}-{k}"
            case = _write_case(folder, truth, _s1(s1_date), meta, cloud | own, np.where(cloud[None], cloudy, truth))
            score_mask = write_raster(folder / "score_mask.tif", (cloud & ~own).astype(np.uint8), **meta)
            write_raster(folder / "reference.tif", reference_rgb, descriptions=("B4", "B3", "B2"), **meta)
            cases.append({**case, "score_mask": str(score_mask), "reference": [str(_folder(*r)) for r in references],
                          "own_cloud_share": round(float(own.mean()), 3)})  # fmt: skip
    return cases


def reference_fill_array(case: dict, seed: int, force: bool) -> np.ndarray:
    """The fill `adapt --reference` gives its model (`s2_filled.tif`), in DN, without a fit: with the
    reference dates whatever their self-checks say (`force`), or as adapt decides."""
    scene = load_scene(case["s2"], None, use_sar=False, mask=case["mask"], shadow_dilation=0)
    scene, _ = use_references(scene, case["reference"], seed=seed, force=force, shadow_dilation=SHADOW_DILATION_PX,
                              cloud_threshold=DEFAULT_THRESHOLD, use_scl=True)  # fmt: skip
    fill = np.round(s2_from_network(scene.filled_scene(), scene.s2_clip_max))
    return np.where(scene.cloud[None], fill, scene.dn).astype(np.float32)


def _save(pred: np.ndarray, case: dict, path: Path) -> None:
    """A fill as a GeoTIFF on the case's grid, for `adapt_figure.py --columns`."""
    with rasterio.open(case["s2"]) as src:
        crs, transform = src.crs, src.transform
    write_raster(path, np.clip(np.round(pred), 0, 65535).astype(np.uint16), crs=crs, transform=transform,
                 descriptions=("B4", "B3", "B2"))  # fmt: skip


def run_case(case: dict, work: Path, steps: int, seed: int, methods: list[str]) -> dict:
    cloudy, truth = read_prediction(case["s2"]), read_prediction(case["truth"])
    mask = read_prediction(case["mask"])[0] > 0
    scored = read_prediction(case["score_mask"])[0] > 0
    simple = {"identity": lambda: cloudy, "mean_fill": lambda: mean_fill_array(cloudy, mask),
              "pushpull": lambda: pushpull_array(cloudy, mask), "reference_fill": lambda: reference_fill_array(case, seed, True),
              "checked_fill": lambda: reference_fill_array(case, seed, False)}  # fmt: skip
    results: dict[str, dict] = {}
    for name in methods:
        start = time.perf_counter()
        if name in simple:
            pred = simple[name]()
            _save(pred, case, work / case["name"] / f"{name}.tif")
        else:
            fit = {"reference": case["reference"]} if name == "fusion_fit_reference" else {}
            try:
                pred = adapt_prediction(case["s2"], case["s1"], case["mask"], work / case["name"] / f"{name}.tif",
                                        use_sar=True, steps=steps, seed=seed, fit=fit)  # fmt: skip
            except TooCloudyError as error:
                results[name] = {"skipped": str(error).split(": ", 1)[-1]}
                continue
        results[name] = {**score(pred.astype(np.float32), truth, scored), "seconds": round(time.perf_counter() - start, 1)}
    return {"case": case["name"], "cloud_share": round(float(scored.mean()), 3), "own_cloud_share": case["own_cloud_share"],
            "size": list(mask.shape), "methods": results}  # fmt: skip


def _group(case: str) -> str:
    return case.rsplit("-", 1)[0]


def summarise(rows: list[dict], methods: list[str]) -> dict:
    """Per group of cases (`10d`, `70d`, ...), each method's mean over the cases *every* method ran
    on (a fit skipped as too cloudy drops its case from the group's means, so that the means compare
    the same pixels); `cases` says how many."""
    out: dict[str, dict] = {}
    for group in dict.fromkeys(_group(r["case"]) for r in rows):
        common = [r for r in rows if _group(r["case"]) == group and all("skipped" not in r["methods"][m] for m in methods)]
        out[group] = {}
        for name in methods if common else ():
            values = [r["methods"][name] for r in common]
            out[group][name] = {key: round(float(np.mean([v[key] for v in values])), 4) for key in values[0]} | {"cases": len(common)}
    return out


def _cell(result: dict | None, bold: bool = False) -> str:
    if result is None or "skipped" in result:
        return "too cloudy to fit"
    text = f"{result['psnr_cloud']:.2f} / {result['ssim8_cloud']:.3f}"
    return f"**{text}**" if bold else f"{text} ({result['seconds']:.0f} s)"


def markdown_table(rows: list[dict], methods: list[str]) -> str:
    """Per case and per group mean: PSNR (dB) / 8-bit SSIM inside the scored mask, per method."""
    head = "| case | scored | " + " | ".join(methods) + " |\n|" + " --- |" * (len(methods) + 2) + "\n"
    lines, means = [], summarise(rows, methods)
    for group, mean in means.items():
        for r in (r for r in rows if _group(r["case"]) == group):
            lines.append(f"| {r['case']} | {r['cloud_share']:.0%} | " + " | ".join(_cell(r["methods"][m]) for m in methods) + " |")
        cases = next(iter(mean.values()), {}).get("cases", 0)
        lines.append(f"| **{group} mean** ({cases} cases) | | " + " | ".join(_cell(mean.get(m), bold=True) for m in methods) + " |")
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, Path("/tmp/bench-adapt-reference"), ",".join(METHODS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cases = prepare_cases(args.work, args.seed)
    if args.cases:
        cases = [c for c in cases if c["name"] in set(args.cases.split(","))]
    methods = args.methods.split(",")
    # spawn, not fork: the parent has run s2cloudless (LightGBM's OpenMP pool), and a forked child
    # waits forever on that pool's lock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, context, initializer=torch.set_num_threads, initargs=(args.threads,)) as pool:
        rows = []
        for future in [pool.submit(run_case, case, args.work, args.steps, args.seed, methods) for case in cases]:
            rows.append(future.result())
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {"benchmark": "adapt_reference", "steps": args.steps, "seed": args.seed, "threads": args.threads, "jobs": args.jobs,
              "metric_notes": "inside the pasted cloud where the scene is clear: PSNR reflectance scale, SSIM 8-bit display (DN 0-3000)",
              "mean": summarise(rows, methods), "cases": rows}  # fmt: skip
    emit(result, markdown_table(rows, methods), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
