"""Training and validation data: up-front checks, a resumable sharded sampler, the loaders.

Every file a run will read is checked before the first step (headers only: existence, band
counts, dtypes, shared grid, tile size, a file shorter than its TIFF directory says), so a bad row
fails in seconds with the file's name,
not hours into training inside a worker process.

Data order is a pure function of (seed, epoch): `TrainSampler` draws each epoch's permutation
(or season-balanced draw) from its own generator seeded with `seed + epoch`, shards it over
ranks as `DistributedSampler` does, and can start part-way through an epoch. Together with the
dataset's (seed, epoch, index)-seeded augmentation this makes `--resume` continue with exactly
the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, DistributedSampler

from sarclear.data.bands import s2_band_indexes
from sarclear.data.dataset import TripletDataset
from sarclear.data.manifest import Sample
from sarclear.data.triplet import check_triplet
from sarclear.data.worker_errors import ErrorSafeLoader
from sarclear.errors import LayoutError, RasterError, SarclearInputError
from sarclear.io.truncation import check_not_truncated
from sarclear.progress import progress_bar
from sarclear.train.interrupt import ignore_stop_signals


def check_samples(samples: Sequence[Sample], *, size: int, bands: str, progress: bool = False) -> None:
    """Raise a one-line `SarclearInputError` for the first row whose files cannot be trained on."""
    for sample in progress_bar(samples, desc="checking inputs", unit="tile", disable=not progress, leave=False):
        _, cloudy, clear = check_triplet(sample.s1_path, sample.s2_cloudy_path, sample.s2_path)
        for path in (sample.s1_path, sample.s2_cloudy_path, sample.s2_path):
            check_not_truncated(path)
        for info in (cloudy, clear):
            s2_band_indexes(info, bands)
        if min(clear.shape) < size:
            raise RasterError(
                sample.s2_path,
                f"tile is {clear.width}x{clear.height} px, smaller than the training crop of {size} px "
                "(lower --size or remove the row)",
            )


def first_error(samples: Sequence[Sample], *, size: int, bands: str, progress: bool = False) -> str | None:
    """`check_samples` as a message instead of an exception, for gathering across ranks."""
    try:
        check_samples(samples, size=size, bands=bands, progress=progress)
    except SarclearInputError as exc:
        return str(exc)
    return None


def require_rows(samples: Sequence[Sample], split: str, manifest: str) -> None:
    if not samples:
        raise LayoutError(f"{manifest}: no kept rows in the {split} split; nothing to train on")


def season_weights(samples: Sequence[Sample]) -> torch.Tensor:
    """Per-sample weights 1 / (tiles of its season): every season is drawn equally often."""
    counts = Counter(s.season for s in samples)
    return torch.tensor([1.0 / counts[s.season] for s in samples], dtype=torch.double)


class TrainSampler(DistributedSampler):
    """`DistributedSampler` that can also draw season-balanced epochs and skip consumed batches.

    Shuffled: a permutation from `torch.Generator().manual_seed(seed + epoch)`, exactly as
    `DistributedSampler`. Weighted: `num_samples` draws with replacement from the same generator
    (what `WeightedRandomSampler` does, made rank-aware). Either way padded to a multiple of the
    number of ranks and strided `rank::world_size`. `start` drops the first `start` indices of this
    rank's share (the batches already trained on before a resume); it is reset by `set_epoch`.
    """

    def __init__(
        self, size: int, *, rank: int, world_size: int, seed: int, weights: torch.Tensor | None = None
    ) -> None:
        super().__init__(range(size), num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False)
        self.weights = weights
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.start = 0

    def _epoch_indices(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.weights is None:
            indices = torch.randperm(n, generator=generator).tolist()
        else:
            indices = torch.multinomial(self.weights, n, replacement=True, generator=generator).tolist()
        indices += indices[: self.total_size - n]
        return indices[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices()[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


def batches_per_epoch(sampler: TrainSampler, batch_size: int) -> int:
    return math.ceil(sampler.num_samples / batch_size)


def make_loader(
    dataset: TripletDataset,
    *,
    batch_size: int,
    sampler: torch.utils.data.Sampler | None,
    workers: int,
    pin_memory: bool,
) -> DataLoader:
    """A loader that never draws from the global torch RNG (its own generator), so dropout masks
    do not depend on when loaders were created. Workers are not persistent: each epoch's workers
    must see the dataset's new `set_epoch` value (augmentation draw), and forking them is cheap."""
    return ErrorSafeLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(0),
        worker_init_fn=ignore_stop_signals,
    )



def evenly_spaced(samples: Sequence[Sample], limit: int | None) -> list[Sample]:
    """At most `limit` rows spread over the whole list (a manifest is ordered by season and scene,
    so this keeps every season in a bounded validation set); all rows when `limit` is None."""
    if limit is None or limit >= len(samples):
        return list(samples)
    step = len(samples) / limit
    return [samples[int(i * step)] for i in range(limit)]
