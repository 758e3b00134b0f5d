"""The methods an evaluation compares: baselines and generator checkpoints, behind one interface.

Every method turns `(sar, cloudy_dn)` into a prediction in S2 digital numbers, so metrics never
depend on a model's normalisation: each checkpoint normalises its own input with the clip range it
was trained with (`ModelSpec.s2_clip_max`) and its output is mapped back to DN.

Generators run in eval mode: BatchNorm uses its running statistics and dropout is off, so a
prediction is deterministic and does not depend on the other tiles in the batch. The official
Pix2Pix keeps BN and dropout in training mode at test time unless `--eval` is given; that mode is
deliberately not used here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sarclear.data.dataset import build_input
from sarclear.data.normalize import S2_CLIP_MAX_DN, s2_from_network, s2_to_network
from sarclear.errors import ConfigError, LayoutError
from sarclear.evaluate.baselines import Predictor, get_baseline
from sarclear.models.checkpoint import load_generator, resolve_generator_file
from sarclear.models.generator import UNetGenerator
from sarclear.models.spec import ModelSpec


@dataclass
class Method:
    """One column of the results: a name, how to predict, and the data conventions it needs."""

    name: str
    kind: str  # "baseline" or "checkpoint"
    predict: Predictor
    source: str  # baseline name or checkpoint file
    spec: ModelSpec | None = None

    @property
    def size_multiple(self) -> int:
        """Tile sides must be multiples of this (2**n_down for a U-Net; 1 for a baseline)."""
        return 2**self.spec.n_down if self.spec is not None else 1

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "source": self.source}
        if self.spec is not None:
            out["spec"] = self.spec.to_dict()
        return out


class GeneratorPredictor:
    """`(sar, cloudy_dn) -> DN` with one generator, in its own normalisation and input layout."""

    def __init__(self, generator: UNetGenerator, spec: ModelSpec) -> None:
        self.generator = generator.eval()
        self.spec = spec

    def __call__(self, sar: torch.Tensor, cloudy_dn: torch.Tensor) -> torch.Tensor:
        x = build_input(sar, s2_to_network(cloudy_dn, self.spec.s2_clip_max), self.spec.use_sar)
        with torch.inference_mode():
            out = self.generator(x)
        return s2_from_network(out.float(), self.spec.s2_clip_max)


def checkpoint_name(path: str | Path) -> str:
    """A method name from a checkpoint path: the run folder (`RUN`, or `RUN:last` for last)."""
    folder = resolve_generator_file(path).parent
    if folder.name in {"best", "last"} and folder.parent.name == "checkpoints":
        run = folder.parent.parent.name
        return run if folder.name == "best" else f"{run}:{folder.name}"
    return folder.name


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}#{k}", k + 1
    taken.add(candidate)
    return candidate


def load_methods(
    checkpoint: str | Path | None,
    compare: Iterable[str | Path],
    baselines: Iterable[str],
    device: torch.device,
) -> list[Method]:
    """Methods in table order: the checkpoint, the `--compare` checkpoints, then the baselines."""
    methods: list[Method] = []
    taken: set[str] = set()
    paths = ([checkpoint] if checkpoint is not None else []) + list(compare)
    for path in paths:
        generator, spec = load_generator(path, device)
        methods.append(
            Method(_unique(checkpoint_name(path), taken), "checkpoint", GeneratorPredictor(generator, spec),
                   str(resolve_generator_file(path)), spec)
        )
    for name in baselines:
        methods.append(Method(_unique(name, taken), "baseline", get_baseline(name), name))
    if not methods:
        raise ConfigError("nothing to evaluate: give --checkpoint, --compare or --baseline identity")
    return methods


def data_conventions(methods: Sequence[Method]) -> tuple[str, float]:
    """The band set all methods share and the S2 clip range to load the data with.

    Data is loaded once; each checkpoint re-normalises from DN with its own clip range, which is
    exact as long as the data was loaded with a range at least as wide (hence the max, and at least
    reflectance 1 so the metrics' [0, 1] clip is never pre-empted).
    """
    specs = [m.spec for m in methods if m.spec is not None]
    bands = {s.bands for s in specs}
    if len(bands) > 1:
        detail = ", ".join(f"{m.name}: {m.spec.bands}" for m in methods if m.spec is not None)
        raise ConfigError(f"checkpoints use different band sets ({detail}); compare models trained on the same bands")
    clip = max([S2_CLIP_MAX_DN] + [s.s2_clip_max for s in specs])
    return (bands.pop() if bands else "rgb"), float(clip)


def check_inputs(methods: Sequence[Method], channels: int, height: int, width: int, where: str | Path) -> None:
    """Fail clearly when a tile cannot go through a checkpoint (channels or size).

    A U-Net of `n_down` stride-2 stages runs on any tile whose sides are multiples of 2**n_down
    (so a 32-px-trained model runs on a whole 256-px tile); other sizes would misalign the skips.
    """
    for method in methods:
        if method.spec is None:
            continue
        spec = method.spec
        expected = channels + (2 if spec.use_sar else 0)
        if spec.in_channels != expected or spec.out_channels != channels:
            raise ConfigError(
                f"{method.source}: model takes {spec.in_channels} channels and returns {spec.out_channels}, but the data "
                f"gives {expected} input channels ({channels} optical{' + 2 SAR' if spec.use_sar else ''})"
            )
        multiple = method.size_multiple
        if height % multiple or width % multiple:
            raise LayoutError(
                f"{where}: tile is {width}x{height} px, not a multiple of {multiple} px (2**n_down) as checkpoint "
                f"{method.source} (trained on {spec.tile_size} px tiles) needs; crop the tiles to a multiple of {multiple}"
            )


def predict_batch(
    batch: dict[str, Any], methods: Sequence[Method], device: torch.device, s2_clip_max: float
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """`(cloudy_dn, target_dn, {method: prediction_dn})` of a collated batch, all on `device`."""
    sar = batch["sar"].to(device)
    cloudy_dn = s2_from_network(batch["cloudy"].to(device), s2_clip_max)
    target_dn = s2_from_network(batch["clear"].to(device), s2_clip_max)
    return cloudy_dn, target_dn, {m.name: m.predict(sar, cloudy_dn) for m in methods}
