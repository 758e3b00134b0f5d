"""Validation: PSNR/SSIM on the reflectance scale (`evaluate/metrics.py`, valid pixels only), as inference runs.

Dropout is off and batch norm normalises in the inference engine's mode (`sarclear.inference.norm`:
the trainer passes what `auto` resolves to for its batch), the mode `sarclear evaluate` and
`predict` run the saved generator in, so the best checkpoint is chosen by the number those
commands will report. Val tiles
are centre crops of the training size, i.e. one inference window each. No RNG is drawn, so
validating never changes training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from sarclear.data.dataset import build_input
from sarclear.evaluate.metrics import network_metrics
from sarclear.inference.norm import norm_mode
from sarclear.train.interrupt import stop_signals_blocked

#: The two numbers logged per validation (reflectance scale, data range 1, as the SEN12MS-CR tables).
KEYS = ("reflectance/psnr", "reflectance/ssim")


@dataclass
class Validation:
    """Mean metrics of the generator and of the identity baseline (cloudy input as prediction)."""

    psnr: float
    ssim: float
    identity_psnr: float
    identity_ssim: float
    samples: dict[str, torch.Tensor]  # sar, cloudy, prediction, target of the first tiles, on CPU


@torch.no_grad()
def validate(
    generator: nn.Module,
    loader: DataLoader,
    *,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager],
    use_sar: bool,
    s2_clip_max: float,
    sample_tiles: int,
    memory_format: torch.memory_format = torch.contiguous_format,
    norm: str = "running",
) -> Validation:
    """Run `generator` over `loader` once; metrics are per image, then averaged over images.

    The generator is put back as it was (training mode, its own batch-norm layers) afterwards."""
    sums = torch.zeros(4, dtype=torch.float64)
    counts = torch.zeros(4, dtype=torch.float64)  # per metric: a tile without valid pixels scores NaN, skipped
    kept: dict[str, list[torch.Tensor]] = {"sar": [], "cloudy": [], "prediction": [], "target": []}
    with norm_mode(generator, norm):
        with stop_signals_blocked():
            batches = iter(loader)  # forks the workers
        for batch in batches:
            sar, cloudy, clear = (batch[k].to(device, non_blocking=True) for k in ("sar", "cloudy", "clear"))
            x = build_input(sar, cloudy, use_sar).contiguous(memory_format=memory_format)
            with autocast():
                prediction = generator(x)
            prediction = prediction.float()
            valid = batch["valid_mask"].to(device, non_blocking=True)
            ours = network_metrics(prediction, clear, s2_clip_max, valid)
            identity = network_metrics(cloudy, clear, s2_clip_max, valid)
            per_image = [ours[KEYS[0]], ours[KEYS[1]], identity[KEYS[0]], identity[KEYS[1]]]
            sums += torch.stack([v.double().nansum() for v in per_image]).cpu()
            counts += torch.stack([v.isfinite().sum().double() for v in per_image]).cpu()
            if len(kept["sar"]) * loader.batch_size < sample_tiles:  # type: ignore[operator]
                for key, value in zip(kept, (sar, cloudy, prediction, clear)):
                    kept[key].append(value.cpu())
    means = (sums / counts.clamp(min=1)).tolist()
    samples = {key: torch.cat(values)[:sample_tiles] for key, values in kept.items() if values}
    return Validation(*means, samples=samples)
