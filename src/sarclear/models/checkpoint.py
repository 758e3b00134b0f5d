"""Generator weights in safetensors, with the `ModelSpec` in the file's metadata.

safetensors cannot execute code on load, unlike a pickle, so a checkpoint a user was handed is
safe to open. Layout written by `sarclear train`::

    RUN/checkpoints/last/generator.safetensors   (+ discriminator.safetensors, state.pt)
    RUN/checkpoints/best/generator.safetensors

`load_generator` accepts any of: that file, its folder, or RUN itself (best, else last).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from sarclear.errors import CheckpointError
from sarclear.io.atomic import atomic_output
from sarclear.models.generator import UNetGenerator
from sarclear.models.spec import ModelSpec

GENERATOR_FILE = "generator.safetensors"
SPEC_KEY = "sarclear_model_spec"


def save_generator(path: str | Path, generator: torch.nn.Module, spec: ModelSpec) -> Path:
    """Write weights and spec atomically (a crash mid-write leaves the previous file intact)."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in _unwrap(generator).state_dict().items()}
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata={SPEC_KEY: json.dumps(spec.to_dict())})
    return path


def _unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DistributedDataParallel or torch.compile wrappers."""
    module = getattr(module, "module", module)
    return getattr(module, "_orig_mod", module)


def resolve_generator_file(path: str | Path) -> Path:
    """A generator file from a file, a checkpoint folder, or a run folder (best, then last)."""
    path = Path(path)
    candidates = [path] if path.is_file() else [
        path / GENERATOR_FILE,
        path / "checkpoints" / "best" / GENERATOR_FILE,
        path / "checkpoints" / "last" / GENERATOR_FILE,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    raise CheckpointError(f"{path}: no {GENERATOR_FILE} here nor in checkpoints/best or checkpoints/last")


def read_spec(path: str | Path) -> ModelSpec:
    """The `ModelSpec` stored in a generator file, without loading the weights."""
    file = resolve_generator_file(path)
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{file}: not a readable safetensors checkpoint ({exc})") from exc
    if SPEC_KEY not in metadata:
        raise CheckpointError(f"{file}: no sarclear model spec in its metadata (not written by sarclear train?)")
    return ModelSpec.from_dict(json.loads(metadata[SPEC_KEY]))


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[UNetGenerator, ModelSpec]:
    """Build the generator its spec describes and load its weights, in eval mode on `device`."""
    file = resolve_generator_file(path)
    spec = read_spec(file)
    with torch.device("meta"):  # no random initialisation of 54M weights about to be overwritten
        generator = spec.build()
    try:
        state = load_file(str(file), device="cpu")
        generator.load_state_dict(state, strict=True, assign=True)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{file}: not a readable safetensors checkpoint ({exc})") from exc
    except RuntimeError as exc:
        raise CheckpointError(f"{file}: weights do not match the model spec stored with them ({str(exc).splitlines()[0]})") from exc
    return generator.to(device).eval(), spec
