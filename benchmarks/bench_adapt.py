"""Benchmark `sarclear adapt` on genuine data with a known truth; print JSON (and write it with --json).

Cases (all genuine Sentinel data, see /work/shared/data/real-scenes/SOURCE.md):

* `ssl4eo-*`: SSL4EO-S12 location 0000200, L1C 2020-06-04 (clear) with S1 2020-06-07, a 256 px crop;
* `ben-*`: the six BigEarthNet v1 S2 L2A + S1 pairs (120 px);

each with a *real cloud shape* laid over the clear image: a window of the s2cloudless test scene's
reference mask (`cl_mask`), and that scene's own cloudy pixels pasted inside it (so the identity
baseline sees real cloud tops). The clear image is the truth. Per-band files are stacked into RGB
GeoTIFFs (B4 B3 B2, all 10 m bands, so no resampling is needed). One more case has real clouds:

* `sen12mscr-fall`: the genuine SEN12MS-CR test triplet ROIs1970_fall 139 p839 (tests/data), real
  cumulus over half the tile and haze elsewhere. s2cloudless marks 97 % of it cloudy (too cloudy to
  learn from), so its mask is an *oracle*: the pixels whose RGB mean exceeds the clear target's by
  more than `ORACLE_DN`, dilated by 2 px. Its truth was taken on another date.
  (The winter triplet is dark thin haze over the whole tile: no mask separates cloud from clear.)

Methods, all scored inside the cloud mask with `sarclear.evaluate.metrics.dn_metrics` (PSNR on the
reflectance scale, SSIM on the 8-bit display scale, DN [0, 3000] -> [0, 255]), and computed by
`sarclear evaluate`'s own code (`sarclear.evaluate.baselines`, `sarclear.evaluate.adapt_method`):
identity (the cloudy input), mean fill (the scene's mean clear colour), biharmonic inpainting
(scikit-image `inpaint_biharmonic`), push-pull (the mask graded in from its surroundings: the
fill the fitted models start from), the optical-only fit (`adapt --no-sar`) and the fusion fit
(`adapt`, SAR-guided), each with its wall time. The fits use a fixed `--steps` for reproducibility.
(`sarclear evaluate --adapt sar,no-sar --baseline identity,mean-fill,biharmonic` scores the same
methods on a manifest of triplets, with evaluate's detected cloud mask instead of a given one.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
import torch

from sarclear.evaluate.adapt_method import adapt_prediction, read_prediction
from sarclear.evaluate.baselines import biharmonic_array, mean_fill_array, pushpull_array
from sarclear.evaluate.metrics import dn_metrics
from sarclear.io.geotiff import write_raster

REAL = Path("/work/shared/data/real-scenes")
SSL4EO = REAL / "ssl4eo-s12"
BEN = REAL / "bigearthnet-v1"
CLOUDS = REAL / "s2cloudless-scene" / "input_arrays.npz"
FALL = Path(__file__).resolve().parents[1] / "tests" / "data" / "sen12mscr-real"
#: Oracle cloud mask of the genuine fall triplet: cloudy RGB brighter than the target by this many DN.
ORACLE_DN = 300
#: Cloud windows are taken where the reference mask covers this share of the window.
CLOUD_SHARE = (0.25, 0.55)


def _read(path: Path, window: tuple[int, int, int] | None = None) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        array = src.read(1)
        meta = {"crs": src.crs, "transform": src.transform}
    if window is not None:
        top, left, size = window
        array = array[top : top + size, left : left + size]
        meta["transform"] = meta["transform"] * rasterio.Affine.translation(left, top)
    return array, meta


def cloud_windows(size: int, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` (mask, cloudy RGB DN) windows of the s2cloudless scene with a mid-range cloud share."""
    data = np.load(CLOUDS)
    mask = data["cl_mask"][0].astype(bool)
    rgb = np.clip(data["s2_im"][0][..., [3, 2, 1]] * 10000, 0, 65535).astype(np.uint16).transpose(2, 0, 1)
    rng = np.random.default_rng(seed)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    while len(out) < count:
        top, left = int(rng.integers(0, mask.shape[0] - size)), int(rng.integers(0, mask.shape[1] - size))
        window = mask[top : top + size, left : left + size]
        if CLOUD_SHARE[0] <= window.mean() <= CLOUD_SHARE[1]:
            out.append((window.copy(), rgb[:, top : top + size, left : left + size].copy()))
    return out


