"""Cloud probability, cloud masks and cloud cover of Sentinel-2 L1C tiles.

Detectors, one post-processing:

* ``s2cloudless-reference``: Sentinel Hub's LightGBM pixel classifier (Zupanc 2017) run by the
  `s2cloudless` package itself. The model file ships inside that package; nothing is downloaded.
  It needs the 13 L1C bands as top-of-atmosphere reflectance (DN / 10000). This is the detector the
  SEN12MS-CR literature uses: UnCRtainTS (PatrickTUM/UnCRtainTS, `data/dataLoader.py`) builds
  ``S2PixelCloudDetector(threshold=0.4, all_bands=True, average_over=4, dilation_size=2)``,
  which are this module's defaults.
* ``s2cloudless``: the *same booster file*, compiled to native code (`s2cloudless_fast`), many
  tiles per call. Same probabilities (tested on genuine tiles), several times faster: LightGBM's
  per-pixel prediction is almost all of the cost of curation. When the compiled path is not
  installed, 's2cloudless' runs the reference instead (said once in the log).
* ``spectral``, for input without the 13 L1C bands that still has B2, B3, B4, B8, B11 and B12
  (L2A products, which have no B10: see `cloud_bands`): Fmask's potential-cloud-pixel tests
  without the thermal band. See `spectral_probability` for the tests and what was measured.
* ``brightness``, for input with only B4, B3, B2 (RGB exports). See `brightness_probability`.

Every probability map goes through s2cloudless's post-processing (`cloud_postprocess`).

Input everywhere: DN (reflectance x 10000), channel-first ``(C, H, W)`` (or a stack ``(N, C, H, W)``
for `cloud_probabilities`): the 13-band stack in SEN12MS-CR order (B1 ... B12), the six bands of
the spectral test in `SPECTRAL_BANDS` order (B4, B3, B2, B8, B11, B12), or RGB (B4, B3, B2).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sarclear.data import s2cloudless_fast
from sarclear.data.bands import RGB_NAMES, S2_BANDS, S2_RGB_POSITIONS, _normalise_name
from sarclear.data.cloud_bands import MODEL_BAND_POSITIONS, SPECTRAL, SPECTRAL_BANDS, SPECTRAL_POSITIONS
from sarclear.data.cloud_postprocess import dilate, disk, smooth_probability
from sarclear.data.normalize import toa_reflectance
from sarclear.errors import ConfigError

__all__ = ["dilate", "disk", "smooth_probability"]  # re-exported: callers know them from here

LOG = logging.getLogger(__name__)
REFERENCE = "s2cloudless-reference"
METHODS: tuple[str, ...] = ("auto", "s2cloudless", REFERENCE, SPECTRAL, "brightness")
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
#: Fmask's potential-cloud-pixel and snow thresholds (Zhu & Woodcock 2012, eqs. 1-5), reflectance;
#: see `spectral_probability`.
FMASK_SWIR2_MIN = 0.03
FMASK_INDEX_MAX = 0.8
FMASK_HOT_OFFSET = 0.08
FMASK_NIR_SWIR_MIN = 0.75
FMASK_SNOW_NDSI = 0.15
FMASK_SNOW_NIR = 0.11
FMASK_SNOW_GREEN = 0.1
#: `bright_scene_warning`: share of valid pixels above BRIGHT_HIGH that makes "0 % cloud" suspicious.
BRIGHT_SCENE_SHARE = 0.95


def s2cloudless_available() -> bool:
    """True when `s2cloudless` (and so LightGBM and its bundled model) can be imported."""
    try:
        import s2cloudless  # noqa: F401
    except (ImportError, OSError):  # not installed, or a broken dependency (cv2, LightGBM's libgomp)
        return False
    return True


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    """One S2PixelCloudDetector per process (the reference): loading the LightGBM model takes a while."""
    from s2cloudless import S2PixelCloudDetector

    return S2PixelCloudDetector(
        threshold=DEFAULT_THRESHOLD, all_bands=True, average_over=DEFAULT_AVERAGE_OVER, dilation_size=DEFAULT_DILATION_SIZE
    )


def order_bands(dn: np.ndarray, band_names: Sequence[str] | None) -> np.ndarray:
    """Return a 13-band stack in SEN12MS-CR order, a 6-band one in `SPECTRAL_BANDS` order or a 3-band
    stack in B4, B3, B2 order (the most bands `band_names` allow)."""
    if dn.ndim != 3:
        raise ValueError(f"expected a (bands, H, W) array, got shape {dn.shape}")
    if band_names is None:
        if dn.shape[0] not in (3, len(SPECTRAL_BANDS), 13):
            raise ValueError(f"expected 13 (L1C stack), 6 (B4, B3, B2, B8, B11, B12) or 3 (RGB) bands, got {dn.shape[0]}; pass band_names")
        return dn
    names = [_normalise_name(n) for n in band_names]
    if len(names) != dn.shape[0]:
        raise ValueError(f"{len(names)} band names for {dn.shape[0]} bands")
    if all(b in names for b in S2_BANDS):
        return dn[[names.index(b) for b in S2_BANDS]]
    if all(b in names for b in SPECTRAL_BANDS):
        return dn[[names.index(b) for b in SPECTRAL_BANDS]]
    if all(b in names for b in RGB_NAMES):
        return dn[[names.index(b) for b in RGB_NAMES]]
    raise ValueError(f"band names {list(band_names)} hold neither the 13 L1C bands nor B4, B3, B2")


def _rgb(dn: np.ndarray) -> np.ndarray:
    """B4, B3, B2 of an ordered 13-, 6- (`SPECTRAL_BANDS`) or 3-band stack (band axis -3)."""
    return dn[..., list(S2_RGB_POSITIONS), :, :] if dn.shape[-3] == 13 else dn[..., :3, :, :]


def _spectral(dn: np.ndarray) -> np.ndarray:
    """The `SPECTRAL_BANDS` of an ordered 13- or 6-band stack (band axis -3)."""
    return dn[..., list(SPECTRAL_POSITIONS), :, :] if dn.shape[-3] == 13 else dn


def spectral_probability(dn: np.ndarray) -> np.ndarray:
    """Cloud (1.0) or not (0.0) per pixel from B4, B3, B2, B8, B11, B12 (`(..., 6, H, W)` DN): Fmask's
    potential-cloud-pixel tests (Zhu & Woodcock 2012, Remote Sensing of Environment 118, eqs. 1-4)
    with their published thresholds, less the brightness-temperature test (Sentinel-2 has no thermal
    band), and less Fmask's snow pixels (eq. 5, also without its temperature test).

    Why: an L2A product has no B10, so s2cloudless cannot run (fed a padded B10 it reports 0 % on a
    fully overcast scene, issue 12), and visible brightness alone both misses grey overcast (10.5 %
    of the genuine Major-TOM N0400 scene, which is covered) and flags snow (63.5 % of the BigEarthNet
    snow patch). SWIR separates the two: snow is dark at 1.6 um (high NDSI), cloud is not.

    * basic test: B12 > 0.03, NDSI < 0.8, NDVI < 0.8;
    * whiteness (as in `brightness_probability`) < 0.7;
    * haze-optimised transform: B2 - 0.5 B4 - 0.08 > 0;
    * B8 / B11 > 0.75 (bright rock and soil are brighter at 1.6 um than in the NIR);
    * and not snow: NDSI > 0.15, B8 > 0.11, B3 > 0.1.

    The answer is 0 or 1; s2cloudless's post-processing (`mask_from_probability`) then makes it a
    mask like the others. Measured (docs/curate.md): thresholds were not tuned on the genuine scenes
    they were checked on. Known limits: bright urban surfaces and roads pass the tests (12.7 % of a
    clear SEN12MS-CR autumn tile, read as top-of-atmosphere L1C), thin cirrus that only the absent
    B10 sees is missed, and haze over dark land is flagged where s2cloudless leaves it. The haze
    test assumes little path radiance in the blue: on top-of-atmosphere data with a lot of it (the
    synthetic L1C tiles) it flags clear land, 40-87 % of the synthetic clear summer tiles. So it
    runs where B10 is missing (L2A, surface reflectance), never in place of s2cloudless on L1C.
    """
    refl = toa_reflectance(_spectral(dn)).astype(np.float32)
    red, green, blue, nir, swir1, swir2 = (refl[..., i, :, :] for i in range(6))
    mean = (red + green + blue) / 3
    whiteness = (np.abs(red - mean) + np.abs(green - mean) + np.abs(blue - mean)) / np.maximum(mean, 1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndsi = (green - swir1) / (green + swir1)
        ndvi = (nir - red) / (nir + red)
        nir_swir = nir / swir1
    basic = (swir2 > FMASK_SWIR2_MIN) & (ndsi < FMASK_INDEX_MAX) & (ndvi < FMASK_INDEX_MAX)
    cloud = basic & (whiteness < WHITENESS_MAX) & (blue - 0.5 * red - FMASK_HOT_OFFSET > 0) & (nir_swir > FMASK_NIR_SWIR_MIN)
    snow = (ndsi > FMASK_SNOW_NDSI) & (nir > FMASK_SNOW_NIR) & (green > FMASK_SNOW_GREEN)
    return (cloud & ~snow).astype(np.float32)


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
    refl = toa_reflectance(rgb_dn)
    mean = refl.mean(axis=-3)
    bright = np.clip((mean - BRIGHT_LOW) / (BRIGHT_HIGH - BRIGHT_LOW), 0.0, 1.0)
    whiteness = np.abs(refl - mean[..., None, :, :]).sum(axis=-3) / np.maximum(mean, 1e-6)
    white = np.clip(1.0 - whiteness / WHITENESS_MAX, 0.0, 1.0)
    return (bright * white).astype(np.float32)


def _is_16bit_integer(dn: np.ndarray) -> bool:
    """Whether every value is a whole number from 0 to 65535 (any dtype: float32 stacks of integer DN
    count), so the compiled booster can take its bins from its table of 16-bit DN."""
    if dn.dtype in (np.uint8, np.uint16):
        return True
    if dn.size == 0:
        return False
    low, high = dn.min(), dn.max()
    if not (0 <= low and high <= s2cloudless_fast.DN_VALUES - 1):  # also False for NaN
        return False
    return bool(np.issubdtype(dn.dtype, np.integer) or np.array_equal(dn, np.rint(dn)))


def _s2cloudless_probabilities(dn13: np.ndarray, method: str, num_threads: int | None) -> np.ndarray:
    """`(N, H, W)` float32 probabilities of a `(N, 13, H, W)` DN stack, all tiles in one call."""
    if method == "s2cloudless":
        planes = np.moveaxis(dn13[:, list(MODEL_BAND_POSITIONS)], 1, 0)  # (10, N, H, W), the booster's bands
        if _is_16bit_integer(planes):  # DN as the files hold them: bins from a table, no float pass
            return s2cloudless_fast.predict_dn(planes.astype(np.uint16, copy=False), num_threads).astype(np.float32)
        # Pixel-major (N*H*W, 10) rows of reflectance, as s2cloudless builds them.
        features = np.moveaxis(toa_reflectance(planes), 0, -1).reshape(-1, len(MODEL_BAND_POSITIONS))
        return s2cloudless_fast.predict(features, num_threads).reshape(planes.shape[1:]).astype(np.float32)
    refl = toa_reflectance(dn13)
    kwargs = {"num_threads": num_threads} if num_threads else {}
    return _detector().get_cloud_probability_maps(np.moveaxis(refl, 1, -1), **kwargs).astype(np.float32)


def _say_building(text: str) -> None:
    """The one-time build takes a few seconds: said on stderr (curate says it through its own log)."""
    LOG.warning("cloud method s2cloudless: %s", text)


@functools.cache
def _say_fallback(reason: str) -> None:
    LOG.warning("cloud method s2cloudless: the compiled path is unavailable (%s); running s2cloudless itself, "
                "same probabilities, several times slower", reason)


def prepare(method: str, log: Callable[[str], None] = lambda _: None) -> None:
    """Make `method` ready before work starts: for 's2cloudless', build (once, cached) and load the
    compiled booster, so that pool workers only load it and a failed build falls back cleanly."""
    if method == "s2cloudless":
        s2cloudless_fast.prepare(log)


def resolve_method(method: str, band_count: int) -> str:
    """The detector `method` means for a stack of `band_count` bands ('auto' picks the best one).

    's2cloudless' is the compiled booster when it is available, else `REFERENCE` (logged once).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown cloud method {method!r}; expected one of {', '.join(METHODS)}")
    if method == "brightness":
        return "brightness"
    if method == SPECTRAL or (method == "auto" and band_count == len(SPECTRAL_BANDS)):
        if band_count not in (13, len(SPECTRAL_BANDS)):
            raise ConfigError(f"cloud method spectral needs B4, B3, B2, B8, B11, B12 (or the 13 L1C bands), got {band_count} bands")
        return SPECTRAL
    if method in ("auto", "s2cloudless") and band_count == 13 and s2cloudless_fast.prepare(_say_building):
        return "s2cloudless"  # the compiled booster needs neither s2cloudless's import nor LightGBM's
    if method == "auto" and (band_count != 13 or not s2cloudless_available()):
        return "brightness"  # not the spectral test on 13 bands: top-of-atmosphere haze fails it (`spectral_probability`)
    if band_count != 13:
        raise ConfigError(f"cloud method {method} needs the 13 L1C bands, got {band_count}; use brightness or auto")
    if not s2cloudless_available():
        raise ConfigError(f"cloud method {method} requested but the s2cloudless package cannot be imported")
    if method == REFERENCE:
        return REFERENCE
    _say_fallback(str(s2cloudless_fast.unavailable_reason()))  # set: `prepare` above returned False
    return REFERENCE


