"""Pure conversions from a strip of physical values to network input, and the padding windows need.

Units go through `sarclear.data.normalize` only. A pixel is valid when S2 holds data there (not
all bands 0, the SEN12MS-CR / L1C fill value, nor the declared nodata, nor NaN) and, for a SAR
model, S1 does too (finite in both polarisations). Invalid pixels are written as nodata.
"""

from __future__ import annotations

import numpy as np

from sarclear.data.normalize import s1_to_network, s2_to_network


def s2_valid(dn: np.ndarray, nodata: float | None) -> np.ndarray:
    """`(H, W)` True where a `(bands, H, W)` S2 stack holds data."""
    valid = np.any(dn != 0, axis=0)
    if np.issubdtype(dn.dtype, np.floating):
        valid &= np.all(np.isfinite(dn), axis=0)
    if nodata is not None and np.isfinite(nodata) and nodata != 0:
        valid &= np.any(dn != nodata, axis=0)
    return valid


def s1_valid(db: np.ndarray) -> np.ndarray:
    """`(H, W)` True where both S1 polarisations are finite (NaN marks nodata and unreached pixels)."""
    return np.all(np.isfinite(db), axis=0)


def network_input(s2_dn: np.ndarray, s1_db: np.ndarray | None, s2_clip_max: float) -> np.ndarray:
    """`(..., C, H, W)` float32 network input: [VV, VH,] then the S2 bands, all in [-1, 1].

    Applied to a batch of windows rather than a whole strip, so the float copies stay small.

    Missing S1 (NaN) becomes 0, the middle of the network range, so a nodata hole does not push
    its neighbours' predictions toward either end of the backscatter scale.
    """
    optical = s2_to_network(np.nan_to_num(s2_dn.astype(np.float32)), s2_clip_max)
    if s1_db is None:
        return optical.astype(np.float32)
    sar = np.nan_to_num(s1_to_network(s1_db.astype(np.float32)), nan=0.0)
    return np.concatenate([sar, optical], axis=-3).astype(np.float32)


def pad_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad the last two axes by reflection up to at least `height` x `width` (for scenes smaller than a tile)."""
    h, w = array.shape[-2:]
    pad_h, pad_w = max(0, height - h), max(0, width - w)
    if not pad_h and not pad_w:
        return array
    mode = "reflect" if h > 1 and w > 1 else "edge"
    return np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, pad_h), (0, pad_w)], mode=mode)
