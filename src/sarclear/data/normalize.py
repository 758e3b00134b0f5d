"""The one place where physical units become network units and back.

Physical units: S1 backscatter in dB (VV, VH); S2 L1C digital numbers (reflectance x 10000).
Network units: every channel in [-1, 1], matching the generator's tanh output.

Clip ranges: S1 VV [-25, 0] dB and VH [-32.5, 0] dB are the ranges of DSen2-CR (Meraner et al.,
2020) and UnCRtainTS (Ebel et al., 2023) for SEN12MS-CR; open water sits near -25 dB VV, urban
double bounce near 0 dB. S2 is clipped to [0, s2_clip_max] DN, 10000 by default (reflectance 1),
so that bright cloud tops in the *input* are not all mapped to one value.

Every function accepts numpy arrays or torch tensors, channel-first (`(..., C, H, W)`).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

ArrayT = TypeVar("ArrayT")

S1_CLIP_DB: dict[str, tuple[float, float]] = {"VV": (-25.0, 0.0), "VH": (-32.5, 0.0)}
S2_CLIP_MAX_DN: float = 10000.0
REFLECTANCE_SCALE: float = 10000.0
#: The curation and 8-bit display stretch: DN [0, 3000] -> [0, 255] (reflectance 0.3 is white).
DISPLAY_MAX_DN: float = 3000.0


def _to_unit(x: ArrayT, lo: float, hi: float) -> ArrayT:
    return (x.clip(lo, hi) - lo) / (hi - lo) * 2.0 - 1.0  # type: ignore[attr-defined, operator]


def _from_unit(x: ArrayT, lo: float, hi: float) -> ArrayT:
    return (x.clip(-1.0, 1.0) + 1.0) / 2.0 * (hi - lo) + lo  # type: ignore[attr-defined, operator]


def _channels(x: ArrayT, index: int) -> ArrayT:
    return x[..., index : index + 1, :, :]  # type: ignore[index]


def _stack(parts: list, like: ArrayT) -> ArrayT:
    if isinstance(like, np.ndarray):
        return np.concatenate(parts, axis=-3)  # type: ignore[return-value]
    import torch

    return torch.cat(parts, dim=-3)  # type: ignore[return-value]


def s1_to_network(s1_db: ArrayT) -> ArrayT:
    """`(..., 2, H, W)` VV, VH in dB -> [-1, 1] per channel with the DSen2-CR clip ranges."""
    vv_lo, vv_hi = S1_CLIP_DB["VV"]
    vh_lo, vh_hi = S1_CLIP_DB["VH"]
    return _stack([_to_unit(_channels(s1_db, 0), vv_lo, vv_hi), _to_unit(_channels(s1_db, 1), vh_lo, vh_hi)], s1_db)


def s1_from_network(x: ArrayT) -> ArrayT:
    """Inverse of `s1_to_network` (exact inside the clip ranges)."""
    vv_lo, vv_hi = S1_CLIP_DB["VV"]
    vh_lo, vh_hi = S1_CLIP_DB["VH"]
    return _stack([_from_unit(_channels(x, 0), vv_lo, vv_hi), _from_unit(_channels(x, 1), vh_lo, vh_hi)], x)


def s2_to_network(dn: ArrayT, clip_max: float = S2_CLIP_MAX_DN) -> ArrayT:
    """S2 digital numbers (any number of bands) -> [-1, 1], clipped to [0, clip_max]."""
    return _to_unit(dn, 0.0, float(clip_max))


def s2_from_network(x: ArrayT, clip_max: float = S2_CLIP_MAX_DN) -> ArrayT:
    """Network output -> S2 digital numbers as floats (round and cast to uint16 when writing)."""
    return _from_unit(x, 0.0, float(clip_max))


def to_reflectance(dn: ArrayT) -> ArrayT:
    """DN -> top-of-atmosphere reflectance in [0, 1], the scale of the published SEN12MS-CR tables."""
    return (dn / REFLECTANCE_SCALE).clip(0.0, 1.0)  # type: ignore[operator, attr-defined]


def toa_reflectance(dn: np.ndarray) -> np.ndarray:
    """DN -> float32 top-of-atmosphere reflectance, unclipped, NaN and inf as 0: what s2cloudless is
    given, and what the cloud and shadow tests compare. Integer DN (the L1C files) hold no NaN, so
    the scan for them is skipped."""
    refl = np.asarray(dn).astype(np.float32) / np.float32(REFLECTANCE_SCALE)
    if np.issubdtype(np.asarray(dn).dtype, np.integer):
        return refl
    return np.nan_to_num(refl, nan=0.0, posinf=0.0, neginf=0.0)


def to_display(dn: ArrayT, max_dn: float = DISPLAY_MAX_DN) -> ArrayT:
    """DN -> 8-bit display values as floats in [0, 255] (linear stretch of [0, max_dn], not rounded)."""
    return dn.clip(0.0, max_dn) / max_dn * 255.0  # type: ignore[attr-defined, operator]


def render_8bit(dn: np.ndarray, max_dn: float = DISPLAY_MAX_DN) -> np.ndarray:
    """DN -> uint8 image as a PNG would hold it: the rendering the curation contrast sigma is measured on."""
    return np.round(to_display(dn.astype(np.float32), max_dn)).astype(np.uint8)
