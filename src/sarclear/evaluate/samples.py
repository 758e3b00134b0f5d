"""Evaluation samples: a `TripletDataset` item plus the cloud mask and cloud cover of its cloudy input.

The cloud mask is computed from the cloudy file itself, on the bands `sarclear.data.cloud_bands`
chooses (the 13 L1C bands for SEN12MS-CR, so the literature's s2cloudless detector applies; L2A
products without B10 get Fmask's spectral tests and RGB exports the brightness test of
`sarclear.data.clouds`, with a warning when that is a loss). Cloud cover comes from the manifest's `cloud_cover_pct` column when the
row has a value (the number curation binned on), else from this mask over the valid pixels.
Reading and masking run in DataLoader workers, so they overlap with the model on the main process.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate, get_worker_info

from sarclear.data.cloud_bands import detector_bands, rgb_planes, usable_method
from sarclear.data.clouds import bright_scene_warning, cloud_cover_pct, cloud_mask
from sarclear.data.dataset import TripletDataset
from sarclear.data.manifest import Sample
from sarclear.data.worker_errors import reported_from_worker
from sarclear.errors import LayoutError
from sarclear.io.geotiff import raster_info, read_raster

LOG = logging.getLogger(__name__)
_WARNED: set[str] = set()


def _warn_once(text: str, path: object) -> None:
    """Each distinct warning once per process (naming the first file): an L2A manifest would
    otherwise repeat the same one for every tile."""
    if text not in _WARNED:
        _WARNED.add(text)
        LOG.warning("%s: %s", path, text)


def cloudy_input_mask(path, num_threads: int | None = None) -> tuple[np.ndarray, str]:
    """`(H, W)` bool cloud mask of a cloudy S2 file (the bands `detector_bands` picks) and the detector used."""
    info = raster_info(path)
    choice = detector_bands(info)
    dn, _ = read_raster(path, bands=choice.indexes)
    method, stack, warning = usable_method(choice, dn)
    mask, used = cloud_mask(stack.astype(np.float32), method="auto" if method == "s2cloudless" else method, num_threads=num_threads)
    rgb = rgb_planes(stack)
    if warning:
        _warn_once(warning, path)
    late = bright_scene_warning(rgb, mask, rgb.max(axis=0) > 0)
    if late:
        LOG.warning("%s: %s", path, late)
    return mask, used


class EvalDataset(Dataset):
    """Manifest rows as network-unit tensors (`TripletDataset` keys) plus cloud information.

    Extra keys: `cloud_mask` `(H, W)` bool, `cloud_cover_pct` float, `cloud_cover_source`
    (`manifest` or `mask`), `mask_method` (detector name), `split` (str).
    """

    def __init__(self, samples: Sequence[Sample], *, bands: str, s2_clip_max: float) -> None:
        self.triplets = TripletDataset(samples, bands=bands, s2_clip_max=s2_clip_max)

    @property
    def samples(self) -> list[Sample]:
        return self.triplets.samples

    def __len__(self) -> int:
        return len(self.triplets)

    @reported_from_worker
    def __getitem__(self, index: int) -> dict[str, object]:
        return self.item(index)

    def item(self, index: int, mask: np.ndarray | None = None) -> dict[str, object]:
        """The sample at `index`; pass its cloud `mask` if already known to skip the detector."""
        item = self.triplets[index]
        sample = self.samples[index]
        method = "cached"
        if mask is None:
            threads = 1 if get_worker_info() is not None else None
            mask, method = cloudy_input_mask(sample.s2_cloudy_path, num_threads=threads)
        cover, source = sample.cloud_cover_pct, "manifest"
        if cover is None or math.isnan(cover):
            valid = item["valid_mask"][0].numpy() > 0  # type: ignore[index, union-attr]
            cover, source = cloud_cover_pct(mask, valid), "mask"
        item.update(
            cloud_mask=torch.from_numpy(mask),
            cloud_cover_pct=float(cover),
            cloud_cover_source=source,
            mask_method=method,
            split=sample.split,
        )
        return item


@reported_from_worker
def collate(items: list[dict[str, object]]) -> dict[str, object]:
    """`default_collate`, but tiles of different sizes fail with a message naming them."""
    shapes = {tuple(item["clear"].shape[-2:]) for item in items}  # type: ignore[union-attr]
    if len(shapes) > 1:
        sizes = ", ".join(f"{item['id']} {tuple(item['clear'].shape[-2:])}" for item in items)  # type: ignore[union-attr]
        raise LayoutError(f"tiles of different sizes in one batch ({sizes}); use --batch-size 1")
    return default_collate(items)
