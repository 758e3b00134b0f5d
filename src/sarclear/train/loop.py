"""`train(config)`: the whole training run, top to bottom, in the order things happen.

set up the process (torchrun or not) -> check every input file -> build G, D, optimizers ->
restore a checkpoint (`resume`) -> for each epoch: steps (log, validate, checkpoint as due) ->
epoch end: lr schedule, validation, checkpoints -> final checkpoint. Rank 0 alone writes files.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sarclear.config import TrainConfig, save_config
from sarclear.data.dataset import TripletDataset, build_input
from sarclear.data.manifest import read_manifest, select
from sarclear.data.provenance import training_provenance
from sarclear.errors import CheckpointError, ConfigError, SarclearInputError
from sarclear.models.checkpoint import read_spec
from sarclear.train import data as train_data
from sarclear.train.allocator import keep_freed_memory
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
from sarclear.train.interrupt import StopRequest, stop_signals_blocked
from sarclear.train.logging import MetricsLog
from sarclear.train.nets import (
    build_networks,
    discriminator_memory_format,
    distribute,
    memory_format_for,
    model_spec,
    optimizer,
    use_fast_convolutions,
)
from sarclear.train.precision import resolve_precision
from sarclear.train.samples import render_grid, write_png
from sarclear.train.schedule import make_scheduler
from sarclear.train.state import (
    capture_rng,
    find_checkpoint,
    load_module,
    load_state,
    restore_rng,
    save_checkpoint,
)
from sarclear.train.step import LOSS_NAMES, gan_step, valid_or_none
from sarclear.train.validate import validate


@dataclass
class Counters:
    """Where training stands: `batch` batches of epoch `epoch` done, `step` optimizer steps in all."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    best_psnr: float = -math.inf


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> Path:
    """Train per `config` into `config.out` (continue it with `resume=True`); returns the run folder.

    Raises `KeyboardInterrupt` after writing a checkpoint if SIGINT/SIGTERM asked to stop.
    """
    env = dist_env_from()
    device = setup(env)
    try:
        return _train(config, env, device, resume, progress)
    finally:
        teardown(env)


def _check_run_folder(out: Path, resume: bool) -> Path | None:
    found = find_checkpoint(out / "checkpoints" / "last")
    if resume and found is None:
        raise CheckpointError(f"{out}: nothing to resume (no complete checkpoints/last); drop --resume to start")
    if not resume and found is not None:
        raise ConfigError(f"{out}: already holds a training run; add --resume to continue it, or choose another --out")
    return found


def _check_inputs(samples: list, env: DistEnv, size: int, bands: str, progress: bool) -> None:
    """Each rank checks its share of the rows; every rank raises the first problem found by any."""
    mine = samples[env.rank :: env.world_size]
    errors = all_gather_objects(env, train_data.first_error(mine, size=size, bands=bands, progress=progress))
    first = next((e for e in errors if e), None)
    if first:
        raise SarclearInputError(first)


