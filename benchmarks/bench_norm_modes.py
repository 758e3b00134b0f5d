"""Batch norm at inference, measured: running statistics vs each window's own vs an instance-norm model.

    python benchmarks/bench_norm_modes.py --batch-run RUN_BN --instance-run RUN_IN --manifest M [--scene-size 384]

RUN_BN is a model trained with batch norm, RUN_IN the same recipe with `--norm instance`
(docs/train.md has the recipe the table there used: 128 px, ngf 16, batch 1). Each is scored

* on the manifest's val and test tiles (`tiles`): reflectance PSNR/SSIM per tile, averaged, as
  `evaluate` computes them, through `evaluate`'s engine (one window per tile at the training size);
* over a synthetic scene written with its clear truth (`sarclear.data.synthetic.bigscene`, summer,
  60 % cloud): `predict_scene` writes the GeoTIFF, scored against the truth (whole scene and under
  the cloud of the truth's difference), with `predict.seams.seam_ratio` (1: no visible grid).

Batch-norm modes of RUN_BN: `running` (eval-mode layers) and `window` (each window's statistics,
train-mode batch norm at batch 1); RUN_IN has no batch norm, so it is scored once. Prints one JSON
line per configuration. Not part of the test suite (minutes of CPU).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch

from sarclear.data.dataset import TripletDataset
from sarclear.data.manifest import read_manifest, select
from sarclear.data.normalize import s2_from_network
from sarclear.data.synthetic.bigscene import write_scene
from sarclear.evaluate.methods import EngineOptions, GeneratorPredictor
from sarclear.evaluate.metrics import dn_metrics
from sarclear.inference.tiling import WindowGrid
from sarclear.models.checkpoint import load_generator
from sarclear.predict import predict_scene
from sarclear.predict.seams import seam_ratio


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-run", type=Path, required=True, help="run or checkpoint trained with batch norm")
    p.add_argument("--instance-run", type=Path, help="the same recipe trained with --norm instance")
    p.add_argument("--manifest", type=Path, required=True, help="manifest whose val and test rows are scored")
    p.add_argument("--scene-size", type=int, default=384, help="synthetic scene side in px (0: skip the scene)")
    p.add_argument("--precision", default="fp32", help="engine precision (fp32: the comparison is not blurred by bf16)")
    p.add_argument("--workdir", type=Path, help="keep the scene and predictions here (default: a temporary folder)")
    return p.parse_args()


@torch.no_grad()
def score_tiles(checkpoint: Path, manifest: Path, norm: str, precision: str) -> dict[str, float]:
    generator, spec = load_generator(checkpoint)
    predictor = GeneratorPredictor(generator, spec, torch.device("cpu"), EngineOptions(precision=precision, norm=norm))
    rows = [s for s in select(read_manifest(manifest), "all") if s.split in ("val", "test")]
    data = TripletDataset(rows, bands=spec.bands, s2_clip_max=spec.s2_clip_max)
    psnr, ssim = [], []
    for sample in data:
        sar, cloudy, clear = (sample[k][None] for k in ("sar", "cloudy", "clear"))
        pred = predictor(sar, s2_from_network(cloudy, spec.s2_clip_max))
        m = dn_metrics(pred, s2_from_network(clear, spec.s2_clip_max))
        psnr.append(float(m["reflectance/psnr"][0]))
        ssim.append(float(m["reflectance/ssim"][0]))
    return {"tiles": len(rows), "tile_psnr": round(float(np.mean(psnr)), 2), "tile_ssim": round(float(np.mean(ssim)), 4)}


def score_scene(checkpoint: Path, scene: dict[str, Path], out: Path, norm: str, precision: str) -> dict[str, float]:
    start = time.perf_counter()
    predict_scene(checkpoint, scene["s1"], scene["s2_cloudy"], out, norm=norm, precision=precision, device="cpu", progress=False)
    seconds = time.perf_counter() - start
    with rasterio.open(out) as src, rasterio.open(scene["s2"]) as truth, rasterio.open(scene["s2_cloudy"]) as cloudy:
        pred = src.read().astype(np.float32)
        target = truth.read([4, 3, 2]).astype(np.float32)
        under_cloud = np.abs(cloudy.read([4, 3, 2]).astype(np.float32) - target).mean(axis=0) > 300  # visibly clouded
        tile = int(src.tags()["SARCLEAR_ENGINE_TILE"])
        overlap = int(src.tags()["SARCLEAR_ENGINE_OVERLAP"])
    whole = dn_metrics(torch.from_numpy(pred)[None], torch.from_numpy(target)[None], torch.from_numpy(under_cloud)[None])
    grid = WindowGrid(pred.shape[1], pred.shape[2], tile, overlap)
    return {
        "scene_psnr": round(float(whole["reflectance/psnr"][0]), 2),
        "scene_cloud_psnr": round(float(whole["reflectance/cloud/psnr"][0]), 2),
        "scene_cloud_pct": round(float(under_cloud.mean() * 100), 1),
        "seam_ratio": round(seam_ratio(pred, grid), 3),
        "scene_predict_s": round(seconds, 1),
        "tile": tile,
        "overlap": overlap,
    }


def main() -> None:
    args = parse()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sarclear-norm-"))
    work.mkdir(parents=True, exist_ok=True)
    scene = write_scene(work / "scene", args.scene_size, seed=11, cloud_cover=0.6, progress=False) if args.scene_size else None
    configs = [(args.batch_run, "batch", "running"), (args.batch_run, "batch", "window")]
    if args.instance_run is not None:
        configs.append((args.instance_run, "instance", "window"))
    for checkpoint, trained, norm in configs:
        result = {"model": str(checkpoint), "trained_norm": trained, "norm_mode": norm if trained == "batch" else "n/a",
                  "precision": args.precision, **score_tiles(checkpoint, args.manifest, norm, args.precision)}  # fmt: skip
        if scene is not None:
            result.update(score_scene(checkpoint, scene, work / f"{trained}_{norm}.tif", norm, args.precision))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
