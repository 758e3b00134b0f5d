"""The cloud mask a composite uses, strip by strip: from a `--mask` file or detected from S2.

Detection (`sarclear.data.clouds`: s2cloudless on the 13 L1C bands, Fmask's spectral tests on an
L2A product's bands, a brightness test on RGB alone, the bands chosen by `sarclear.data.cloud_bands.detector_bands`, loudly when an L2A
product without B10 or a padded band rules s2cloudless out) smooths and dilates the probability over a few pixels, and the composite's
feathering reaches further still, so each strip is read with `MARGIN` extra rows above and below
and cropped afterwards: a strip's mask then equals the mask of the whole scene on those rows.
Wide strips are cut into chunks of `CHUNK` columns (with the same margin left and right), so the
detector's working memory does not grow with the scene's width.

The detector's probability is computed at `DETECT_SCALE` x the pixel size (40 m) from block means
of the bands, then brought back to 10 m and smoothed, thresholded and dilated at full resolution.
Why: s2cloudless is a gradient-boosted pixel classifier whose cost, even compiled, is of the order
of the generator's (docs/curate.md and docs/predict.md have the figures), and 7 of its 10 input bands (B1, B5, B8A, B9, B10, B11, B12) are 20 m or 60 m
data resampled to 10 m anyway, so 10 m evaluation adds cost rather than detail.

Cloud shadows (`sarclear.data.shadows`) are added to a detected mask unless turned off: dark
pixels near the clouds (along the sun's projection where a SAFE product gives its angles), judged
against the median of the scene's clear land, which is measured once on a decimated read of the
whole scene so that every strip uses the same level. The strips then need the shadow search's
reach as extra context. A `--mask` file is taken as given (no shadows added): it is the user's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sarclear.data import shadows
from sarclear.data.bands import S2_BANDS
from sarclear.data.cloud_bands import (
    SPECTRAL,
    SPECTRAL_BANDS,
    SPECTRAL_POSITIONS,
    DetectorBands,
    detector_bands,
    rgb_planes,
    shadow_band_indexes,
    usable_method,
)
from sarclear.data.clouds import BRIGHT_HIGH, BRIGHT_SCENE_SHARE, DEFAULT_DILATION_SIZE, DEFAULT_THRESHOLD, dilate
from sarclear.data.normalize import REFLECTANCE_SCALE
from sarclear.errors import ConfigError
from sarclear.io.geotiff import RasterInfo
from sarclear.io.pixel_size import row_spacing_metres
from sarclear.io.scl import SCL_CLOUD, SCL_NODATA, SCL_SHADOW
from sarclear.predict.composite import FEATHER_PX, feather
from sarclear.predict.defaults import SHADOW_DILATION_PX
from sarclear.predict.reader import SceneReader

#: Context rows around a strip: s2cloudless averaging (4) + dilation (2) + feathering (FEATHER_PX), rounded up.
MARGIN: int = 32
#: Columns per detection chunk: s2cloudless holds ~10 float copies of its 13-band input.
CHUNK: int = 2048
#: Detection runs on DETECT_SCALE x DETECT_SCALE block means (16x fewer pixels to classify).
DETECT_SCALE: int = 4
#: Longest side, in pixels, of the decimated read that measures the clear land's reference level.
REFERENCE_PX: int = 1024


@dataclass(frozen=True)
class MaskRows:
    """Rows `r0 <= r < r1` of the mask: `cloud` and `shadow` (bool, never both) and the composite weight."""

    cloud: np.ndarray
    shadow: np.ndarray
    alpha: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Every pixel the model fills: cloud or shadow."""
        return self.cloud | self.shadow