def _seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _train(config: TrainConfig, env: DistEnv, device: torch.device, resume: bool, progress: bool) -> Path:
    out = Path(config.out)
    found = _check_run_folder(out, resume)
    m, d, o, r = config.model, config.data, config.optim, config.run
    precision = resolve_precision(r.precision, device)
    rows = read_manifest(config.manifest)
    train_rows, val_rows = select(rows, "train"), train_data.evenly_spaced(select(rows, "val"), r.val_tiles)
    train_data.require_rows(train_rows, "train", config.manifest)
    _check_inputs(train_rows + val_rows, env, d.size, m.bands, progress and env.is_main)

    if device.type == "cpu":
        keep_freed_memory()  # no fresh (page-faulting) memory for the same buffers every step
    spec = model_spec(config, training_provenance(train_rows, config.manifest))
    generator, discriminator = build_networks(spec, ndf=m.ndf, d_layers=m.d_layers, seed=r.seed)
    fmt = memory_format_for(device, precision.name)
    generator.to(device, memory_format=fmt)
    discriminator.to(device, memory_format=discriminator_memory_format(device))
    use_fast_convolutions(generator, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed tile size: pick the fastest conv algorithms once
    opt_g = optimizer(generator, lr=o.lr, betas=(o.beta1, o.beta2))
    opt_d = optimizer(discriminator, lr=o.lr, betas=(o.beta1, o.beta2))
    sched_g, sched_d = (make_scheduler(opt, epochs=o.epochs, decay_epochs=config.decay_epochs) for opt in (opt_g, opt_d))
    scaler = precision.grad_scaler()
    counters = Counters()
    _seed(r.seed + env.rank)  # dropout masks differ across ranks, as they would across batch items
    if found is not None:
        counters = _restore(found, spec, env, generator, discriminator, opt_g, opt_d, sched_g, sched_d, scaler)

    g_train = distribute(generator, env, device, sync_bn=r.sync_bn)
    d_train = distribute(discriminator, env, device, sync_bn=r.sync_bn)
    critic = getattr(d_train, "module", d_train)
    if r.compile:
        g_train, d_train, critic = (torch.compile(module) for module in (g_train, d_train, critic))
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(config, out / "config.yaml")
    barrier(env)

    weights = train_data.season_weights(train_rows) if d.season_balanced else None
    train_set = TripletDataset(train_rows, bands=m.bands, s2_clip_max=m.s2_clip_max, crop_size=d.size, augment=True, seed=r.seed)
    sampler = train_data.TrainSampler(len(train_set), rank=env.rank, world_size=env.world_size, seed=r.seed, weights=weights)
    pin = device.type == "cuda"
    loader = train_data.make_loader(train_set, batch_size=d.batch_size, sampler=sampler, workers=d.workers, pin_memory=pin)
    val_loader = None
    if val_rows and env.is_main:
        val_set = TripletDataset(val_rows, bands=m.bands, s2_clip_max=m.s2_clip_max, crop_size=d.size)
        val_loader = train_data.make_loader(val_set, batch_size=d.batch_size, sampler=None, workers=d.workers, pin_memory=pin)
    per_epoch = train_data.batches_per_epoch(sampler, d.batch_size)
    total = per_epoch * o.epochs if r.max_steps is None else min(r.max_steps, per_epoch * o.epochs)

    log = MetricsLog(out, resume_step=counters.step if resume else None) if env.is_main else None
    bar = tqdm(total=total, initial=counters.step, desc="train", unit="step", disable=not (progress and env.is_main), dynamic_ncols=True)
    started = time.perf_counter()
    saved_step, validated_step = counters.step, -1
    loss_sum, loss_steps, window_start = torch.zeros(3, device=device), 0, time.perf_counter()

    def pause_clock(since: float) -> None:
        """Keep validation and checkpoint time out of the logged images/s."""
        nonlocal window_start
        window_start += time.perf_counter() - since

    def checkpoint() -> None:
        nonlocal saved_step
        since = time.perf_counter()
        rng = all_gather_objects(env, capture_rng())
        if env.is_main:
            state = {**asdict(counters), "world_size": env.world_size, "rng": rng, "precision": precision.name,
                     "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "sched_g": sched_g.state_dict(),
                     "sched_d": sched_d.state_dict(), "scaler": scaler.state_dict()}
            save_checkpoint(out / "checkpoints" / "last", generator, discriminator, spec, state)
        barrier(env)
        saved_step = counters.step
        pause_clock(since)

    def run_validation() -> None:
        nonlocal validated_step
        validated_step, since = counters.step, time.perf_counter()
        if val_loader is not None:
            result = validate(generator, val_loader, device=device, autocast=precision.autocast, use_sar=m.use_sar,
                              s2_clip_max=m.s2_clip_max, sample_tiles=r.sample_tiles, memory_format=fmt)
            log.log({"step": counters.step, "epoch": counters.epoch, "val_psnr": result.psnr, "val_ssim": result.ssim,
                     "val_identity_psnr": result.identity_psnr, "val_identity_ssim": result.identity_ssim,
                     "elapsed_s": time.perf_counter() - started})
            s = result.samples
            write_png(out / "samples" / f"step_{counters.step:07d}.png",
                      render_grid(s["sar"], s["cloudy"], s["prediction"], s["target"], m.s2_clip_max))
            if result.psnr > counters.best_psnr:
                counters.best_psnr = result.psnr
                save_checkpoint(out / "checkpoints" / "best", generator, discriminator, spec, None)
        barrier(env)
        pause_clock(since)

    stop = r.max_steps is not None and counters.step >= r.max_steps
    with StopRequest() as request:
        while counters.epoch < o.epochs and not stop:
            sampler.set_epoch(counters.epoch)
            train_set.set_epoch(counters.epoch)
            sampler.start = counters.batch * d.batch_size
            with stop_signals_blocked():
                batches = iter(loader)  # forks the workers
            for batch in batches:
                sar, cloudy, clear = (batch[k].to(device, non_blocking=True) for k in ("sar", "cloudy", "clear"))
                x, y = build_input(sar, cloudy, m.use_sar).contiguous(memory_format=fmt), clear.contiguous(memory_format=fmt)
                losses = gan_step(x, y, generator=g_train, discriminator=d_train,
                                  critic=critic, opt_g=opt_g, opt_d=opt_d, scaler=scaler, autocast=precision.autocast,
                                  lambda_l1=o.lambda_l1, gan_mode=o.gan_mode, valid=valid_or_none(batch["valid_mask"], device))
                counters.step += 1
                counters.batch += 1
                loss_sum += losses.float()
                loss_steps += 1
                bar.update(1)
                if counters.step % r.log_every == 0:
                    means = all_reduce_mean(env, loss_sum / loss_steps).tolist()
                    rate = loss_steps * d.batch_size * env.world_size / (time.perf_counter() - window_start)
                    row = {"step": counters.step, "epoch": counters.epoch, "lr": opt_g.param_groups[0]["lr"],
                           "images_per_s": rate, "elapsed_s": time.perf_counter() - started, **dict(zip(LOSS_NAMES, means))}
                    if log is not None:
                        log.log(row)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in zip(LOSS_NAMES, means)})
                    loss_sum.zero_()
                    loss_steps, window_start = 0, time.perf_counter()
                stop = any_rank(env, request.requested, device) or (r.max_steps is not None and counters.step >= r.max_steps)
                if r.val_every and counters.step % r.val_every == 0:
                    run_validation()
                if counters.step % r.ckpt_every == 0 or (stop and counters.batch < per_epoch):
                    checkpoint()
                if stop:
                    break
            if counters.batch >= per_epoch:
                counters.epoch += 1
                counters.batch = 0
                sched_g.step()
                sched_d.step()
                if validated_step != counters.step:
                    run_validation()
                checkpoint()
        if saved_step != counters.step:
            checkpoint()
        interrupted = request.requested
    bar.close()
    if log is not None:
        log.close()
    if interrupted:
        raise KeyboardInterrupt(f"training interrupted at step {counters.step}; checkpoint in {out / 'checkpoints' / 'last'}")
    return out


