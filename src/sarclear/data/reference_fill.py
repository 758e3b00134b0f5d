"""Fill clouds from a clear image of the same place on another date, matched to this one locally.

Why: a fill graded in from a cloud's edges (push-pull, `sarclear.data.hole_fill`) is smooth; the
fields, roads and villages under the cloud are lost, and a model fitted to one scene restores
them only as far as the radar shows them, blurred (docs/adapt.md). Another date of the same
place has them, in other colours (another sun, another crop stage, L2A against L1C). The colours
are matched the way gap-filling of Landsat 7's SLC-off scenes does it (local linear histogram
matching, Scaramuzza et al. 2004, USGS): in every window, a gain and an offset per band that carry
the reference onto this scene, fitted on the pixels clear in both. Here they are least-squares
fits (target ~ gain * reference + offset) with a small ridge on the gain, so a window of uniform
ground gets its local mean instead of amplified noise (matching mean and standard deviation
instead would stretch a flat window's noise to the target's spread).
Under a large cloud no window has support; there the gain and offset are graded in from the
windows around (push-pull), so colours change smoothly across the cloud. Pixels cloudy in both
images are graded in from everything known around them, as without a reference.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from sarclear.data.hole_fill import pushpull_fill

#: Side of the matching window in pixels (310 m at 10 m): large enough to hold several fields of
#: both images, small enough to follow how the colour change varies across a scene.
WINDOW_PX: int = 31
#: A window's fit counts where at least this share of it is clear in both images.
MIN_SUPPORT: float = 0.2
#: Gains are held to this range: a gain above it would only amplify one image's noise or haze.
GAIN_RANGE: tuple[float, float] = (0.0, 3.0)
#: Ridge on the gain, as a reference standard deviation in network units (5 DN at the default
#: [0, 3000] DN clip): windows flatter than this get their mean colour rather than a steep gain.
RIDGE_STD: float = 5 * 2 / 3000


def local_gain_offset(reference: np.ndarray, target: np.ndarray, known: np.ndarray, window: int = WINDOW_PX,
                      ridge_std: float = RIDGE_STD) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Per-band `(C, H, W)` gain and offset with `target ~ gain * reference + offset` in each
    `window` px window, fitted on the `known` pixels (`(H, W)` bool, clear in both), graded in by
    push-pull where a window has under `MIN_SUPPORT` of them."""
    weight = known.astype(np.float32)
    count = uniform_filter(weight, window, mode="reflect")
    supported = count >= MIN_SUPPORT
    safe = np.maximum(count, 1e-6)

    def mean(a: np.ndarray) -> np.ndarray:
        return uniform_filter(a * weight, window, mode="reflect") / safe

    gains, offsets = [], []
    for ref, tgt in zip(reference.astype(np.float32), target.astype(np.float32)):
        ref, tgt = np.where(known, ref, 0.0), np.where(known, tgt, 0.0)  # cloud values never reach a sum
        ref_mean, tgt_mean = mean(ref), mean(tgt)
        var = mean(ref * ref) - ref_mean * ref_mean
        cov = mean(ref * tgt) - ref_mean * tgt_mean
        gain = np.clip(cov / (np.maximum(var, 0.0) + ridge_std**2), *GAIN_RANGE)
        gains.append(gain)
        offsets.append(tgt_mean - gain * ref_mean)
    fit = np.stack(gains + offsets).astype(np.float32)
    channels = reference.shape[0]
    default = np.concatenate([np.ones(channels), np.zeros(channels)]).astype(np.float32)
    fit = pushpull_fill(fit, supported, default)
    return fit[:channels], fit[channels:]


def reference_fill(optical: np.ndarray, clear: np.ndarray, reference: np.ndarray, reference_clear: np.ndarray,
                   default: np.ndarray | None = None, window: int = WINDOW_PX, ridge_std: float = RIDGE_STD) -> np.ndarray:  # fmt: skip
    """`(C, H, W)` float32: `optical` where `clear`; elsewhere the `reference` matched to it where
    `reference_clear`, and a push-pull fill from all of those where neither is clear.

    Without any pixel clear in both there is nothing to match on: the push-pull fill of `optical`.
    """
    known = clear & reference_clear
    if not known.any():
        return pushpull_fill(optical, clear, default)
    gain, offset = local_gain_offset(reference, optical, known, window, ridge_std)
    matched = gain * reference.astype(np.float32) + offset
    from_reference = reference_clear & ~clear
    values = np.where(clear[None], optical, np.where(from_reference[None], matched, 0.0)).astype(np.float32)
    return pushpull_fill(values, clear | reference_clear, default)


def reference_share(clear: np.ndarray, reference_clear: np.ndarray, valid: np.ndarray) -> float:
    """Share of the scene's pixels to fill (valid, not clear) that the reference sees clear."""
    to_fill = valid & ~clear
    return float((to_fill & reference_clear).sum()) / max(1, int(to_fill.sum()))
