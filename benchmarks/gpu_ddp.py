"""NCCL DistributedDataParallel with SyncBatchNorm on the GPUs of one machine, under torchrun.

    python -m torch.distributed.run --standalone --nproc_per_node=1 benchmarks/gpu_ddp.py [--size 256] [--steps 5]

`sarclear train` under `torchrun --nproc_per_node=1` is a one-process run and, rightly, skips
DistributedDataParallel; on a machine with one GPU that leaves NCCL untested, and NCCL refuses two
ranks on one GPU. So this script forms the process group itself (NCCL, every rank on its own
GPU), wraps sarclear's networks with sarclear's own `distribute` (SyncBatchNorm, DDP) and runs
`gan_step`s through them, then checks that every rank ends with the same, finite weights (DDP's
gradient all-reduce) and that a rank-mean all-reduce returns the mean. Rank 0 prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.distributed as dist
from torch import nn

from sarclear.models.spec import ModelSpec, depth_for_size
from sarclear.train.distributed import DistEnv, all_reduce_mean, dist_env_from
from sarclear.train.nets import build_networks, distribute, optimizer
from sarclear.train.precision import resolve_precision
from sarclear.train.step import gan_step


class LaunchedEnv(DistEnv):
    """A torchrun process that takes part in the group even when it is the only one."""

    @property
    def enabled(self) -> bool:
        return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=2, help="per rank; 2 so batch norm has statistics at 1x1")
    args = p.parse_args()
    launched = dist_env_from()
    env = LaunchedEnv(launched.rank, launched.local_rank, launched.world_size)
    device = torch.device("cuda", env.local_rank)
    torch.cuda.set_device(device)
    dist.init_process_group("nccl", rank=env.rank, world_size=env.world_size, device_id=device)
    try:
        spec = ModelSpec(ngf=args.ngf, n_down=depth_for_size(args.size), tile_size=args.size)
        generator, discriminator = build_networks(spec, ndf=64, d_layers=3, seed=0)
        generator.to(device)
        discriminator.to(device)
        g_train = distribute(generator, env, device, sync_bn=True)
        d_train = distribute(discriminator, env, device, sync_bn=True)
        synced = sum(isinstance(m, nn.SyncBatchNorm) for m in g_train.modules())
        precision = resolve_precision("auto", device)
        opt_g = optimizer(generator, lr=2e-4, betas=(0.5, 0.999))
        opt_d = optimizer(discriminator, lr=2e-4, betas=(0.5, 0.999))
        scaler = precision.grad_scaler()
        torch.manual_seed(env.rank)  # each rank its own batch, as a sharded sampler gives
        x = torch.rand(args.batch_size, spec.in_channels, args.size, args.size, device=device) * 2 - 1
        y = torch.rand(args.batch_size, spec.out_channels, args.size, args.size, device=device) * 2 - 1
        start = time.perf_counter()
        losses = [gan_step(x, y, generator=g_train, discriminator=d_train, critic=d_train.module, opt_g=opt_g, opt_d=opt_d,
                           scaler=scaler, autocast=precision.autocast, lambda_l1=100.0, gan_mode="vanilla")
                  for _ in range(args.steps)]  # fmt: skip
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        finite = all(bool(torch.isfinite(loss).all()) for loss in losses)
        norm = torch.stack([q.detach().float().norm() for q in generator.parameters()]).norm()
        norms = [torch.zeros_like(norm) for _ in range(env.world_size)]
        dist.all_gather(norms, norm)
        mean = all_reduce_mean(env, torch.tensor([float(env.rank)], device=device)).item()
        same = all(torch.allclose(n, norms[0]) for n in norms)
        ok = finite and same and synced > 0 and bool(torch.isfinite(norm)) and mean == (env.world_size - 1) / 2
        if env.is_main:
            print(json.dumps({
                "ok": ok, "backend": dist.get_backend(), "world_size": env.world_size, "sync_batchnorm_layers": synced,
                "losses_finite": finite, "weights_equal_across_ranks": same, "all_reduce_mean": mean,
                "precision": precision.name, "steps": args.steps, "seconds": round(seconds, 2),
                "last_losses": [round(v, 4) for v in losses[-1].tolist()],
            }), flush=True)  # fmt: skip
        if not ok:
            raise SystemExit(1)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
