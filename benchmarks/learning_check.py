"""Does training learn? Synthetic data -> `sarclear train` for a few CPU minutes -> PSNR vs identity.

    python benchmarks/learning_check.py --config configs/tiny.yaml --steps 1500

Writes a synthetic SEN12MS-CR-like dataset (`sarclear.data.synthetic`), a manifest of its train,
val and test tiles, trains with the given config, then scores the trained generator and the
identity baseline (the cloudy input returned as the prediction) on the val + test tiles with
cloud cover >= `--min-cover`: reflectance-scale PSNR/SSIM, per image then averaged. Prints one
JSON line. Not part of the test suite (it takes minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch
import yaml

from sarclear.config import load_config, with_overrides
from sarclear.data.dataset import TripletDataset, build_input
from sarclear.data.layout import official_paths
from sarclear.data.manifest import CORE_COLUMNS, read_manifest, select, write_manifest
from sarclear.data.synthetic import generate_dataset
from sarclear.evaluate.metrics import network_metrics
from sarclear.models.checkpoint import load_generator
from sarclear.train.loop import train


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--scenes", type=int, default=4, help="scenes per season (>= 3: train, val and test)")
    p.add_argument("--patches", type=int, default=16, help="tiles per scene")
    p.add_argument("--seasons", default="summer,winter")
    p.add_argument("--min-cover", type=float, default=30.0, help="score tiles with at least this cloud cover (%%)")
    p.add_argument("--workdir", type=Path, help="keep data and run here (default: a temporary folder)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. model.ngf=32")
    return p.parse_args()


def write_data(root: Path, size: int, scenes: int, patches: int, seasons: list[str]) -> Path:
    tiles = generate_dataset(root, scenes=scenes, patches=patches, size=size, seasons=seasons, seed=0,
                             bad_fraction=0.0, progress=False)
    rows = []
    for t in tiles:
        paths = official_paths(root, t.roi, t.scene, t.patch)
        rows.append({"sample_id": t.sample_id, "season": t.season, "scene": t.scene, "patch": t.patch,
                     "split": t.split, "kept": True, "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"],
                     "s2_path": paths["s2"], "cloud_cover_pct": t.cloud_cover_pct})
    return write_manifest(root / "manifest.csv", rows, [*CORE_COLUMNS, "cloud_cover_pct"])


@torch.no_grad()
def score(run: Path, manifest: Path, min_cover: float) -> dict[str, float]:
    generator, spec = load_generator(run)
    rows = [s for s in select(read_manifest(manifest), "all") if s.split != "train" and (s.cloud_cover_pct or 0) >= min_cover]
    data = TripletDataset(rows, bands=spec.bands, s2_clip_max=spec.s2_clip_max, crop_size=spec.tile_size)
    sums = torch.zeros(4, dtype=torch.float64)
    for sample in data:
        sar, cloudy, clear = (sample[k][None] for k in ("sar", "cloudy", "clear"))
        pred = generator(build_input(sar, cloudy, spec.use_sar))
        ours, ident = network_metrics(pred, clear, spec.s2_clip_max), network_metrics(cloudy, clear, spec.s2_clip_max)
        sums += torch.tensor([float(ours["reflectance/psnr"]), float(ours["reflectance/ssim"]),
                              float(ident["reflectance/psnr"]), float(ident["reflectance/ssim"])], dtype=torch.float64)
    mean = (sums / max(len(rows), 1)).tolist()
    return {"tiles": len(rows), "psnr": round(mean[0], 2), "ssim": round(mean[1], 4),
            "identity_psnr": round(mean[2], 2), "identity_ssim": round(mean[3], 4)}


def main() -> None:
    args = parse()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sarclear-learn-"))
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    config = with_overrides(load_config(args.config), overrides)
    manifest = write_data(work / "data", config.data.size, args.scenes, args.patches, args.seasons.split(","))
    run = work / "run"
    # the reference schedule squeezed into --steps: constant lr for the first half, then linear decay
    per_epoch = math.ceil(len(select(read_manifest(manifest), "train")) / config.data.batch_size)
    epochs = math.ceil(args.steps / per_epoch)
    config = with_overrides(config, {"manifest": str(manifest), "out": str(run), "run.max_steps": args.steps,
                                     "optim.epochs": epochs, "optim.decay_epochs": epochs // 2})
    start = time.perf_counter()
    train(config, progress=False)
    seconds = time.perf_counter() - start
    result = {"train_s": round(seconds, 1), "steps": args.steps, "config": str(args.config), "overrides": overrides,
              "train_tiles": len(select(read_manifest(manifest), "train")), "min_cover": args.min_cover,
              **score(run, manifest, args.min_cover), "run": str(run)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