class MaskSource:
    """`rows(r0, r1) -> MaskRows` for rows `r0 <= r < r1`; `shadow_dilation` None turns shadows off."""

    def __init__(self, reader: SceneReader, log: Callable[[str], None] = lambda _: None,
                 shadow_dilation: int | None = SHADOW_DILATION_PX, threshold: float = DEFAULT_THRESHOLD,
                 use_scl: bool = True) -> None:  # fmt: skip
        self.reader = reader
        self.log = log
        self.threshold = check_threshold(threshold)
        #: An L2A product's own Scene Classification, used instead of detection unless `use_scl` is False.
        self.scl = use_scl and reader.inputs.mask is None and reader.inputs.scl is not None
        self.method: str | None = None
        self._choice: DetectorBands | None = None  # only needed without a --mask file
        self._method: str | None = None  # decided on the first chunk (a padded band demotes s2cloudless)
        self._cloudy, self._valid, self._bright = False, 0, 0
        self.shadow_dilation = shadow_dilation if reader.inputs.mask is None else None
        self._shadow_how = "off (--no-shadows)" if shadow_dilation is None else "none added to the --mask file"
        self._reference: tuple[float, ...] | None = None
        self._steps: list[tuple[int, int]] | None = None
        self._shadow_bands: dict[str, int] = {}
        self.counts = {"valid": 0, "cloud": 0, "shadow": 0}

    def rows(self, r0: int, r1: int) -> MaskRows:
        height, width = self.reader.inputs.shape
        if self.scl:  # classes are read, not searched for: context for the shadow dilation only
            extra = self.shadow_dilation or 0
        else:
            extra = shadows.context_px(self.shadow_dilation) if self.shadow_dilation is not None else 0
        margin = MARGIN + -(-extra // DETECT_SCALE) * DETECT_SCALE  # whole detection blocks: the same 40 m grid as without shadows
        m0, m1 = max(0, r0 - margin), min(height, r1 + margin)
        cloud = np.zeros((r1 - r0, width), dtype=bool)
        shadow = np.zeros((r1 - r0, width), dtype=bool)
        alpha = np.zeros((r1 - r0, width), dtype=np.float32)
        for c0 in range(0, width, CHUNK):
            c1 = min(width, c0 + CHUNK)
            n0, n1 = max(0, c0 - margin), min(width, c1 + margin)
            chunk, shade, valid = self._mask(m0, m1, (n0, n1))
            inner = (slice(r0 - m0, r1 - m0), slice(c0 - n0, c1 - n0))
            cloud[:, c0:c1], shadow[:, c0:c1] = chunk[inner], shade[inner]
            alpha[:, c0:c1] = feather(chunk | shade, FEATHER_PX // 2)[inner]
            self.counts["valid"] += int(valid[inner].sum())
            self.counts["cloud"] += int((chunk & valid)[inner].sum())
            self.counts["shadow"] += int((shade & valid)[inner].sum())
        if r1 >= height:
            self._scene_done()
        return MaskRows(cloud, shadow, alpha)

    def tags(self) -> dict[str, str]:
        """The mask's shares and how shadows were found, for the output's GeoTIFF tags (after the last row)."""
        valid = max(1, self.counts["valid"])
        source = "file" if self.reader.inputs.mask is not None else "scl" if self.scl else (self.method or "none")
        detected = {"SARCLEAR_CLOUD_THRESHOLD": f"{self.threshold:g}"} if source not in ("file", "scl") else {}
        return {
            "SARCLEAR_CLOUD_MASK": {"file": "the --mask file", "scl": "the product's scene classification (SCL)"}.get(source, source),
            **detected,
            "SARCLEAR_CLOUD_PCT": f"{100.0 * self.counts['cloud'] / valid:.2f}",
            "SARCLEAR_SHADOW_PCT": f"{100.0 * self.counts['shadow'] / valid:.2f}",
            "SARCLEAR_SHADOWS": self._shadow_how,
        }

    def _mask(self, m0: int, m1: int, cols: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cloud, shadow and validity of one chunk with its context."""
        if self.reader.inputs.mask is not None:
            if self.method is None:
                self.method = "file"
                self.log(f"cloud mask: from {self.reader.inputs.mask.path.name} (nonzero = cloud)")
            mask = self.reader.mask(m0, m1, cols)
            rgb = self.reader.s2(m0, m1, self.reader.inputs.rgb_bands, cols)
            self._tally(rgb, mask)
            return mask, np.zeros_like(mask), rgb.max(axis=0) > 0
        if self.scl:
            return self._scl_mask(m0, m1, cols)
        if self._choice is None:
            self._choice = detector_bands(self.reader.inputs.s2)
        dn = self.reader.s2(m0, m1, self._choice.indexes, cols)
        if self._method is None:
            self._method, _, warning = usable_method(self._choice, dn)
            if warning:
                self.log(f"WARNING: cloud mask: {warning}")
        dn = self._detector_stack(dn)
        mask, method = detect_clouds(dn, DETECT_SCALE, self._detect_method(), self.threshold)
        if self.method is None:
            self.method = method
            self.log(f"cloud mask: detected with {method} on {dn.shape[0]} bands at {DETECT_SCALE}x the pixel size ({self._choice.how}), "
                     f"probability above {self.threshold:g}")  # fmt: skip
            if self.shadow_dilation is not None:
                self._prepare_shadows()
        self._tally(dn, mask)
        valid = rgb_planes(dn).max(axis=0) > 0
        if self.shadow_dilation is None or self._reference is None:
            return mask, np.zeros_like(mask), valid
        planes = self._shadow_planes(dn, lambda bands: self.reader.s2(m0, m1, bands, cols))
        shadow = shadows.shadow_mask(planes, mask, valid, self._reference, steps=self._steps, dilation=self.shadow_dilation)
        return mask, shadow, valid

    def _scl_mask(self, m0: int, m1: int, cols: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cloud and shadow from the product's Scene Classification: classes `SCL_CLOUD` dilated as a
        detected mask is, class `SCL_SHADOW` dilated by the shadow dilation (none with shadows off)."""
        classes = self.reader.scl(m0, m1, cols)
        if self.method is None:
            self.method = "scl"
            self.log(f"cloud mask: the product's scene classification ({Path(str(self.reader.inputs.scl)).name}: classes "
                     f"{', '.join(map(str, SCL_CLOUD))} cloud, dilated {DEFAULT_DILATION_SIZE} px; --no-scl detects clouds instead)")  # fmt: skip
            self._shadow_how = ("off (--no-shadows)" if self.shadow_dilation is None else
                                f"the product's scene classification, class {SCL_SHADOW}, dilated {self.shadow_dilation} px")  # fmt: skip
        rgb = self.reader.s2(m0, m1, self.reader.inputs.rgb_bands, cols)
        valid = (rgb.max(axis=0) > 0) & (classes != SCL_NODATA)
        cloud = dilate(np.isin(classes, SCL_CLOUD), DEFAULT_DILATION_SIZE) & valid
        shadow = np.zeros_like(cloud)
        if self.shadow_dilation is not None:
            shadow = dilate(classes == SCL_SHADOW, self.shadow_dilation) & valid & ~cloud
        self._tally(rgb, cloud)
        return cloud, shadow, valid

    def _prepare_shadows(self) -> None:
        """The clear land's reference level (one decimated read of the scene) and the sun's direction."""
        inputs = self.reader.inputs
        self._shadow_bands = shadow_band_indexes(inputs.s2)
        if "B8" not in self._shadow_bands and not all(b in self._shadow_bands for b in ("B4", "B3", "B2")):
            self._shadow_how = "none: the S2 input has neither B8 nor B4, B3, B2 named"
            return
        assert self._choice is not None and self._method is not None
        stack = self.reader.s2_decimated(self._choice.indexes, REFERENCE_PX)
        planes = self._shadow_planes(stack, lambda bands: self.reader.s2_decimated(bands, REFERENCE_PX))
        cloud, _ = detect_clouds(self._detector_stack(stack), DETECT_SCALE, self._detect_method(), self.threshold)
        valid = np.min(list(planes.values()), axis=0) > 0
        self._reference = shadows.reference_levels(planes, valid & ~cloud)
        if self._reference is None:
            self._shadow_how = f"none: fewer than {shadows.MIN_REFERENCE_PIXELS} clear land pixels to judge darkness by"
            self.log(f"cloud shadows: {self._shadow_how}")
            return
        self._steps = shadows.shadow_steps(inputs.sun, row_spacing_metres(inputs.s2.crs, inputs.s2.transform), shadows.SEARCH_PX) if _north_up(inputs.s2) else None
        used = "B8 and B11" if "B11" in self._shadow_bands and "B8" in self._shadow_bands else "B8" if "B8" in self._shadow_bands else "mean RGB"
        where = (f"projected away from the sun (zenith {inputs.sun.zenith:.1f}°, azimuth {inputs.sun.azimuth:.1f}°, MTD_TL.xml)"
                 if self._steps is not None and inputs.sun is not None else "in any direction (no sun angles)")  # fmt: skip
        self._shadow_how = (f"{used} below {shadows.DARK_FRACTION:.0%} of the clear land's median "
                            f"({', '.join(f'{v:.3f}' for v in self._reference)}), within {shadows.SEARCH_PX} px of a cloud "
                            f"{where}, dilated {self.shadow_dilation} px")  # fmt: skip
        self.log(f"cloud shadows: {self._shadow_how}")

    def _detector_stack(self, dn: np.ndarray) -> np.ndarray:
        """The bands of `dn` (read with the choice's indexes) that the usable method reads."""
        if self._method == "brightness" and dn.shape[0] != 3:
            return rgb_planes(dn)
        if self._method == SPECTRAL and dn.shape[0] == 13:
            return dn[list(SPECTRAL_POSITIONS)]
        return dn

    def _detect_method(self) -> str:
        """What `detect_clouds` is asked for: the usable method, 'auto' for s2cloudless (its fallbacks)."""
        return "auto" if self._method == "s2cloudless" or self._method is None else self._method

    def _shadow_planes(self, dn: np.ndarray, read: Callable[[tuple[int, ...]], np.ndarray]) -> dict[str, np.ndarray]:
        """The shadow test's bands for the pixels of the detector's stack `dn`: taken from it when it is
        the 13-band stack (SEN12MS-CR order) or the spectral test's six bands, which hold them, else
        read with `read(indexes)`."""
        if dn.shape[0] == 13:
            return {name: dn[S2_BANDS.index(name)] for name in shadows.SHADOW_BANDS}
        if dn.shape[0] == len(SPECTRAL_BANDS) and self._method == SPECTRAL:  # the spectral test's bands hold them too
            return {name: dn[SPECTRAL_BANDS.index(name)] for name in shadows.SHADOW_BANDS}
        return dict(zip(self._shadow_bands, read(tuple(self._shadow_bands.values()))))

    def _tally(self, dn: np.ndarray, mask: np.ndarray) -> None:
        """Count toward `bright_scene_warning` over the whole scene (margins are counted twice: harmless
        for a share), and say it once the last strip is done."""
        rgb = rgb_planes(dn)
        valid = rgb.max(axis=0) > 0
        mean = rgb.astype(np.float32).mean(axis=0) / np.float32(REFLECTANCE_SCALE)
        self._cloudy |= bool(mask.any())
        self._valid += int(valid.sum())
        self._bright += int((valid & (mean > BRIGHT_HIGH)).sum())

    def _scene_done(self) -> None:
        tags = self.tags()
        self.log(f"mask: {tags['SARCLEAR_CLOUD_PCT']} % cloud, {tags['SARCLEAR_SHADOW_PCT']} % cloud shadow of the valid pixels")
        if self._cloudy or not self._valid or self._bright < BRIGHT_SCENE_SHARE * self._valid:
            return
        share = 100.0 * self._bright / self._valid
        self.log(f"WARNING: the cloud mask finds 0 % cloud, but {share:.0f} % of the scene is brighter than {BRIGHT_HIGH:g} "
                 "mean visible reflectance: overcast, snow, or a radiometric offset (--s2-offset)? check it, or pass --mask FILE")


def check_threshold(threshold: float) -> float:
    """`--cloud-threshold` as given, or a one-line usage error: a probability strictly inside (0, 1)."""
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"--cloud-threshold {threshold:g}: must be a cloud probability between 0 and 1 (default {DEFAULT_THRESHOLD:g})")
    return float(threshold)


def detect_clouds(dn: np.ndarray, scale: int, method: str = "auto", threshold: float = DEFAULT_THRESHOLD) -> tuple[np.ndarray, str]:
    """`(H, W)` bool cloud mask of a `(bands, H, W)` DN stack, the probability evaluated on `scale` x `scale`
    block means and the post-processing (disk average, `> threshold`, dilation) done at full resolution."""
    from sarclear.data.clouds import cloud_probability, mask_from_probability

    bands, h, w = dn.shape
    pad_h, pad_w = -h % scale, -w % scale
    padded = np.pad(dn.astype(np.float32), ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
    pooled = padded.reshape(bands, (h + pad_h) // scale, scale, (w + pad_w) // scale, scale).mean(axis=(2, 4))
    prob, method = cloud_probability(pooled, method=method)
    full = np.repeat(np.repeat(prob, scale, axis=0), scale, axis=1)[:h, :w]
    return mask_from_probability(full, threshold=threshold), method


def _north_up(info: RasterInfo) -> bool:
    """Rows run south and columns east (no rotation): the shadow's direction maps onto the grid."""
    t = info.transform
    return t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0 and info.crs is not None
