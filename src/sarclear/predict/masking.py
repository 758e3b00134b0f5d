"""The cloud mask a composite uses, strip by strip: from a `--mask` file or detected from S2.

Detection (`sarclear.data.clouds.cloud_mask`: s2cloudless on the 13 L1C bands, a brightness test
on RGB-only input) smooths and dilates the probability over a few pixels, and the composite's
feathering reaches further still, so each strip is read with `MARGIN` extra rows above and below
and cropped afterwards: a strip's mask then equals the mask of the whole scene on those rows.
Wide strips are cut into chunks of `CHUNK` columns (with the same margin left and right), so the
detector's working memory does not grow with the scene's width.

The detector's probability is computed at `DETECT_SCALE` x the pixel size (40 m) from block means
of the bands, then brought back to 10 m and smoothed, thresholded and dilated at full resolution.
Why: s2cloudless (a LightGBM pixel classifier) costs ~15 s per megapixel on one of our cores, more
than the generator, and 7 of its 10 input bands (B1, B5, B8A, B9, B10, B11, B12) are 20 m or 60 m
data resampled to 10 m anyway, so 10 m evaluation adds cost rather than detail.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sarclear.predict.composite import FEATHER_PX, feather
from sarclear.predict.reader import SceneReader

#: Context rows around a strip: s2cloudless averaging (4) + dilation (2) + feathering (FEATHER_PX), rounded up.
MARGIN: int = 32
#: Columns per detection chunk: s2cloudless holds ~10 float copies of its 13-band input.
CHUNK: int = 2048
#: Detection runs on DETECT_SCALE x DETECT_SCALE block means (16x fewer pixels to classify).
DETECT_SCALE: int = 4


class MaskSource:
    """`rows(r0, r1) -> (mask, alpha)`: bool cloud mask and composite weight for rows `r0 <= r < r1`."""

    def __init__(self, reader: SceneReader, log: Callable[[str], None] = lambda _: None) -> None:
        self.reader = reader
        self.log = log
        self.method: str | None = None
        inputs = reader.inputs
        self._bands = tuple(range(1, 14)) if inputs.s2.count == 13 else inputs.rgb_bands

    def rows(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        height, width = self.reader.inputs.shape
        m0, m1 = max(0, r0 - MARGIN), min(height, r1 + MARGIN)
        mask = np.zeros((r1 - r0, width), dtype=bool)
        alpha = np.zeros((r1 - r0, width), dtype=np.float32)
        for c0 in range(0, width, CHUNK):
            c1 = min(width, c0 + CHUNK)
            n0, n1 = max(0, c0 - MARGIN), min(width, c1 + MARGIN)
            chunk = self._mask(m0, m1, (n0, n1))
            inner = (slice(r0 - m0, r1 - m0), slice(c0 - n0, c1 - n0))
            mask[:, c0:c1] = chunk[inner]
            alpha[:, c0:c1] = feather(chunk, FEATHER_PX // 2)[inner]
        return mask, alpha

    def _mask(self, m0: int, m1: int, cols: tuple[int, int]) -> np.ndarray:
        if self.reader.inputs.mask is not None:
            if self.method is None:
                self.method = "file"
                self.log(f"cloud mask: from {self.reader.inputs.mask.path.name} (nonzero = cloud)")
            return self.reader.mask(m0, m1, cols)
        mask, method = detect_clouds(self.reader.s2(m0, m1, self._bands, cols), DETECT_SCALE)
        if self.method is None:
            self.method = method
            self.log(f"cloud mask: detected with {method} on {len(self._bands)} bands at {DETECT_SCALE}x the pixel size")
        return mask


def detect_clouds(dn: np.ndarray, scale: int) -> tuple[np.ndarray, str]:
    """`(H, W)` bool cloud mask of a `(bands, H, W)` DN stack, the probability evaluated on `scale` x `scale`
    block means and the post-processing (disk average, threshold, dilation) done at full resolution."""
    from sarclear.data.clouds import cloud_probability, mask_from_probability

    bands, h, w = dn.shape
    pad_h, pad_w = -h % scale, -w % scale
    padded = np.pad(dn.astype(np.float32), ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
    pooled = padded.reshape(bands, (h + pad_h) // scale, scale, (w + pad_w) // scale, scale).mean(axis=(2, 4))
    prob, method = cloud_probability(pooled)
    full = np.repeat(np.repeat(prob, scale, axis=0), scale, axis=1)[:h, :w]
    return mask_from_probability(full), method
