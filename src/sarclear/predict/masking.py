"""The cloud mask a composite uses, strip by strip: from a `--mask` file or detected from S2.

Detection (`sarclear.data.clouds`: s2cloudless on the 13 L1C bands, a brightness test on input
without them, the bands chosen by `sarclear.data.cloud_bands.detector_bands`, loudly when an L2A
product without B10 or a padded band rules s2cloudless out) smooths and dilates the probability over a few pixels, and the composite's
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

from sarclear.data.cloud_bands import RGB_POSITIONS, DetectorBands, detector_bands, usable_method
from sarclear.data.clouds import BRIGHT_HIGH, BRIGHT_SCENE_SHARE
from sarclear.data.normalize import REFLECTANCE_SCALE
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
        self._choice: DetectorBands | None = None  # only needed without a --mask file
        self._method: str | None = None  # decided on the first chunk (a padded band demotes s2cloudless)
        self._cloudy, self._valid, self._bright = False, 0, 0

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
        if r1 >= height:
            self._scene_done()
        return mask, alpha

    def _mask(self, m0: int, m1: int, cols: tuple[int, int]) -> np.ndarray:
        if self.reader.inputs.mask is not None:
            if self.method is None:
                self.method = "file"
                self.log(f"cloud mask: from {self.reader.inputs.mask.path.name} (nonzero = cloud)")
            mask = self.reader.mask(m0, m1, cols)
            self._tally(self.reader.s2(m0, m1, self.reader.inputs.rgb_bands, cols), mask)
            return mask
        if self._choice is None:
            self._choice = detector_bands(self.reader.inputs.s2)
        dn = self.reader.s2(m0, m1, self._choice.indexes, cols)
        if self._method is None:
            self._method, _, warning = usable_method(self._choice, dn)
            if warning:
                self.log(f"WARNING: cloud mask: {warning}")
        if self._method == "brightness" and dn.shape[0] == 13:
            dn = dn[list(RGB_POSITIONS)]
        mask, method = detect_clouds(dn, DETECT_SCALE, "brightness" if self._method == "brightness" else "auto")
        if self.method is None:
            self.method = method
            self.log(f"cloud mask: detected with {method} on {dn.shape[0]} bands at {DETECT_SCALE}x the pixel size ({self._choice.how})")
        self._tally(dn, mask)
        return mask

    def _tally(self, dn: np.ndarray, mask: np.ndarray) -> None:
        """Count toward `bright_scene_warning` over the whole scene (margins are counted twice: harmless
        for a share), and say it once the last strip is done."""
        rgb = dn if dn.shape[0] == 3 else dn[list(RGB_POSITIONS)]
        valid = rgb.max(axis=0) > 0
        mean = rgb.astype(np.float32).mean(axis=0) / np.float32(REFLECTANCE_SCALE)
        self._cloudy |= bool(mask.any())
        self._valid += int(valid.sum())
        self._bright += int((valid & (mean > BRIGHT_HIGH)).sum())

    def _scene_done(self) -> None:
        if self._cloudy or not self._valid or self._bright < BRIGHT_SCENE_SHARE * self._valid:
            return
        share = 100.0 * self._bright / self._valid
        self.log(f"WARNING: the cloud mask finds 0 % cloud, but {share:.0f} % of the scene is brighter than {BRIGHT_HIGH:g} "
                 "mean visible reflectance: overcast, snow, or a radiometric offset (--s2-offset)? check it, or pass --mask FILE")


def detect_clouds(dn: np.ndarray, scale: int, method: str = "auto") -> tuple[np.ndarray, str]:
    """`(H, W)` bool cloud mask of a `(bands, H, W)` DN stack, the probability evaluated on `scale` x `scale`
    block means and the post-processing (disk average, threshold, dilation) done at full resolution."""
    from sarclear.data.clouds import cloud_probability, mask_from_probability

    bands, h, w = dn.shape
    pad_h, pad_w = -h % scale, -w % scale
    padded = np.pad(dn.astype(np.float32), ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
    pooled = padded.reshape(bands, (h + pad_h) // scale, scale, (w + pad_w) // scale, scale).mean(axis=(2, 4))
    prob, method = cloud_probability(pooled, method=method)
    full = np.repeat(np.repeat(prob, scale, axis=0), scale, axis=1)[:h, :w]
    return mask_from_probability(full), method