def _restore(
    folder: Path, spec: Any, env: DistEnv, generator: torch.nn.Module, discriminator: torch.nn.Module,
    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, sched_g: Any, sched_d: Any, scaler: torch.amp.GradScaler,
) -> Counters:
    """Load weights, optimizer/scheduler/scaler state, counters and this rank's RNG state."""
    saved = read_spec(folder)
    if saved.architecture() != spec.architecture():
        diff = {k: (v, getattr(spec, k)) for k, v in saved.architecture().items() if getattr(spec, k) != v}
        changes = ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in diff.items())
        raise CheckpointError(f"{folder}: the run was trained with another model ({changes}); resume with its config.yaml")
    load_module(folder / "generator.safetensors", generator)
    load_module(folder / "discriminator.safetensors", discriminator)
    state = load_state(folder)
    opt_g.load_state_dict(state["opt_g"])
    opt_d.load_state_dict(state["opt_d"])
    sched_g.load_state_dict(state["sched_g"])
    sched_d.load_state_dict(state["sched_d"])
    if scaler.is_enabled() and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    if state["world_size"] == env.world_size:
        restore_rng(state["rng"][env.rank])
    else:  # another process count: data order is still exact, dropout masks cannot be
        _seed(int(state["step"]) * 1000 + env.rank)
    return Counters(epoch=state["epoch"], batch=state["batch"], step=state["step"], best_psnr=state["best_psnr"])
