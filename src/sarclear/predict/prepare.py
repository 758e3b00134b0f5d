"""Pure conversions from a strip of physical values to network input, and the padding windows need.

Units go through `sarclear.data.normalize` only. Which pixels are valid (and written as data
rather than nodata) is `sarclear.data.valid.valid_pixels`, the rule training and evaluation use.
"""

from __future__ import annotations

import numpy as np

from sarclear.data.normalize import s1_to_network, s2_to_network
from sarclear.inference.tiling import pad_to  # noqa: F401 (re-exported: predict pads with it)


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
