"""One process per device, launched by `torchrun`; the same code runs alone without it.

As nanoGPT's `train.py`: `torchrun` sets `RANK`, `LOCAL_RANK` and `WORLD_SIZE`; when they are
absent this is a single process. NCCL is used between GPUs, Gloo between CPU processes. Rank 0
(`is_main`) alone logs and writes files; the others wait at a barrier where rank 0 writes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

#: Long enough for rank 0 to validate and write a 54M-parameter checkpoint while others wait.
BARRIER_TIMEOUT = timedelta(minutes=60)


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits: its global rank, its rank on this node, and the number of processes."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_env_from(environ: Mapping[str, str] = os.environ) -> DistEnv:
    """Read the variables `torchrun` sets; a plain `python -m sarclear` run is rank 0 of 1."""
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return DistEnv()
    return DistEnv(int(environ["RANK"]), int(environ.get("LOCAL_RANK", environ["RANK"])), int(environ["WORLD_SIZE"]))


def setup(env: DistEnv) -> torch.device:
    """Pick this process's device and, under torchrun, join the process group."""
    if torch.cuda.is_available():
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if env.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size, timeout=BARRIER_TIMEOUT, **kwargs)
    return device


def teardown(env: DistEnv) -> None:
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()


def all_gather_objects(env: DistEnv, obj: Any) -> list[Any]:
    """Every rank's `obj` (small picklable values: error messages, RNG states), in rank order."""
    if not env.enabled:
        return [obj]
    out: list[Any] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(env: DistEnv, values: torch.Tensor) -> torch.Tensor:
    """Mean over ranks of a small tensor (logged losses); the tensor itself is left unchanged."""
    if not env.enabled:
        return values
    out = values.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / env.world_size


def any_rank(env: DistEnv, flag: bool, device: torch.device) -> bool:
    """True on every rank if `flag` is true on any (so all ranks stop at the same step)."""
    if not env.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