def _write_case(folder: Path, truth: np.ndarray, s1: np.ndarray, meta: dict, cloud: np.ndarray, cloudy_rgb: np.ndarray) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    cloudy = np.where(cloud[None], cloudy_rgb, truth).astype(np.uint16)
    rgb = ("B4", "B3", "B2")
    paths = {
        "s2": write_raster(folder / "s2_cloudy.tif", cloudy, descriptions=rgb, **meta),
        "truth": write_raster(folder / "truth.tif", truth, descriptions=rgb, **meta),
        "s1": write_raster(folder / "s1.tif", s1.astype(np.float32), descriptions=("VV", "VH"), **meta),
        "mask": write_raster(folder / "mask.tif", cloud.astype(np.uint8), **meta),
    }
    return {"name": folder.name, **{k: str(v) for k, v in paths.items()}}


def prepare_cases(work: Path, seed: int) -> list[dict]:
    """Write every case's S1, cloudy S2, truth and mask GeoTIFFs under `work`."""
    cases = []
    s2_dir = next((SSL4EO / "s2c" / "0000200").glob("20200604*"))
    s1_dir = next((SSL4EO / "s1" / "0000200").glob("*20200607*"))
    window = (4, 4, 256)
    for k, (cloud, cloudy) in enumerate(cloud_windows(256, 2, seed)):
        bands = [_read(s2_dir / f"{b}.tif", window) for b in ("B4", "B3", "B2")]
        s1 = np.stack([_read(s1_dir / f"{p}.tif", window)[0] for p in ("VV", "VH")])
        truth = np.stack([b[0] for b in bands])
        cases.append(_write_case(work / f"ssl4eo-{k}", truth, s1, bands[0][1], cloud, cloudy))
    s1_folders = sorted((BEN / "BigEarthNet-S1-Example").iterdir())
    for k, (folder, (cloud, cloudy)) in enumerate(zip(s1_folders, cloud_windows(120, len(s1_folders), seed + 1))):
        meta_file = next(folder.glob("*_labels_metadata.json"))
        s2_name = json.loads(meta_file.read_text())["corresponding_s2_patch"]
        s2_folder = BEN / "BigEarthNet-S2-Example" / s2_name
        bands = [_read(s2_folder / f"{s2_name}_{b}.tif") for b in ("B04", "B03", "B02")]
        s1 = np.stack([_read(next(folder.glob(f"*_{p}.tif")))[0] for p in ("VV", "VH")])
        truth = np.stack([b[0] for b in bands])
        cases.append(_write_case(work / f"ben-{k}", truth, s1, bands[0][1], cloud, cloudy))
    cases.append(_fall_case(work))
    return cases


def _fall_case(work: Path) -> dict:
    from sarclear.data.clouds import dilate

    def rgb(pattern: str) -> tuple[np.ndarray, dict]:
        path = next(FALL.glob(pattern))
        with rasterio.open(path) as src:
            return src.read([4, 3, 2]), {"crs": src.crs, "transform": src.transform}

    cloudy, meta = rgb("ROIs1970_fall_s2_cloudy/*/*.tif")
    truth, _ = rgb("ROIs1970_fall_s2/*/*.tif")
    with rasterio.open(next(FALL.glob("ROIs1970_fall_s1/*/*.tif"))) as src:
        s1 = src.read()
    cloud = dilate((cloudy.astype(np.float32) - truth).mean(axis=0) > ORACLE_DN, 2)
    return _write_case(work / "sen12mscr-fall", truth, s1, meta, cloud, cloudy)


def score(pred: np.ndarray, truth: np.ndarray, cloud: np.ndarray) -> dict[str, float]:
    m = dn_metrics(torch.from_numpy(pred[None]), torch.from_numpy(truth[None]), torch.from_numpy(cloud[None]))
    return {
        "psnr_cloud": round(float(m["reflectance/cloud/psnr"][0]), 2),
        "ssim8_cloud": round(float(m["display/cloud/ssim"][0]), 4),
        "psnr_all": round(float(m["reflectance/psnr"][0]), 2),
    }


