"""What a trained generator is, saved inside its checkpoint so nobody re-types flags to load it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from sarclear.data.normalize import S2_CLIP_MAX_DN
from sarclear.models.generator import UNetGenerator


def depth_for_size(size: int) -> int:
    """log2(size) down-samplings (8 at 256 px, a 1x1 bottleneck), as the Pix2Pix `unet_256`."""
    if size < 32 or size & (size - 1):
        raise ValueError(f"tile size must be a power of two >= 32, got {size}")
    return int(math.log2(size))


#: ModelSpec fields that describe how the weights were trained rather than the network.
PROVENANCE_FIELDS: tuple[str, ...] = ("s2_level", "training_data", "training_summary", "norm_batch")


@dataclass(frozen=True)
class ModelSpec:
    """Generator architecture plus the data conventions its weights were trained under."""

    in_channels: int = 5
    out_channels: int = 3
    ngf: int = 64
    n_down: int = 8
    norm: str = "batch"
    dropout: bool = True
    use_sar: bool = True
    bands: str = "rgb"
    s2_clip_max: float = S2_CLIP_MAX_DN
    tile_size: int = 256
    #: The output is a correction of the optical input (`UNetGenerator`'s docstring); `adapt`'s fits.
    residual: bool = False
    #: Provenance, not architecture: what the weights learnt from. SEN12MS-CR is Level-1C (top of
    #: atmosphere); `training_data` is `synthetic`, `real`, `mixed` or `unknown` (older checkpoints).
    s2_level: str = "L1C"
    training_data: str = "unknown"
    training_summary: str = ""
    #: Images per batch-norm statistic in training (the per-process batch, times the processes with
    #: SyncBatchNorm); 0: unknown (older checkpoints). Decides the `auto` batch-norm mode at
    #: inference (`sarclear.inference.norm.resolve_norm_mode`).
    norm_batch: int = 0

    def architecture(self) -> dict[str, Any]:
        """The fields that decide whether saved weights fit this model (provenance left out)."""
        return {k: v for k, v in self.to_dict().items() if k not in PROVENANCE_FIELDS}

    def build(self) -> UNetGenerator:
        return UNetGenerator(self.in_channels, self.out_channels, self.ngf, self.n_down, self.norm, self.dropout, self.residual)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