def cloud_probabilities(
    dn: np.ndarray, *, method: str = "auto", num_threads: int | None = None
) -> tuple[np.ndarray, str]:
    """`(N, H, W)` float32 cloud probabilities of a `(N, 13, 6 or 3, H, W)` DN stack (ordered as
    `order_bands` returns), and the method used. One model call for all N tiles."""
    dn = np.asarray(dn)
    if dn.ndim != 4:
        raise ValueError(f"expected a (tiles, bands, H, W) array, got shape {dn.shape}")
    used = resolve_method(method, dn.shape[1])
    if used == "brightness":
        return brightness_probability(_rgb(dn)), used
    if used == SPECTRAL:
        return spectral_probability(dn), used
    return _s2cloudless_probabilities(dn, used, num_threads), used


def cloud_probability(
    dn: np.ndarray,
    *,
    band_names: Sequence[str] | None = None,
    method: str = "auto",
    num_threads: int | None = None,
) -> tuple[np.ndarray, str]:
    """`(H, W)` float32 cloud probability in [0, 1] of a DN stack, and the method used.

    `dn` is `(13, H, W)` in SEN12MS-CR order, `(6, H, W)` in `SPECTRAL_BANDS` order or `(3, H, W)`
    B4, B3, B2, unless `band_names` says otherwise. `method` is 'auto' (s2cloudless on 13 bands when
    importable, the spectral test on 6, brightness on 3), 's2cloudless', 's2cloudless-reference',
    'spectral' or 'brightness'. `num_threads` caps the model's threads
    (1 inside a process pool).
    """
    ordered = order_bands(np.asarray(dn), band_names)
    prob, used = cloud_probabilities(ordered[None], method=method, num_threads=num_threads)
    return prob[0], used


