"""Reference methods that need no training, evaluated in the same table as the models.

A baseline maps `(sar, cloudy_dn)` to a prediction in S2 digital numbers: `sar` is the `(B, 2, H, W)`
network-unit SAR batch, `cloudy_dn` the `(B, C, H, W)` cloudy input in DN. `identity` (the cloudy
input returned unchanged) is the floor every cloud-removal method must beat, and the only number
that depends on the data alone; the SEN12MS-CR papers report it as "cloudy input".
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sarclear.errors import ConfigError

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def identity(sar: torch.Tensor, cloudy_dn: torch.Tensor) -> torch.Tensor:
    """The cloudy input as the prediction."""
    return cloudy_dn


BASELINES: dict[str, Predictor] = {"identity": identity}


def get_baseline(name: str) -> Predictor:
    """The baseline called `name`; an unknown name fails listing the valid ones."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")
    return BASELINES[name]