def run_case(case: dict, work: Path, steps: int, seed: int, methods: list[str], fit_options: dict) -> dict:
    cloudy, truth = read_prediction(case["s2"]), read_prediction(case["truth"])
    cloud = read_prediction(case["mask"])[0] > 0
    results: dict[str, dict] = {}
    simple = {"identity": lambda: cloudy, "mean_fill": lambda: mean_fill_array(cloudy, cloud),
              "biharmonic": lambda: biharmonic_array(cloudy, cloud), "pushpull": lambda: pushpull_array(cloudy, cloud)}  # fmt: skip
    for name in methods:
        start = time.perf_counter()
        if name in simple:
            pred = simple[name]()
        else:
            pred = adapt_prediction(case["s2"], case["s1"], case["mask"], work / case["name"] / f"{name}.tif",
                                    use_sar=name == "fusion_fit", steps=steps, seed=seed, fit=fit_options)  # fmt: skip
        results[name] = {**score(pred.astype(np.float32), truth, cloud), "seconds": round(time.perf_counter() - start, 1)}
    return {"case": case["name"], "cloud_share": round(float(cloud.mean()), 3), "size": list(cloud.shape), "methods": results}


def summarise(rows: list[dict], methods: list[str]) -> dict:
    out = {}
    for name in methods:
        values = [r["methods"][name] for r in rows]
        out[name] = {key: round(float(np.mean([v[key] for v in values])), 4) for key in values[0]}
    return out


def markdown_table(rows: list[dict], methods: list[str]) -> str:
    """Per case and mean: PSNR (dB) / 8-bit SSIM inside the cloud mask, and seconds, per method."""
    head = "| case | cloud | " + " | ".join(methods) + " |\n|" + " --- |" * (len(methods) + 2) + "\n"
    lines = []
    for r in rows:
        cells = [f"{r['methods'][m]['psnr_cloud']:.2f} / {r['methods'][m]['ssim8_cloud']:.3f} ({r['methods'][m]['seconds']:.0f} s)" for m in methods]
        lines.append(f"| {r['case']} | {r['cloud_share']:.0%} | " + " | ".join(cells) + " |")
    mean = summarise(rows, methods)
    cells = [f"**{mean[m]['psnr_cloud']:.2f} / {mean[m]['ssim8_cloud']:.3f}** ({mean[m]['seconds']:.0f} s)" for m in methods]
    lines.append("| **mean** | | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def bench_arguments(parser: argparse.ArgumentParser, work: Path, methods: str) -> None:
    """The options every adapt benchmark takes (this one and `bench_adapt_reference.py`)."""
    parser.add_argument("--work", type=Path, default=work, help="folder for the cases and outputs")
    parser.add_argument("--steps", type=int, default=300, help="training steps per fit (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", help="comma-separated case names to run (default: all)")
    parser.add_argument("--methods", default=methods)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1: on a shared 2-core machine one thread runs faster)")
    parser.add_argument("--jobs", type=int, default=1, help="cases fitted in parallel processes (default 1)")
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the docs table (markdown) here")


def emit(result: dict, table: str, args: argparse.Namespace) -> None:
    """Print the result's JSON; write it and the docs table where `--json` and `--markdown` ask."""
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.markdown:
        args.markdown.write_text(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, Path("/tmp/bench-adapt"), "identity,mean_fill,biharmonic,pushpull,optical_fit,fusion_fit")
    parser.add_argument("--ngf", type=int)
    parser.add_argument("--crop", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--no-residual", action="store_true", help="fresh models start at the mean clear colour instead of correcting their push-pull-filled input (the comparison in docs/adapt.md)")
    parser.add_argument("--norm-mode", choices=("auto", "window", "running"), help="batch norm of the fitted model's prediction (default: adapt's, auto)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cases = prepare_cases(args.work, args.seed)
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [c for c in cases if c["name"] in wanted]
    methods = args.methods.split(",")
    fit_options = {k: v for k, v in {"ngf": args.ngf, "crop": args.crop, "batch_size": args.batch_size, "lr": args.lr, "norm": args.norm_mode,
                                              "residual": False if args.no_residual else None}.items() if v is not None}
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=torch.set_num_threads, initargs=(args.threads,)) as pool:
        futures = [pool.submit(run_case, case, args.work, args.steps, args.seed, methods, fit_options) for case in cases]
        rows = []
        for future in futures:
            rows.append(future.result())
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {
        "benchmark": "adapt", "steps": args.steps, "seed": args.seed, "threads": args.threads, "jobs": args.jobs, "fit_options": fit_options,
        "metric_notes": "inside the cloud mask: PSNR reflectance scale (data range 1), SSIM 8-bit display scale (DN 0-3000 -> 0-255)",
        "mean": summarise(rows, methods), "cases": rows,
    }  # fmt: skip
    emit(result, markdown_table(rows, methods), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
