"""Cloud probability, cloud masks and cloud cover of Sentinel-2 L1C tiles.

Two detectors, one post-processing:

* ``s2cloudless`` (Sentinel Hub's LightGBM pixel classifier, Zupanc 2017; the model file ships inside
  the `s2cloudless` package, nothing is downloaded). It needs the 13 L1C bands as top-of-atmosphere
  reflectance (DN / 10000). This is the detector the SEN12MS-CR literature uses: UnCRtainTS
  (PatrickTUM/UnCRtainTS, `data/dataLoader.py`) builds
  ``S2PixelCloudDetector(threshold=0.4, all_bands=True, average_over=4, dilation_size=2)``,
  which are this module's defaults.
* ``brightness``, the fallback when only RGB is available (a user's own 3-band export) or
  s2cloudless cannot be imported. See `brightness_probability` for the test and its sources.

Both probability maps go through the same post-processing as s2cloudless's
``get_mask_from_prob``: averaging with a disk of radius ``average_over`` (reflected borders),
threshold, dilation with a disk of radius ``dilation_size``. It is re-implemented here in numpy so
that the fallback works without OpenCV; a test checks it matches s2cloudless pixel for pixel.

Input everywhere: DN (reflectance x 10000), channel-first ``(C, H, W)``, either the 13-band stack
in SEN12MS-CR order (B1 ... B12) or RGB (B4, B3, B2).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sarclear.data.bands import RGB_NAMES, S2_BANDS, S2_RGB_POSITIONS, _normalise_name
from sarclear.data.normalize import REFLECTANCE_SCALE
from sarclear.errors import ConfigError

METHODS: tuple[str, ...] = ("auto", "s2cloudless", "brightness")
#: Defaults of the SEN12MS-CR literature (UnCRtainTS `data/dataLoader.py`, see module docstring).
DEFAULT_THRESHOLD = 0.4
DEFAULT_AVERAGE_OVER = 4
DEFAULT_DILATION_SIZE = 2

#: Brightness test constants (reflectance). Clear land rarely has a *mean visible* TOA reflectance
#: above 0.15 (vegetation 0.03-0.08, bare soil 0.10-0.20 in red, less in blue); optically thick
#: cloud is above 0.3 (Zhu & Woodcock 2012, Fmask, use 0.3 in the "bright" branch of their test).
BRIGHT_LOW = 0.15
BRIGHT_HIGH = 0.30
#: Fmask's whiteness test (Zhu & Woodcock 2012, eq. 2): sum_i |b_i - mean| / mean over the visible
#: bands is below 0.7 for clouds, which are spectrally flat; coloured bright surfaces are not.
WHITENESS_MAX = 0.7


def s2cloudless_available() -> bool:
    """True when `s2cloudless` (and so LightGBM and its bundled model) can be imported."""
    try:
        import s2cloudless  # noqa: F401
    except (ImportError, OSError):  # not installed, or a broken dependency (cv2, LightGBM's libgomp)
        return False
    return True


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    """One S2PixelCloudDetector per process: loading the LightGBM model costs ~0.1 s."""
    from s2cloudless import S2PixelCloudDetector

    return S2PixelCloudDetector(
        threshold=DEFAULT_THRESHOLD, all_bands=True, average_over=DEFAULT_AVERAGE_OVER, dilation_size=DEFAULT_DILATION_SIZE
    )


def order_bands(dn: np.ndarray, band_names: Sequence[str] | None) -> np.ndarray:
    """Return a 13-band stack in SEN12MS-CR order or a 3-band stack in B4, B3, B2 order."""
    if dn.ndim != 3:
        raise ValueError(f"expected a (bands, H, W) array, got shape {dn.shape}")
    if band_names is None:
        if dn.shape[0] not in (3, 13):
            raise ValueError(f"expected 13 (L1C stack) or 3 (RGB) bands, got {dn.shape[0]}; pass band_names")
        return dn
    names = [_normalise_name(n) for n in band_names]
    if len(names) != dn.shape[0]:
        raise ValueError(f"{len(names)} band names for {dn.shape[0]} bands")
    if all(b in names for b in S2_BANDS):
        return dn[[names.index(b) for b in S2_BANDS]]
    if all(b in names for b in RGB_NAMES):
        return dn[[names.index(b) for b in RGB_NAMES]]
    raise ValueError(f"band names {list(band_names)} hold neither the 13 L1C bands nor B4, B3, B2")


def _rgb(dn: np.ndarray) -> np.ndarray:
    """B4, B3, B2 of an ordered 13- or 3-band stack."""
    return dn[list(S2_RGB_POSITIONS)] if dn.shape[0] == 13 else dn


def brightness_probability(rgb_dn: np.ndarray) -> np.ndarray:
    """Cloud-likeness in [0, 1] from RGB alone: bright AND spectrally flat (white/grey).

    Why this test: without SWIR and cirrus bands the two properties that separate opaque cloud from
    land in the visible are brightness and whiteness. Fmask (Zhu & Woodcock 2012, Remote Sensing of
    Environment 118) uses exactly these visible-band tests in its first pass. Here they are made soft
    so that the same 0.4 threshold and smoothing as s2cloudless apply:

    * brightness score: mean visible reflectance ramped linearly from 0 at `BRIGHT_LOW` (0.15) to 1
      at `BRIGHT_HIGH` (0.30);
    * whiteness score: ``1 - whiteness / 0.7`` clipped to [0, 1], whiteness as in Fmask.

    The product is the probability. Known limits (documented in docs/curate.md): thin haze that only
    slightly brightens the ground stays under the threshold, and snow and white roofs are flagged.
    """
    refl = np.nan_to_num(rgb_dn.astype(np.float32) / np.float32(REFLECTANCE_SCALE), nan=0.0, posinf=0.0, neginf=0.0)
    mean = refl.mean(axis=0)
    bright = np.clip((mean - BRIGHT_LOW) / (BRIGHT_HIGH - BRIGHT_LOW), 0.0, 1.0)
    whiteness = np.abs(refl - mean).sum(axis=0) / np.maximum(mean, 1e-6)
    white = np.clip(1.0 - whiteness / WHITENESS_MAX, 0.0, 1.0)
    return (bright * white).astype(np.float32)


def _s2cloudless_probability(dn13: np.ndarray, num_threads: int | None) -> np.ndarray:
    refl = np.nan_to_num(dn13.astype(np.float32) / np.float32(REFLECTANCE_SCALE), nan=0.0, posinf=0.0, neginf=0.0)
    kwargs = {"num_threads": num_threads} if num_threads else {}
    prob = _detector().get_cloud_probability_maps(np.moveaxis(refl, 0, -1)[None], **kwargs)[0]
    return prob.astype(np.float32)


def resolve_method(method: str, band_count: int) -> str:
    """The detector `method` means for a stack of `band_count` bands ('auto' picks the best one)."""
    if method not in METHODS:
        raise ConfigError(f"unknown cloud method {method!r}; expected one of {', '.join(METHODS)}")
    if method == "brightness":
        return "brightness"
    if method == "s2cloudless":
        if band_count != 13:
            raise ConfigError(f"cloud method s2cloudless needs the 13 L1C bands, got {band_count}; use brightness or auto")
        if not s2cloudless_available():
            raise ConfigError("cloud method s2cloudless requested but the s2cloudless package cannot be imported")
        return "s2cloudless"
    return "s2cloudless" if band_count == 13 and s2cloudless_available() else "brightness"


def cloud_probability(
    dn: np.ndarray,
    *,
    band_names: Sequence[str] | None = None,
    method: str = "auto",
    num_threads: int | None = None,
) -> tuple[np.ndarray, str]:
    """`(H, W)` float32 cloud probability in [0, 1] of a DN stack, and the method used.

    `dn` is `(13, H, W)` in SEN12MS-CR order or `(3, H, W)` B4, B3, B2, unless `band_names` says
    otherwise. `method` is 'auto' (s2cloudless when 13 bands and importable, else brightness),
    's2cloudless' or 'brightness'. `num_threads` caps LightGBM's threads (1 inside a process pool).
    """
    ordered = order_bands(np.asarray(dn), band_names)
    used = resolve_method(method, ordered.shape[0])
    if used == "s2cloudless":
        return _s2cloudless_probability(ordered, num_threads), used
    return brightness_probability(_rgb(ordered)), used


def disk(radius: int) -> np.ndarray:
    """Boolean disk of `radius` pixels, identical to s2cloudless's `cv2_disk` (x^2 + y^2 <= r^2)."""
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (x * x + y * y) <= radius * radius