def mask_from_probability(
    prob: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    average_over: int = DEFAULT_AVERAGE_OVER,
    dilation_size: int = DEFAULT_DILATION_SIZE,
) -> np.ndarray:
    """s2cloudless's post-processing: disk average, `> threshold`, disk dilation -> bool, `(H, W)` or `(N, H, W)`."""
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


def bright_scene_warning(rgb_dn: np.ndarray, mask: np.ndarray, valid: np.ndarray | None = None) -> str | None:
    """A warning when `mask` finds no cloud at all although the RGB (`(3, H, W)` DN) is bright everywhere.

    Why: a detector fed the wrong radiometry (a padded band, an L2A product, a +1000 DN offset) can
    report 0 % on a fully overcast scene, and a `--composite` then returns the cloudy input unchanged
    (issue 12). Opaque cloud is above `BRIGHT_HIGH` mean visible reflectance, clear land rarely is,
    so `BRIGHT_SCENE_SHARE` of the valid pixels above it with no cloud found is suspicious (snow and
    white sand can do it too, hence a warning, not an error).
    """
    if np.asarray(mask).any():
        return None
    mean = toa_reflectance(rgb_dn).mean(axis=0)
    valid = np.ones(mean.shape, bool) if valid is None else np.asarray(valid, bool)
    if not valid.any():
        return None
    share = float((mean[valid] > BRIGHT_HIGH).mean())
    if share < BRIGHT_SCENE_SHARE:
        return None
    return (f"the cloud mask finds 0 % cloud, but {100 * share:.0f} % of the pixels are brighter than {BRIGHT_HIGH:g} "
            "mean visible reflectance: overcast, snow, or a radiometric offset (--s2-offset)? check it, or pass --mask FILE")


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
