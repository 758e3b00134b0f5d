"""Cloud shadows: pixels darker than the scene's clear land, close to a cloud, away from the sun.

Neither s2cloudless nor the RGB brightness test sees shadows, yet a `--composite` that keeps a
shadow as observed shows a dark smear beside every filled cloud. This is the simple geometric
approach used beside s2cloudless (the Google Earth Engine s2cloudless tutorial, and Sentinel Hub's
"Projecting cloud shadows from clouds", 2024), not Fmask's full object matching:

1. **Dark**: a pixel whose NIR (B8) *and* SWIR (B11) are both below `DARK_FRACTION` of the median of
   the scene's clear land pixels (the mean of B4, B3, B2 when the input has no NIR). Fmask's
   potential-shadow layer (Zhu & Woodcock 2012) rests on the same bands: direct sunlight is most of
   the NIR and SWIR signal, so a shadow removes most of it, while skylight keeps the visible bands
   brighter. The reference is relative (the tutorial's fixed NIR < 0.15 assumes surface reflectance
   and a vegetated scene); the median is robust to the shadows and water themselves.
2. **Not water**: Fmask's water test (eq. 5: NDVI < 0.01 and NIR < 0.11, or 0 < NDVI < 0.1 and
   NIR < 0.05), where B4 and B8 are present; water is as dark in NIR as a shadow.
3. **Near a cloud**: within `SEARCH_PX` (1 km at 10 m, the tutorial's CLD_PRJ_DIST) of the cloud
   mask; and where the sun's angles are known, only along the cloud mask projected away from the
   sun for cloud heights `CLOUD_HEIGHT_M` (Fmask's 200 m to 12 km), capped at the same distance.
   Dark water or forest far from clouds is never taken.
4. **Cleaned and dilated**: a 3 x 3 opening drops isolated dark pixels (on the s2cloudless test
   scene, an estuary, scattered dark pixels of mud and mangrove were most of the raw hits and,
   dilated, covered about ten times the area of what the opening keeps); then a dilation (predict's default: 5 px, 50 m,
   the tutorial's BUFFER), as shadow edges are soft and the darkness test misses the penumbra.

Pure numpy and scipy.ndimage (already installed with s2cloudless's LightGBM); DN in, bool out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sarclear.data.cloud_postprocess import dilate
from sarclear.data.normalize import toa_reflectance
from sarclear.io.sun_angles import SunAngles

#: A pixel is dark when each darkness band is below this fraction of the clear land's median: the
#: direct beam is most of the NIR / SWIR signal, so even a thin shadow halves it; dark but lit
#: land (forest beside crops) rarely falls that far below the scene's median.
DARK_FRACTION: float = 0.6
#: Farthest a shadow is looked for from its cloud, in pixels (1 km at 10 m: the Earth Engine
#: s2cloudless tutorial's CLD_PRJ_DIST, and rgeeExtra's cloudDist default).
SEARCH_PX: int = 100
#: Cloud-top heights a shadow is projected for (Fmask, Zhu & Woodcock 2012: 200 m to 12 km).
CLOUD_HEIGHT_M: tuple[float, float] = (200.0, 12_000.0)
#: Fewest clear land pixels that make a reference level; fewer (an overcast scene) -> no shadows.
MIN_REFERENCE_PIXELS: int = 100
#: Half-width of the fan of directions swept when the sun's azimuth is known: the satellite's view
#: angle shifts a cloud's apparent position too (parallax, not modelled), which turns the line a little.
AZIMUTH_FAN_DEG: float = 10.0
#: Band names this module reads, in the order a stack should hold them (any subset with B8 or RGB).
SHADOW_BANDS: tuple[str, ...] = ("B2", "B3", "B4", "B8", "B11")


def darkness_bands(bands: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The float32 reflectance planes the darkness test compares: B8 and B11 when present, else mean RGB."""
    if "B8" in bands:
        names = [n for n in ("B8", "B11") if n in bands]
        return [toa_reflectance(bands[n]) for n in names]
    return [np.mean([toa_reflectance(bands[n]) for n in ("B4", "B3", "B2")], axis=0)]


