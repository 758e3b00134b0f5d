"""A torch `Dataset` over manifest rows: physical files in, network-unit tensors out.

A sample is a dict with stable keys (as TorchGeo and pix2pix do):

* `sar`    `(2, H, W)`  VV, VH in [-1, 1]
* `cloudy` `(C, H, W)`  cloudy S2 (RGB = B4, B3, B2, or all 13 bands) in [-1, 1]
* `clear`  `(C, H, W)`  cloud-free S2 target, same bands, in [-1, 1]
* `valid_mask` `(1, H, W)` float 1/0: 1 where S1, the cloudy input and the target all hold data
  (`sarclear.data.valid`); the L1 loss and the metrics count only those pixels
* `id`, `season` (str), `index` (int)

The 5-channel network input (VV, VH, R, G, B: early fusion) is made by `build_input`, so the same
batch serves the fusion model and an optical-only ablation. Random flips and crops are drawn once
per sample from a generator seeded by (seed, epoch, index) and applied to one stack of every
modality and the valid mask, so they are identical across input, target and mask, reproducible,
and independent of how samples are spread over workers or ranks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from sarclear.data.manifest import Sample
from sarclear.data.normalize import S2_CLIP_MAX_DN, s1_to_network, s2_to_network
from sarclear.data.triplet import read_triplet
from sarclear.data.worker_errors import reported_from_worker


class TileArrays(NamedTuple):
    """One tile in physical units: S1 dB `(2, H, W)` float32, cloudy and clear S2 DN `(C, H, W)`
    float32, and `valid_mask` `(H, W)` bool (pixels where all three hold data)."""

    s1: np.ndarray
    cloudy: np.ndarray
    clear: np.ndarray
    valid_mask: np.ndarray


def build_input(sar: torch.Tensor, cloudy: torch.Tensor, use_sar: bool = True) -> torch.Tensor:
    """Early fusion: concatenate SAR and cloudy optical along channels (`use_sar=False`: optical only)."""
    return torch.cat([sar, cloudy], dim=-3) if use_sar else cloudy


class TripletDataset(Dataset):
    """SEN12MS-CR triplets listed in a manifest, as network-unit tensors."""

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        bands: str = "rgb",
        s2_clip_max: float = S2_CLIP_MAX_DN,
        crop_size: int | None = None,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        self.samples = list(samples)
        self.bands = bands
        self.s2_clip_max = s2_clip_max
        self.crop_size = crop_size
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw (call once per epoch, like `DistributedSampler.set_epoch`)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def read_tile(self, index: int) -> TileArrays:
        """The sample's whole tile in physical units, before any unit conversion, crop or flip.

        This is where the files are read; `sarclear pack` stores exactly these arrays, and
        `PackedDataset` overrides this method alone, so both datasets share every later step.
        """
        sample = self.samples[index]
        arrays = read_triplet(sample.s1_path, sample.s2_cloudy_path, sample.s2_path, bands=self.bands)
        return TileArrays(arrays.s1, arrays.cloudy, arrays.clear, arrays.valid_mask)

    @reported_from_worker
    def __getitem__(self, index: int) -> dict[str, object]:
        sample = self.samples[index]
        tile = self.read_tile(index)
        stack = np.concatenate(
            [
                s1_to_network(tile.s1),
                s2_to_network(tile.cloudy, self.s2_clip_max),
                s2_to_network(tile.clear, self.s2_clip_max),
                tile.valid_mask[None].astype(np.float32),
            ],
            axis=0,
        ).astype(np.float32)
        stack = self._augment(stack, index)
        c = tile.cloudy.shape[0]
        tensor = torch.from_numpy(np.ascontiguousarray(stack))
        return {
            "sar": tensor[0:2],
            "cloudy": tensor[2 : 2 + c],
            "clear": tensor[2 + c : 2 + 2 * c],
            "valid_mask": tensor[2 + 2 * c :],
            "id": sample.sample_id,
            "season": sample.season,
            "index": index,
        }

    def _augment(self, stack: np.ndarray, index: int) -> np.ndarray:
        """Crop and flip all modalities together (one draw per sample and epoch)."""
        rng = np.random.default_rng((self.seed, self.epoch, index))
        height, width = stack.shape[-2:]
        if self.crop_size is not None and self.crop_size < min(height, width):
            if self.augment:
                top = int(rng.integers(0, height - self.crop_size + 1))
                left = int(rng.integers(0, width - self.crop_size + 1))
            else:
                top, left = (height - self.crop_size) // 2, (width - self.crop_size) // 2
            stack = stack[:, top : top + self.crop_size, left : left + self.crop_size]
        if self.augment:
            if rng.random() < 0.5:
                stack = stack[:, :, ::-1]
            if rng.random() < 0.5:
                stack = stack[:, ::-1, :]
        return stack
