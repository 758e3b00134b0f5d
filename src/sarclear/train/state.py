"""Checkpoints that truly resume: weights in safetensors, everything else in a weights-only `state.pt`.

Layout of one checkpoint folder (`RUN/checkpoints/last`, `RUN/checkpoints/best`)::

    generator.safetensors      weights + ModelSpec (models/checkpoint.py: what evaluate/predict load)
    discriminator.safetensors  weights
    state.pt                   optimizers, schedulers, grad scaler, counters, RNG states

`state.pt` holds only tensors, numbers, strings and plain containers, so it loads with
`torch.load(weights_only=True)` (no pickle code runs). A folder is written beside its final
place and swapped in by renames, so a crash mid-write never leaves weights of one step next to
optimizer state of another; `find_checkpoint` falls back to the previous folder if it was caught
between the two renames.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from sarclear.errors import CheckpointError
from sarclear.io.atomic import atomic_output
from sarclear.models.checkpoint import GENERATOR_FILE, _unwrap, save_generator
from sarclear.models.spec import ModelSpec

DISCRIMINATOR_FILE = "discriminator.safetensors"
STATE_FILE = "state.pt"


def capture_rng(device: torch.device | None = None) -> dict[str, Any]:
    """This process's torch, numpy and Python RNG states, and that of its CUDA `device`, as weights-only values.

    Only the device this process trains on: under torchrun every rank sees every GPU, but its
    dropout masks come from its own device's generator, and that state is what must follow the
    run to a machine with another number of GPUs.
    """
    np_state = np.random.get_state(legacy=False)
    on_cuda = device is not None and device.type == "cuda"
    return {
        "torch": torch.get_rng_state(),
        "cuda_device": torch.cuda.get_rng_state(device) if on_cuda else None,
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": _to_lists(random.getstate()),
    }


def restore_rng(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Inverse of `capture_rng`: the saved CUDA state goes to this process's CUDA `device`, whatever the GPU count.

    Checkpoints of earlier releases hold every visible device's state (`cuda`, a list); those are
    restored only where the count is the same, as before.
    """
    torch.set_rng_state(state["torch"])
    own = state.get("cuda_device")
    if own is not None and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(own, device)
    legacy = state.get("cuda") or []
    if own is None and legacy and torch.cuda.is_available() and len(legacy) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(legacy)
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _to_lists(value: Any) -> Any:
    return [_to_lists(v) for v in value] if isinstance(value, tuple) else value


def save_module(path: Path, module: torch.nn.Module) -> Path:
    state = {k: v.detach().cpu().contiguous() for k, v in _unwrap(module).state_dict().items()}
    with atomic_output(path) as tmp:
        save_file(state, str(tmp))
    return path


def load_module(path: Path, module: torch.nn.Module) -> None:
    """Load safetensors weights into `module` (unwrapped from DDP/compile), strictly."""
    try:
        _unwrap(module).load_state_dict(load_file(str(path), device="cpu"), strict=True)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({exc})") from exc
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match this model ({str(exc).splitlines()[0]})") from exc


def save_checkpoint(
    folder: Path,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module,
    spec: ModelSpec,
    state: dict[str, Any] | None,
) -> Path:
    """Write a checkpoint folder (state.pt only when `state` is given) and swap it into place."""
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.new-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_generator(staging / GENERATOR_FILE, generator, spec)
    save_module(staging / DISCRIMINATOR_FILE, discriminator)
    if state is not None:
        torch.save(state, staging / STATE_FILE)
    previous = folder.with_name(f"{folder.name}.old")
    shutil.rmtree(previous, ignore_errors=True)
    if folder.exists():
        os.replace(folder, previous)
    os.replace(staging, folder)
    shutil.rmtree(previous, ignore_errors=True)
    return folder


def find_checkpoint(folder: Path) -> Path | None:
    """`folder` if it holds a complete resumable checkpoint, else the `.old` one a crash left."""
    for candidate in (folder, folder.with_name(f"{folder.name}.old")):
        if all((candidate / name).is_file() for name in (GENERATOR_FILE, DISCRIMINATOR_FILE, STATE_FILE)):
            return candidate
    return None


def load_state(folder: Path) -> dict[str, Any]:
    """`state.pt` of a checkpoint folder, loaded weights-only."""
    path = folder / STATE_FILE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign pickles
        raise CheckpointError(f"{path}: unreadable training state ({str(exc).splitlines()[0]})") from exc