def _shifts(kernel: np.ndarray) -> list[tuple[int, int]]:
    r = kernel.shape[0] // 2
    return [(int(dy) - r, int(dx) - r) for dy, dx in zip(*np.nonzero(kernel))]


def smooth_probability(prob: np.ndarray, average_over: int) -> np.ndarray:
    """Mean of `prob` over a disk of radius `average_over`, borders reflected (OpenCV BORDER_REFLECT)."""
    if not average_over:
        return prob.astype(np.float32)
    kernel = disk(average_over)
    r = average_over
    padded = np.pad(prob.astype(np.float32), r, mode="symmetric")
    h, w = prob.shape
    total = np.zeros((h, w), dtype=np.float32)
    for dy, dx in _shifts(kernel):
        total += padded[r + dy : r + dy + h, r + dx : r + dx + w]
    return total / np.float32(kernel.sum())


def dilate(mask: np.ndarray, dilation_size: int) -> np.ndarray:
    """Binary dilation by a disk of radius `dilation_size`; pixels outside the tile count as clear."""
    if not dilation_size:
        return mask.astype(bool)
    r = dilation_size
    padded = np.pad(mask.astype(bool), r, mode="constant", constant_values=False)
    h, w = mask.shape
    out = np.zeros((h, w), dtype=bool)
    for dy, dx in _shifts(disk(r)):
        out |= padded[r + dy : r + dy + h, r + dx : r + dx + w]
    return out


def mask_from_probability(
    prob: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    average_over: int = DEFAULT_AVERAGE_OVER,
    dilation_size: int = DEFAULT_DILATION_SIZE,
) -> np.ndarray:
    """s2cloudless's post-processing: disk average, `> threshold`, disk dilation -> `(H, W)` bool."""
    return dilate(smooth_probability(prob, average_over) > threshold, dilation_size)


def cloud_mask(
    dn: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    average_over: int = DEFAULT_AVERAGE_OVER,
    dilation_size: int = DEFAULT_DILATION_SIZE,
    method: str = "auto",
    band_names: Sequence[str] | None = None,
    num_threads: int | None = None,
) -> tuple[np.ndarray, str]:
    """`(H, W)` bool cloud mask of a DN stack and the method used (defaults as in the literature)."""
    prob, used = cloud_probability(dn, band_names=band_names, method=method, num_threads=num_threads)
    return mask_from_probability(prob, threshold=threshold, average_over=average_over, dilation_size=dilation_size), used


def cloud_cover_pct(mask: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Percentage (0-100) of valid pixels that are cloudy; NaN when no pixel is valid."""
    mask = np.asarray(mask, dtype=bool)
    if valid is None:
        return 100.0 * float(mask.mean()) if mask.size else math.nan
    valid = np.asarray(valid, dtype=bool)
    n_valid = int(valid.sum())
    if n_valid == 0:
        return math.nan
    return 100.0 * float((mask & valid).sum()) / n_valid