def water_pixels(bands: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fmask's water test (module docstring) where B4 and B8 are present; nothing is water without them."""
    if "B8" not in bands or "B4" not in bands:
        return np.zeros(next(iter(bands.values())).shape, dtype=bool)
    nir, red = toa_reflectance(bands["B8"]), toa_reflectance(bands["B4"])
    ndvi = (nir - red) / np.maximum(nir + red, np.float32(1e-6))
    return ((ndvi < 0.01) & (nir < 0.11)) | ((ndvi > 0) & (ndvi < 0.1) & (nir < 0.05))


def reference_levels(bands: Mapping[str, np.ndarray], clear: np.ndarray) -> tuple[float, ...] | None:
    """Median of each darkness band over `clear` land pixels (water left out); None when too few."""
    land = clear & ~water_pixels(bands)
    if int(land.sum()) < MIN_REFERENCE_PIXELS:
        return None
    return tuple(float(np.median(plane[land])) for plane in darkness_bands(bands))


def shadow_steps(sun: SunAngles | None, pixel_size_m: float, reach_px: int = SEARCH_PX) -> list[tuple[int, int]] | None:
    """`(dy, dx)` pixel offsets from a cloud to where its shadow may fall, one per pixel of distance,
    or None when the direction is unknown (no sun angles, or the sun at the zenith).

    The shadow of a cloud at height h lies h * tan(zenith) away, opposite the sun's azimuth: with
    rows growing southwards and columns eastwards (a north-up grid), at (+cos az, -sin az) per unit.
    The parallax of the satellite's own view angle (a few degrees for Sentinel-2) is not modelled;
    the dilation absorbs it.
    """
    if sun is None or not 0.0 < sun.zenith < 89.0:
        return None
    tan = math.tan(math.radians(sun.zenith))
    near = max(1, int(math.floor(CLOUD_HEIGHT_M[0] * tan / pixel_size_m)))
    far = min(reach_px, int(math.ceil(CLOUD_HEIGHT_M[1] * tan / pixel_size_m)))
    steps = set()
    for turn in (-AZIMUTH_FAN_DEG, 0.0, AZIMUTH_FAN_DEG):
        az = math.radians(sun.azimuth + turn)
        dy, dx = math.cos(az), -math.sin(az)
        steps |= {(round(d * dy), round(d * dx)) for d in range(near, max(near, far) + 1)}
    return sorted(steps, key=lambda s: abs(s[0]) + abs(s[1]))


def search_region(cloud: np.ndarray, steps: list[tuple[int, int]] | None, reach_px: int = SEARCH_PX) -> np.ndarray:
    """Where a shadow of `cloud` may fall: the cloud swept along `steps`, or (without a direction)
    every pixel within `reach_px` of it."""
    if not cloud.any():
        return np.zeros(cloud.shape, dtype=bool)
    if steps is None:
        from scipy import ndimage  # here, not at the top: the CLI imports this module for its defaults

        return ndimage.distance_transform_edt(~cloud) <= reach_px
    h, w = cloud.shape
    region = np.zeros_like(cloud, dtype=bool)
    for dy, dx in steps:
        if abs(dy) >= h or abs(dx) >= w:
            continue
        region[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] |= cloud[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    return region


def shadow_mask(
    bands: Mapping[str, np.ndarray],
    cloud: np.ndarray,
    valid: np.ndarray,
    reference: tuple[float, ...] | None,
    *,
    steps: list[tuple[int, int]] | None = None,
    reach_px: int = SEARCH_PX,
    dilation: int,
) -> np.ndarray:
    """`(H, W)` bool cloud-shadow mask (never on `cloud`, always `valid`) of DN planes `bands`
    (names of `SHADOW_BANDS`: B8 with B11 and B4 where present, else B4 B3 B2).

    `reference` is `reference_levels` of the scene's clear land; `steps` (from `shadow_steps`) the
    projection away from the sun, None to search every direction within `reach_px`.
    """
    cloud = np.asarray(cloud, dtype=bool)
    if reference is None or not cloud.any():
        return np.zeros(cloud.shape, dtype=bool)
    dark = np.ones(cloud.shape, dtype=bool)
    for plane, level in zip(darkness_bands(bands), reference):
        dark &= plane < np.float32(DARK_FRACTION * level)
    core = dark & ~water_pixels(bands) & valid & ~cloud & search_region(cloud, steps, reach_px)
    from scipy import ndimage

    core = ndimage.binary_opening(core, structure=np.ones((3, 3), dtype=bool))
    return dilate(core, dilation) & valid & ~cloud


def context_px(dilation: int, reach_px: int = SEARCH_PX) -> int:
    """Rows (and columns) of context a strip needs so that its shadows equal the whole scene's."""
    return reach_px + dilation + 2  # + the opening's reach
