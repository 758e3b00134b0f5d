"""`sarclear adapt` as an evaluate method: one fit per tile, scored against the tile's clear target.

`adapt` has no model to load: it fits one to each cloudy image's own clear pixels (docs/adapt.md).
So for every tile this method writes evaluate's cloud mask as a GeoTIFF on the cloudy file's grid,
runs `adapt_scene` on the tile's own files with that mask (`--mask`: the scored region is the
inpainted region, the same one the mean fill, biharmonic and push-pull baselines fill), a fixed step count
and seed (reproducible), and reads back the GeoTIFF it wrote. A tile's score is therefore the score
of what `sarclear adapt --mask M --steps N --seed K` writes for it (tested), and the GeoTIFFs stay
in `OUT/adapt/<method>/` for a look. The gallery reads them back instead of fitting again.

A tile too cloudy to learn from (adapt refuses under 10 % clear without a start model) is recorded
as skipped with adapt's own reason; `evaluate` then leaves that tile out of every method's score,
so the table compares the methods on the same tiles.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sarclear.data.manifest import Sample
from sarclear.evaluate.adapt_defaults import DEFAULT_ADAPT_STEPS
from sarclear.io.geotiff import raster_info, read_raster, write_raster

MASK_FOLDER = "masks"


@dataclass(frozen=True)
class AdaptOptions:
    """How each tile is fitted: a step budget (not minutes, so scores are reproducible), the seed,
    and `adapt_scene`'s fresh-model settings (`ngf`, `crop`, `batch_size`, `lr`) when not default."""

    steps: int = DEFAULT_ADAPT_STEPS
    seed: int = 0
    fit: Mapping[str, Any] = field(default_factory=dict)


def read_prediction(path: str | Path) -> np.ndarray:
    """A written GeoTIFF as `(C, H, W)` float32 DN."""
    return read_raster(path)[0].astype(np.float32)


def adapt_prediction(
    s2: str | Path, s1: str | Path | None, mask: str | Path, out: str | Path, *, use_sar: bool, steps: int, seed: int,
    checkpoint: str | Path | None = None, fit: Mapping[str, Any] | None = None,
) -> np.ndarray:  # fmt: skip
    """Run `sarclear adapt` on one scene with a given mask; its output GeoTIFF as `(3, H, W)` DN.

    Raises `sarclear.adapt.scene.TooCloudyError` for a scene too cloudy to fit from scratch.
    """
    from sarclear.adapt import adapt_scene

    adapt_scene(s2, s1 if use_sar else None, out, checkpoint=checkpoint, steps=steps, use_sar=use_sar, mask=mask,
                seed=seed, progress=False, log=lambda _: None, **dict(fit or {}))  # fmt: skip
    return read_prediction(out)


def _file_name(sample_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", sample_id) + ".tif"


class AdaptPredictor:
    """Fits `adapt` to each tile it is given; keeps the outputs' paths and the skipped tiles' reasons."""

    def __init__(self, use_sar: bool, options: AdaptOptions, folder: Path, checkpoint: str | Path | None = None) -> None:
        self.use_sar = use_sar
        self.options = options
        self.folder = folder
        self.checkpoint = checkpoint
        self.outputs: dict[int, Path] = {}
        self.skipped: dict[int, str] = {}
        self.seconds = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "use_sar": self.use_sar, "steps": self.options.steps, "seed": self.options.seed, "fit": dict(self.options.fit),
            "start": "fresh model" if self.checkpoint is None else f"fine-tuned from {self.checkpoint}",
            "mask": "evaluate's cloud mask of the cloudy input, given to adapt as --mask (no extra dilation)",
            "outputs": str(self.folder), "fitted": len(self.outputs), "skipped": len(self.skipped),
            "seconds": round(self.seconds, 1),
        }  # fmt: skip

    def _mask_file(self, sample: Sample, cloud: np.ndarray) -> Path:
        info = raster_info(sample.s2_cloudy_path)
        path = self.folder.parent / MASK_FOLDER / _file_name(sample.sample_id)
        return write_raster(path, cloud.astype(np.uint8)[None], crs=info.crs, transform=info.transform)

    def tile(self, index: int, sample: Sample, cloud: np.ndarray) -> np.ndarray | None:
        """The fitted output of tile `index` (DN), or None when adapt refused it (reason in `skipped`)."""
        from sarclear.adapt.scene import TooCloudyError

        if index in self.skipped:
            return None
        out = self.folder / _file_name(sample.sample_id)
        if index in self.outputs:
            return read_prediction(out)
        start = time.perf_counter()
        try:
            prediction = adapt_prediction(sample.s2_cloudy_path, sample.s1_path, self._mask_file(sample, cloud), out,
                                          use_sar=self.use_sar, steps=self.options.steps, seed=self.options.seed,
                                          checkpoint=self.checkpoint, fit=self.options.fit)  # fmt: skip
        except TooCloudyError as exc:
            self.skipped[index] = str(exc)
            return None
        finally:
            self.seconds += time.perf_counter() - start
        self.outputs[index] = out
        return prediction

    def batch(self, indexes: Sequence[int], samples: Sequence[Sample], cloud: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Predictions for a batch shaped as `like` (the cloudy DN); a skipped tile is all NaN."""
        out = torch.full_like(like, float("nan"), dtype=torch.float32)
        for position, index in enumerate(indexes):
            prediction = self.tile(index, samples[index], cloud[position].cpu().numpy().astype(bool))
            if prediction is not None:
                out[position] = torch.from_numpy(prediction).to(like.device)
        return out
