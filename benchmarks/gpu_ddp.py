"""NCCL DistributedDataParallel with SyncBatchNorm on the GPUs of one machine, under torchrun.

    python -m torch.distributed.run --standalone --nproc_per_node=1 benchmarks/gpu_ddp.py [--size 256] [--steps 5]
    python -m torch.distributed.run --standalone --nproc_per_node=2 benchmarks/gpu_ddp.py --cpu --size 32 --ngf 4   # dry run

`sarclear train` under `torchrun --nproc_per_node=1` is a one-process run and, rightly, skips
DistributedDataParallel; on a machine with one GPU that leaves NCCL untested, and NCCL refuses two
ranks on one GPU. So this script forms the process group itself (NCCL, every rank on its own
GPU) with sarclear's own `setup`, wraps sarclear's networks with sarclear's own `distribute`
(SyncBatchNorm, DDP) and runs `gan_step`s through them, then checks that every rank ends with the
same, finite weights (DDP's gradient all-reduce), that a rank-mean all-reduce returns the mean, and
that the training loop's other collectives work over NCCL (the per-step stop vote `any_rank`, the
checkpoint's RNG gather `all_gather_objects`, `barrier`). Rank 0 prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.distributed as dist
from torch import nn

from sarclear.models.spec import ModelSpec, depth_for_size
from sarclear.train.distributed import (
    DistEnv,
    all_gather_objects,
    all_reduce_mean,
    any_rank,
    barrier,
    dist_env_from,
    setup,
    teardown,
)
from sarclear.train.nets import build_networks, distribute, optimizer
from sarclear.train.precision import resolve_precision
from sarclear.train.state import capture_rng
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
    p.add_argument("--cpu", action="store_true", help="a dry run on CPUs over gloo (any number of ranks), to test this script without a GPU")
    args = p.parse_args()
    launched = dist_env_from()
    env = LaunchedEnv(launched.rank, launched.local_rank, launched.world_size)
    device = setup(env)  # sarclear's own: set_device, then NCCL with device_id and its barrier timeout
    try:
        if not args.cpu and (device.type != "cuda" or dist.get_backend() != "nccl"):
            raise SystemExit(f"gpu_ddp: expected NCCL on a GPU, got {dist.get_backend()} on {device}")
        spec = ModelSpec(ngf=args.ngf, n_down=depth_for_size(args.size), tile_size=args.size)
        generator, discriminator = build_networks(spec, ndf=64, d_layers=3, seed=0)
        generator.to(device)
        discriminator.to(device)
        sync_bn = device.type == "cuda"  # SyncBatchNorm has no CPU kernel: a --cpu dry run uses plain DDP
        g_train = distribute(generator, env, device, sync_bn=sync_bn)
        d_train = distribute(discriminator, env, device, sync_bn=sync_bn)
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
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        finite = all(bool(torch.isfinite(loss).all()) for loss in losses)
        norm = torch.stack([q.detach().float().norm() for q in generator.parameters()]).norm()
        norms = [torch.zeros_like(norm) for _ in range(env.world_size)]
        dist.all_gather(norms, norm)
        mean = all_reduce_mean(env, torch.tensor([float(env.rank)], device=device)).item()
        same = all(torch.allclose(n, norms[0]) for n in norms)
        # The collectives the training loop itself uses: the stop vote of every step, the RNG gather of
        # every checkpoint (pickled objects over NCCL) and the barrier after it.
        stop_votes = [any_rank(env, False, device), any_rank(env, env.rank == env.world_size - 1, device)]
        rngs = all_gather_objects(env, capture_rng(device))
        barrier(env)
        loop_collectives = stop_votes == [False, True] and len(rngs) == env.world_size and all("torch" in r for r in rngs)
        ok = finite and same and (synced > 0 or not sync_bn) and bool(torch.isfinite(norm)) and mean == (env.world_size - 1) / 2 and loop_collectives
        if env.is_main:
            print(json.dumps({
                "ok": ok, "backend": dist.get_backend(), "world_size": env.world_size, "sync_batchnorm_layers": synced,
                "losses_finite": finite, "weights_equal_across_ranks": same, "all_reduce_mean": mean,
                "loop_collectives": loop_collectives,
                "precision": precision.name, "steps": args.steps, "seconds": round(seconds, 2),
                "last_losses": [round(v, 4) for v in losses[-1].tolist()],
            }), flush=True)  # fmt: skip
        if not ok:
            raise SystemExit(1)
    finally:
        teardown(env)


if __name__ == "__main__":
    main()
