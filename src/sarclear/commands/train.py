"""`sarclear train`: resolve the config (defaults <- --config YAML <- flags) and call `train`.

Under `torchrun --nproc_per_node=N -m sarclear train ...` every process runs this same command;
rank 0 alone writes files and prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sarclear.config import PRECISIONS, TrainConfig, layered_config
from sarclear.errors import ConfigError

#: The defaults, for the help texts (they live in `sarclear.config`, nowhere else).
_D = TrainConfig()

#: flag destination -> dotted config key it overrides.
FLAG_KEYS: dict[str, str] = {
    "manifest": "manifest",
    "out": "out",
    "pack": "pack",
    "size": "data.size",
    "ngf": "model.ngf",
    "ndf": "model.ndf",
    "norm": "model.norm",
    "bands": "model.bands",
    "no_sar": "model.use_sar",
    "batch_size": "data.batch_size",
    "workers": "data.workers",
    "season_balanced": "data.season_balanced",
    "epochs": "optim.epochs",
    "decay_epochs": "optim.decay_epochs",
    "lr": "optim.lr",
    "lambda_l1": "optim.lambda_l1",
    "gan_mode": "optim.gan_mode",
    "seed": "run.seed",
    "precision": "run.precision",
    "compile": "run.compile",
    "max_steps": "run.max_steps",
    "log_every": "run.log_every",
    "val_every": "run.val_every",
    "ckpt_every": "run.ckpt_every",
    "val_tiles": "run.val_tiles",
    "sync_bn": "run.sync_bn",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", help="manifest.csv (train and val rows are used); on --resume, default: the run's")
    parser.add_argument("--out", required=True, type=Path, help="run folder: config.yaml, metrics.csv, samples/, checkpoints/")
    parser.add_argument("--pack", help="read the tiles from this `sarclear pack` folder of the manifest, not the GeoTIFFs")
    parser.add_argument("--config", type=Path, help="YAML recipe (e.g. configs/seed.yaml); flags override it")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/last")
    parser.add_argument("--size", type=int, help="training crop in px, a power of two (U-Net depth follows it)")
    parser.add_argument("--ngf", type=int, help=f"generator width (default {_D.model.ngf}, as Pix2Pix)")
    parser.add_argument("--ndf", type=int, help=f"discriminator width (default {_D.model.ndf}, as Pix2Pix)")
    parser.add_argument("--norm", choices=("batch", "instance"), help="normalisation layers of G and D")
    parser.add_argument("--bands", choices=("rgb", "all13"), help=f"S2 bands in and out (default {_D.model.bands})")
    parser.add_argument("--no-sar", action="store_const", const=False, help="optical-only ablation: no S1 input")
    parser.add_argument("--batch-size", type=int, help="tiles per step per process")
    parser.add_argument("--workers", type=int, help="DataLoader worker processes per training process")
    parser.add_argument("--season-balanced", action="store_const", const=True, help="draw every season equally often")
    parser.add_argument("--epochs", type=int, help=f"total epochs (default {_D.optim.epochs}); the lr decays over the last half unless decay_epochs is set")
    parser.add_argument("--decay-epochs", type=int, help="epochs of linear lr decay at the end (default: half)")
    parser.add_argument("--lr", type=float, help=f"Adam learning rate of G and D (default {_D.optim.lr:g})")
    parser.add_argument("--lambda-l1", type=float, help=f"weight of the L1 term (default {_D.optim.lambda_l1:g})")
    parser.add_argument("--gan-mode", choices=("vanilla", "lsgan"), help="adversarial loss (vanilla = BCE)")
    parser.add_argument("--seed", type=int, help="seed of weights, data order, augmentation and dropout")
    parser.add_argument("--precision", choices=PRECISIONS, help=f"auto, 32, bf16, or 16 (CUDA, GradScaler); default {_D.run.precision}")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile G and D")
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps in all")
    parser.add_argument("--log-every", type=int, help=f"steps between metrics.csv rows (default {_D.run.log_every})")
    parser.add_argument("--val-every", type=int, help="steps between validations (0: at epoch ends only)")
    parser.add_argument("--ckpt-every", type=int, help=f"steps between checkpoints (also at every epoch end; default {_D.run.ckpt_every})")
    parser.add_argument("--val-tiles", type=int, help=f"validate on at most N val tiles (evenly spaced; default {_D.run.val_tiles})")
    parser.add_argument("--sync-bn", action="store_const", const=True, help="SyncBatchNorm across GPUs (torchrun)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then --config (or, on --resume, the run's own config.yaml), then flags."""
    saved = Path(args.out) / "config.yaml"
    config_file = args.config if args.config is not None else saved if args.resume and saved.is_file() else None
    overrides: dict[str, Any] = {key: getattr(args, dest) for dest, key in FLAG_KEYS.items()}
    overrides["out"] = str(args.out)
    config = layered_config(config_file, overrides)
    if not config.manifest:
        raise ConfigError("--manifest is required (a manifest.csv from `sarclear curate`, or written by hand)")
    return config


def run(args: argparse.Namespace) -> int:
    from sarclear.train.distributed import dist_env_from
    from sarclear.train.loop import train

    config = resolve_config(args)
    main_process = dist_env_from().is_main
    try:
        out = train(config, resume=args.resume, progress=not args.quiet)
    except KeyboardInterrupt as exc:
        if main_process and exc.args:
            print(f"sarclear: {exc.args[0]}; continue with --resume", file=sys.stderr)
        raise
    if main_process:
        best = out / "checkpoints" / "best"
        where = f"{out / 'checkpoints' / 'last'}" + (f" (best validation PSNR: {best})" if best.is_dir() else "")
        print(f"checkpoints: {where}")
    return 0
