"""Which bands of a Sentinel-2 raster feed the cloud detector, and so which detector runs.

One decision, used by `curate`, `evaluate` and `predict` alike (it used to be made three times, by
band count alone). s2cloudless is a pixel classifier trained on the 13 Level-1C bands; fed a band
that is missing or padded (an L2A product has no B10, and B10 filled with zeros makes s2cloudless
report 0 % cloud on a fully overcast scene, issue 12), it answers confidently and wrongly. So:

1. **Band descriptions first.** Canonical names (`B1` ... `B12`, `B8A`; `B04`, `..._B04` and
   `red`/`green`/`blue` are understood). All 13 named -> s2cloudless, bands reordered to SEN12MS-CR
   order. No B10 but B4, B3, B2, B8, B11 and B12 named -> the spectral test
   (`clouds.spectral_probability`, Fmask's tests without the thermal band); for the 12 bands of an
   L2A product (all but B10) the choice is *loud* (the caller logs it as a warning: keep the SCL
   beside the bands or use `--mask FILE` for a better mask). B4, B3, B2 named with some other
   bands but not all 13 (an L1C product with a band file missing: B10 there means top-of-atmosphere
   data, which the spectral test misjudges) -> the RGB brightness test, loudly, naming the missing
   bands. B4, B3, B2 alone -> the brightness test, quietly.
2. **Band count second**, when the descriptions name no band: 13 -> the SEN12MS-CR stack;
   12 -> an L2A stack in SEN12MS-CR order without B10 (spectral test, loud); 3 -> R, G, B.

`constant_model_band` is the pixel-level half of the rule: a 13-band stack whose B10 (or any band
s2cloudless reads) is one value everywhere while the scene is not is a padded band, and must not
reach s2cloudless either (the brightness test runs instead: see `usable_method` for why not the
spectral one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarclear.data.bands import RGB_NAMES, S2_BANDS, S2_RGB_POSITIONS, _normalise_name
from sarclear.data.shadows import SHADOW_BANDS
from sarclear.errors import RasterError
from sarclear.io.geotiff import RasterInfo
from sarclear.io.product import canonical_band

#: The ten bands s2cloudless's model reads (its `MODEL_BAND_IDS`: B1, B2, B4, B5, B8, B8A, B9,
#: B10, B11, B12), as 0-based indexes of the 13-band SEN12MS-CR stack.
MODEL_BAND_POSITIONS: tuple[int, ...] = (0, 1, 3, 4, 7, 8, 9, 10, 11, 12)
#: RGB (B4, B3, B2) as 0-based positions of the 13-band stack.
RGB_POSITIONS: tuple[int, int, int] = S2_RGB_POSITIONS
L2A_BANDS: tuple[str, ...] = tuple(b for b in S2_BANDS if b != "B10")
#: The spectral test's name and bands (`clouds.spectral_probability`), RGB first so that `stack[:3]`
#: is B4, B3, B2 as in an RGB stack; and their 0-based positions in the 13-band stack.
SPECTRAL = "spectral"
SPECTRAL_BANDS: tuple[str, ...] = ("B4", "B3", "B2", "B8", "B11", "B12")
SPECTRAL_POSITIONS: tuple[int, ...] = tuple(S2_BANDS.index(b) for b in SPECTRAL_BANDS)
NO_B10_ADVICE = (
    "s2cloudless needs all 13 L1C bands and this file has no B10 (an L2A product?), so the cloud mask comes from "
    "Fmask's spectral tests without B10, which miss thin cirrus and can flag bright roofs and roads; "
    "keep the product's SCL beside the bands or pass --mask FILE for a better one"
)


@dataclass(frozen=True)
class DetectorBands:
    """What to read for cloud detection: 1-based raster `indexes` in detector order, and the `method`.

    `method` is 's2cloudless' (indexes = the 13 bands in SEN12MS-CR order), 'spectral' (indexes =
    `clouds.SPECTRAL_BANDS`: B4, B3, B2, B8, B11, B12) or 'brightness' (indexes = B4, B3, B2). `how` says how the choice was made, for the log; `loud` is True when
    s2cloudless was wanted but the bands are not there (the caller should warn, not just inform).
    """

    indexes: tuple[int, ...]
    method: str
    how: str
    loud: bool = False


def _canonical(description: str | None) -> str | None:
    return canonical_band(description) or _normalise_name(description)


def detector_bands(info: RasterInfo) -> DetectorBands:
    """The detector and its bands for the S2 raster `info` (see the module docstring for the rules)."""
    names = [_canonical(d) for d in info.descriptions]
    position = {name: i + 1 for i, name in reversed(list(enumerate(names))) if name}
    if all(b in position for b in S2_BANDS):
        indexes = tuple(position[b] for b in S2_BANDS)
        return DetectorBands(indexes, "s2cloudless", "the 13 L1C bands found by band description")
    missing = [b for b in S2_BANDS if b not in position]
    if "B10" not in position and all(b in position for b in SPECTRAL_BANDS):
        spectral = tuple(position[b] for b in SPECTRAL_BANDS)
        if all(b in position for b in L2A_BANDS):
            return DetectorBands(spectral, SPECTRAL, f"12 bands named, no B10: {NO_B10_ADVICE}", loud=True)
        return DetectorBands(spectral, SPECTRAL, f"{', '.join(SPECTRAL_BANDS)} found by band description at bands {spectral}")
    rgb = tuple(position[b] for b in RGB_NAMES) if all(b in position for b in RGB_NAMES) else None
    if rgb is not None and len(position) > len(RGB_NAMES):
        # More than RGB but not all 13: an L1C product with a band file missing (B10 is there, so
        # this is top-of-atmosphere data, where the spectral test's haze test fails: 94 % cloud on a
        # genuine 66 % scene without its B8A). Loud, naming what is missing, so it can be copied again.
        return DetectorBands(rgb, "brightness", f"no {', '.join(missing)} among its bands, so s2cloudless (which needs all 13 "
                             "L1C bands) cannot run and the cloud mask comes from the RGB brightness test, which misses thin "
                             f"cloud; copy the missing band file(s) again, or pass --mask FILE", loud=True)  # fmt: skip
    if rgb is not None:
        return DetectorBands(rgb, "brightness", f"RGB found by band description at bands {rgb}")
    if any(position):
        missing = [b for b in RGB_NAMES if b not in position]
        raise RasterError(info.path, f"band descriptions {list(info.descriptions)} lack {', '.join(missing)}; "
                          "the cloud mask needs B4, B3, B2 (or all 13 L1C bands)")
    if info.count == 13:
        return DetectorBands(tuple(range(1, 14)), "s2cloudless", "13 bands without descriptions, taken in SEN12MS-CR order")
    if info.count == 12:
        spectral = tuple(L2A_BANDS.index(b) + 1 for b in SPECTRAL_BANDS)
        return DetectorBands(
            spectral, SPECTRAL, f"12 bands without descriptions, taken as L2A (B1 ... B12 less B10): {NO_B10_ADVICE}", loud=True
        )
    if info.count == 3:
        return DetectorBands((1, 2, 3), "brightness", "3 bands without descriptions, taken as R, G, B")
    raise RasterError(info.path, f"wrong band count for a cloud mask: has {info.count}, expected 13 (L1C), 12 (L2A) or 3 (RGB)")


def shadow_band_indexes(info: RasterInfo) -> dict[str, int]:
    """Band name -> 1-based index of the bands `sarclear.data.shadows` reads (B2 B3 B4 B8 B11) that
    `info` holds: by band description first, then by count (13 = SEN12MS-CR order, 12 = L2A order
    without B10, 3 = R, G, B). The shadow test works with RGB alone, better with B8 and B11."""
    names = [_canonical(d) for d in info.descriptions]
    if any(names):
        position = {name: i + 1 for i, name in reversed(list(enumerate(names))) if name}
        return {b: position[b] for b in SHADOW_BANDS if b in position}
    order = {13: S2_BANDS, 12: L2A_BANDS, 3: ("B4", "B3", "B2")}.get(info.count, ())
    return {b: order.index(b) + 1 for b in SHADOW_BANDS if b in order}


def constant_model_band(stack13: np.ndarray) -> str | None:
    """Name of a band s2cloudless reads that is one value over the whole `(13, H, W)` stack, or None.

    Only meaningful when the scene itself varies (a tile that is all fill has every band constant,
    and is not a padded one): returns None when every band is constant.
    """
    flat = stack13.reshape(stack13.shape[0], -1)
    if flat.shape[1] < 2:
        return None
    constant = (flat == flat[:, :1]).all(axis=1)
    if constant.all():
        return None
    for pos in MODEL_BAND_POSITIONS:
        if constant[pos]:
            return S2_BANDS[pos]
    return None


def usable_method(choice: DetectorBands, stack: np.ndarray) -> tuple[str, np.ndarray, str | None]:
    """`(method, stack, warning)` for detection on `stack` (read with `choice.indexes`, `(C, H, W)`).

    A 13-band stack with a padded band (see `constant_model_band`) is demoted to the brightness test
    on its B4, B3, B2 with a warning. Not to the spectral test: such a stack may be an L2A product
    padded by a script (surface reflectance, where that test works) or top-of-atmosphere L1C with a
    broken band, where its haze test flags clear land (40-87 % of the synthetic clear summer tiles,
    whose constant B10 made them look padded). Anything else passes through, with `choice.how` as
    the warning when the choice itself was loud. The returned stack holds the method's bands only
    (see `rgb_planes`).
    """
    if choice.method == "s2cloudless":
        band = constant_model_band(stack)
        if band is not None:
            warning = (f"{band} is one value over the whole image (a padded band?); s2cloudless would report no "
                       "cloud, so the cloud mask comes from the RGB brightness test; pass --mask FILE for a better one")
            return "brightness", stack[list(RGB_POSITIONS)], warning
    return choice.method, stack, (choice.how if choice.loud else None)


def rgb_planes(stack: np.ndarray) -> np.ndarray:
    """B4, B3, B2 of a detector stack as `usable_method` returns it: the 13-band SEN12MS-CR stack,
    the spectral test's six bands (RGB first) or RGB itself."""
    return stack[list(RGB_POSITIONS)] if stack.shape[0] == 13 else stack[:3]
