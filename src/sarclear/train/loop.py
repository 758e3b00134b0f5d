"""`train(config)`: the whole training run, as a small `Trainer` read top to bottom.

`Trainer.__init__` sets everything up in the order it happens: check the run folder and every
input file -> build G and D (and the CPU speed-ups) -> optimizers, lr schedules, grad scaler ->
restore a checkpoint (`resume`) -> wrap for torchrun -> data loaders. `Trainer.fit` is the loop:
for each epoch, `step` per batch, logging, validating and checkpointing as they fall due; at an
epoch end the lr schedule steps, then `validate` and `checkpoint`. Rank 0 alone writes files.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from sarclear.config import TrainConfig, save_config
from sarclear.data.dataset import TripletDataset, build_input
from sarclear.data.manifest import Sample, read_manifest, select
from sarclear.data.pack import PackedDataset, open_pack
from sarclear.data.provenance import training_provenance
from sarclear.errors import CheckpointError, ConfigError, SarclearInputError
from sarclear.inference.norm import DEFAULT_NORM_MODE, resolve_norm_mode
from sarclear.models.checkpoint import read_spec
from sarclear.progress import progress_bar
from sarclear.train import data as train_data
from sarclear.train.cpu_speedups import apply_cpu_speedups
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
from sarclear.train.metrics_log import MetricsLog
from sarclear.train.nets import build_networks, distribute, model_spec, optimizer
from sarclear.train.precision import resolve_precision
from sarclear.train.sample_grid import render_grid, write_png
from sarclear.train.schedule import make_scheduler
from sarclear.train.state import capture_rng, find_checkpoint, load_module, load_state, restore_rng, save_checkpoint
from sarclear.train.step import LOSS_NAMES, gan_step, valid_or_none
from sarclear.train.validate import validate as validate_generator


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
        return Trainer(config, env, device, resume=resume, progress=progress).fit()
    finally:
        teardown(env)


#: Steps between the ranks' votes on a stop request (Ctrl-C, SIGTERM) under torchrun: a stop is at
#: most this many steps late, well inside Slurm's grace period.
STOP_VOTE_EVERY: int = 10


class Trainer:
    """One training run of one process: its networks, optimizers, data and counters."""

    def __init__(self, config: TrainConfig, env: DistEnv, device: torch.device, *, resume: bool, progress: bool) -> None:
        self.config, self.env, self.device = config, env, device
        self.out = Path(config.out)
        run = config.run
        found = _check_run_folder(self.out, resume)
        self.precision = resolve_precision(run.precision, device)
        rows = read_manifest(config.manifest)
        train_rows = select(rows, "train")
        val_rows = train_data.evenly_spaced(select(rows, "val"), run.val_tiles)
        train_data.require_rows(train_rows, "train", config.manifest)
        # A pack replaces the GeoTIFFs: checked against the manifest instead of the files' headers.
        self.pack = open_pack(config.pack, manifest=config.manifest, bands=config.model.bands) if config.pack else None
        if self.pack is None:
            _check_inputs(train_rows + val_rows, env, config.data.size, config.model.bands, progress and env.is_main)
        else:
            self.pack.positions(train_rows + val_rows)
            self.pack.check_tile_size(config.data.size)

        # Networks, on the device, with the CPU-only speed-ups (no-ops elsewhere).
        facts = self.pack.header_facts if self.pack is not None else None
        self.spec = model_spec(config, training_provenance(train_rows, config.manifest, facts), world_size=env.world_size)
        self.generator, self.discriminator = build_networks(
            self.spec, ndf=config.model.ndf, d_layers=config.model.d_layers, seed=run.seed
        )
        self.generator.to(device)
        self.discriminator.to(device)
        apply_cpu_speedups(self.generator, self.discriminator, device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed tile size: pick the fastest conv algorithms once

        # Optimizers, lr schedules, grad scaler; then the saved state of all of them on --resume.
        optim = config.optim
        self.opt_g = optimizer(self.generator, lr=optim.lr, betas=(optim.beta1, optim.beta2))
        self.opt_d = optimizer(self.discriminator, lr=optim.lr, betas=(optim.beta1, optim.beta2))
        self.sched_g = make_scheduler(self.opt_g, epochs=optim.epochs, decay_epochs=config.decay_epochs)
        self.sched_d = make_scheduler(self.opt_d, epochs=optim.epochs, decay_epochs=config.decay_epochs)
        self.scaler = self.precision.grad_scaler()
        _seed(run.seed + env.rank)  # dropout masks differ across ranks, as they would across batch items
        self.counters = self._restore(found) if found is not None else Counters()

        # What the steps run: DDP wrappers under torchrun, optionally compiled.
        self.g_train = distribute(self.generator, env, device, sync_bn=run.sync_bn)
        self.d_train = distribute(self.discriminator, env, device, sync_bn=run.sync_bn)
        self.critic = getattr(self.d_train, "module", self.d_train)  # D without DDP, for G's loss
        if run.compile:
            # dynamic=False: an epoch's smaller last batch gets its own static graph (one recompile), instead
            # of turning every later batch over to a shape-generic graph, as automatic dynamic shapes would.
            self.g_train, self.d_train, self.critic = (torch.compile(m, dynamic=False) for m in (self.g_train, self.d_train, self.critic))
        if env.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(config, self.out / "config.yaml")
        barrier(env)

        self._make_loaders(train_rows, val_rows)
        self.log = MetricsLog(self.out, resume_step=self.counters.step if resume else None) if env.is_main else None
        self.progress = progress and env.is_main

    def _make_loaders(self, train_rows: list[Sample], val_rows: list[Sample]) -> None:
        """The training loader (resumable mid-epoch, sharded by rank) and, on rank 0, the validation one."""
        model, data, run, env = self.config.model, self.config.data, self.config.run, self.env
        weights = train_data.season_weights(train_rows) if data.season_balanced else None
        self.train_set = self._dataset(train_rows, s2_clip_max=model.s2_clip_max, crop_size=data.size, augment=True, seed=run.seed)
        self.sampler = train_data.TrainSampler(
            len(self.train_set), rank=env.rank, world_size=env.world_size, seed=run.seed, weights=weights
        )
        pin = self.device.type == "cuda"
        self.loader = train_data.make_loader(
            self.train_set, batch_size=data.batch_size, sampler=self.sampler, workers=data.workers, pin_memory=pin
        )
        self.val_loader = None
        if val_rows and env.is_main:
            val_set = self._dataset(val_rows, s2_clip_max=model.s2_clip_max, crop_size=data.size)
            self.val_loader = train_data.make_loader(
                val_set, batch_size=data.batch_size, sampler=None, workers=data.workers, pin_memory=pin
            )
        self.per_epoch = train_data.batches_per_epoch(self.sampler, data.batch_size)

    def _dataset(self, rows: list[Sample], **options: object) -> TripletDataset:
        """The rows' tiles from the pack when there is one, else from their GeoTIFFs: the same samples either way."""
        if self.pack is not None:
            return PackedDataset(self.pack, rows, **options)
        return TripletDataset(rows, bands=self.config.model.bands, **options)

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self) -> Path:
        """Run epochs until `optim.epochs`, `run.max_steps` or a stop signal; returns the run folder."""
        counters, run, epochs = self.counters, self.config.run, self.config.optim.epochs
        total = self.per_epoch * epochs if run.max_steps is None else min(run.max_steps, self.per_epoch * epochs)
        self.bar = progress_bar(total=total, initial=counters.step, desc="train", unit="step", disable=not self.progress,
                        dynamic_ncols=True)
        self.started = self.window_start = time.perf_counter()
        self.saved_step, self.validated_step = counters.step, -1
        self.loss_sum, self.loss_steps = torch.zeros(3, device=self.device), 0
        stop = self._max_steps_reached()
        with StopRequest() as request:
            while counters.epoch < epochs and not stop:
                stop = self._run_epoch(request)
                if counters.batch >= self.per_epoch:
                    self._end_epoch()
            if self.saved_step != counters.step:
                self.checkpoint()
        self.bar.close()
        if self.log is not None:
            self.log.close()
        if request.requested:
            raise KeyboardInterrupt(f"training interrupted at step {counters.step}; "
                                    f"checkpoint in {self.out / 'checkpoints' / 'last'}")
        return self.out

    def _run_epoch(self, request: StopRequest) -> bool:
        """The rest of the current epoch (all of it, or from a resumed batch); True when asked to stop."""
        counters, run = self.counters, self.config.run
        self.sampler.set_epoch(counters.epoch)
        self.train_set.set_epoch(counters.epoch)
        self.sampler.start = counters.batch * self.config.data.batch_size
        with stop_signals_blocked():
            batches = iter(self.loader)  # forks the workers
        for batch in batches:
            self.step(batch)
            if counters.step % run.log_every == 0:
                self._log_losses()
            # Under torchrun the ranks vote every STOP_VOTE_EVERY steps: a vote is an all-reduce read
            # back on the host, which would stop the CPU from queueing the next steps ahead of the GPU.
            vote = not self.env.enabled or counters.step % STOP_VOTE_EVERY == 0
            stop = (vote and any_rank(self.env, request.requested, self.device)) or self._max_steps_reached()
            if run.val_every and counters.step % run.val_every == 0:
                self.validate()
            if counters.step % run.ckpt_every == 0 or (stop and counters.batch < self.per_epoch):
                self.checkpoint()
            if stop:
                return True
        return False

    def _end_epoch(self) -> None:
        """The lr schedule steps once per epoch; every epoch ends validated and checkpointed."""
        self.counters.epoch += 1
        self.counters.batch = 0
        self.sched_g.step()
        self.sched_d.step()
        if self.validated_step != self.counters.step:
            self.validate()
        self.checkpoint()

    def _max_steps_reached(self) -> bool:
        return self.config.run.max_steps is not None and self.counters.step >= self.config.run.max_steps

    def step(self, batch: dict[str, torch.Tensor]) -> None:
        """One optimizer step of D and G on one batch (L1 over its valid pixels); losses summed for the next log row."""
        sar, cloudy, clear = (batch[k].to(self.device, non_blocking=True) for k in ("sar", "cloudy", "clear"))
        x = build_input(sar, cloudy, self.config.model.use_sar).contiguous()
        losses = gan_step(x, clear.contiguous(), generator=self.g_train, discriminator=self.d_train, critic=self.critic,
                          opt_g=self.opt_g, opt_d=self.opt_d, scaler=self.scaler, autocast=self.precision.autocast,
                          lambda_l1=self.config.optim.lambda_l1, gan_mode=self.config.optim.gan_mode,
                          valid=valid_or_none(batch["valid_mask"], self.device))
        self.counters.step += 1
        self.counters.batch += 1
        self.loss_sum += losses.float()
        self.loss_steps += 1
        self.bar.update(1)

    def _log_losses(self) -> None:
        """Mean losses over all ranks since the last row, the lr and the training speed."""
        counters, images_per_step = self.counters, self.config.data.batch_size * self.env.world_size
        means = all_reduce_mean(self.env, self.loss_sum / self.loss_steps).tolist()
        now = time.perf_counter()
        row = {"step": counters.step, "epoch": counters.epoch, "lr": self.opt_g.param_groups[0]["lr"],
               "images_per_s": self.loss_steps * images_per_step / (now - self.window_start),
               "elapsed_s": now - self.started, **dict(zip(LOSS_NAMES, means))}
        if self.log is not None:
            self.log.log(row)
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in zip(LOSS_NAMES, means)})
        self.loss_sum.zero_()
        self.loss_steps, self.window_start = 0, time.perf_counter()

    def _pause_clock(self, since: float) -> None:
        """Keep validation and checkpoint time out of the logged images/s."""
        self.window_start += time.perf_counter() - since

    # -- validation and checkpoints -----------------------------------------------------------------

    def validate(self) -> None:
        """Rank 0: val metrics to metrics.csv, a PNG grid to samples/, and checkpoints/best when PSNR improves."""
        counters, model = self.counters, self.config.model
        self.validated_step, since = counters.step, time.perf_counter()
        if self.val_loader is not None:
            result = validate_generator(self.generator, self.val_loader, device=self.device,
                                        autocast=self.precision.autocast, use_sar=model.use_sar,
                                        s2_clip_max=model.s2_clip_max, sample_tiles=self.config.run.sample_tiles,
                                        norm=resolve_norm_mode(DEFAULT_NORM_MODE, self.spec.norm_batch))
            self.log.log({"step": counters.step, "epoch": counters.epoch, "val_psnr": result.psnr,
                          "val_ssim": result.ssim, "val_identity_psnr": result.identity_psnr,
                          "val_identity_ssim": result.identity_ssim, "elapsed_s": time.perf_counter() - self.started})
            s = result.samples
            write_png(self.out / "samples" / f"step_{counters.step:07d}.png",
                      render_grid(s["sar"], s["cloudy"], s["prediction"], s["target"], model.s2_clip_max))
            if result.psnr > counters.best_psnr:
                counters.best_psnr = result.psnr
                save_checkpoint(self.out / "checkpoints" / "best", self.generator, self.discriminator, self.spec, None)
        barrier(self.env)
        self._pause_clock(since)

    def checkpoint(self) -> None:
        """checkpoints/last: weights, optimizer/scheduler/scaler state, counters, every rank's RNG."""
        since = time.perf_counter()
        rng = all_gather_objects(self.env, capture_rng(self.device))
        if self.env.is_main:
            state = {**asdict(self.counters), "world_size": self.env.world_size, "rng": rng,
                     "precision": self.precision.name, "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                     "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
                     "scaler": self.scaler.state_dict()}
            save_checkpoint(self.out / "checkpoints" / "last", self.generator, self.discriminator, self.spec, state)
        barrier(self.env)
        self.saved_step = self.counters.step
        self._pause_clock(since)

    def _restore(self, folder: Path) -> Counters:
        """Load weights, optimizer/scheduler/scaler state, counters and this rank's RNG state."""
        saved = read_spec(folder)
        if saved.architecture() != self.spec.architecture():
            changes = ", ".join(f"{k}: {v} -> {getattr(self.spec, k)}" for k, v in saved.architecture().items()
                                if getattr(self.spec, k) != v)
            raise CheckpointError(f"{folder}: the run was trained with another model ({changes}); "
                                  "resume with its config.yaml")
        load_module(folder / "generator.safetensors", self.generator)
        load_module(folder / "discriminator.safetensors", self.discriminator)
        state = load_state(folder)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if state["world_size"] == self.env.world_size:
            restore_rng(state["rng"][self.env.rank], self.device)
        else:  # another process count: data order is still exact, dropout masks cannot be
            _seed(int(state["step"]) * 1000 + self.env.rank)
        return Counters(epoch=state["epoch"], batch=state["batch"], step=state["step"], best_psnr=state["best_psnr"])


def _check_run_folder(out: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run; refuses to mix the two up."""
    found = find_checkpoint(out / "checkpoints" / "last")
    if resume and found is None:
        raise CheckpointError(f"{out}: nothing to resume (no complete checkpoints/last); drop --resume to start")
    if not resume and found is not None:
        raise ConfigError(f"{out}: already holds a training run; add --resume to continue it, or choose another --out")
    return found


def _check_inputs(samples: list[Sample], env: DistEnv, size: int, bands: str, progress: bool) -> None:
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
