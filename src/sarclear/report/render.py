"""Sentinel images as 8-bit pictures: the one rendering of optical and SAR tiles for every figure.

Why one place: the curation contact sheet, the training sample grids, the evaluation gallery and the
demo page all show S2 and S1 tiles side by side with each other's numbers, so they must agree on
what a pixel looks like. Optical tiles use the display stretch of `data/normalize.py` (DN [0, 3000]
-> [0, 255], rounded: what the curation contrast sigma and the metrics' `display` scale see); 13-band
stacks show B4, B3, B2 (`data/bands.py`). SAR shows VV in grey over its clip range ([-25, 0] dB ->
black..white), read in network units ([-1, 1]).
"""

from __future__ import annotations

import numpy as np

from sarclear.data.bands import S2_RGB_POSITIONS
from sarclear.data.normalize import DISPLAY_MAX_DN, render_8bit


def optical_rgb(dn: np.ndarray, max_dn: float = DISPLAY_MAX_DN) -> np.ndarray:
    """`(C, H, W)` S2 DN (3 bands B4, B3, B2, or the 13-band stack) -> `(H, W, 3)` uint8."""
    rgb = dn[list(S2_RGB_POSITIONS)] if dn.shape[0] == 13 else dn[:3]
    return np.moveaxis(render_8bit(rgb, max_dn), 0, -1).copy()


def sar_grey(sar_network: np.ndarray) -> np.ndarray:
    """`(2, H, W)` SAR in network units -> VV as `(H, W)` uint8 grey (-25 dB black, 0 dB white)."""
    return np.round((np.clip(sar_network[0], -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
