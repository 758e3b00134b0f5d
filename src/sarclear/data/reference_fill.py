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
instead would stretch a flat window's noise to the target's spread). The windows' sums are
gathered on 4 px blocks and the gains and offsets upsampled bilinearly: on a 4096 px scene that
took 4.4 s and 0.9 GB above the inputs against 14.7 s and 2.4 GB per pixel, and a whole 10980 px
tile 43 s and 6.1 GB, where per pixel it passed 21 GB (`benchmarks/bench_reference_fill.py`,
2026-12-03); on the genuine benchmark the fills scored within -0.35 / +0.32 dB of the per-pixel
ones (docs/adapt.md).
Under a large cloud no window has support; there the gain and offset are graded in from the
windows around (push-pull), so colours change smoothly across the cloud. Pixels cloudy in both
images are graded in from everything known around them, as without a reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import uniform_filter

from sarclear.data.hole_fill import pushpull_fill

#: Side of the matching window in pixels (about 300 m at 10 m): large enough to hold several fields
#: of both images, small enough to follow how the colour change varies across a scene.
WINDOW_PX: int = 31
#: The windows' statistics are gathered on a grid of blocks this many pixels wide, a window being
#: the odd number of blocks nearest its side (7 blocks, 28 px), and the gains and offsets
#: upsampled bilinearly: a smooth field needs no value per pixel, and per pixel the fit held a
#: dozen full-size float32 planes (the module's docstring has the cost of both).
BLOCK_PX: int = 4
#: Rows of blocks gathered at a time, so that no full-size temporary is made.
STRIP_BLOCKS: int = 128
#: A window's fit counts where at least this share of it is clear in both images.
MIN_SUPPORT: float = 0.2
#: Gains are held to this range: a gain above it would only amplify one image's noise or haze.
GAIN_RANGE: tuple[float, float] = (0.0, 3.0)
#: Ridge on the gain, as a reference standard deviation in network units (5 DN at the default
#: [0, 3000] DN clip): windows flatter than this get their mean colour rather than a steep gain.
RIDGE_STD: float = 5 * 2 / 3000


def _block_sums(reference: np.ndarray, target: np.ndarray, known: np.ndarray, block: int) -> np.ndarray:
    """`(1 + 4C, H', W')` float64 per-block sums over the `known` pixels: their count, then per band
    the sums of reference, target, reference squared and reference x target. Gathered a strip of
    `STRIP_BLOCKS` block rows at a time; the last row and column of blocks may be partial."""
    channels, (height, width) = reference.shape[0], known.shape
    rows, cols = -(-height // block), -(-width // block)
    sums = np.zeros((1 + 4 * channels, rows, cols), np.float64)
    for b0 in range(0, rows, STRIP_BLOCKS):
        r0, r1 = b0 * block, min(height, (b0 + STRIP_BLOCKS) * block)
        pad = ((0, -(r1 - r0) % block), (0, -width % block))
        weight = np.pad(known[r0:r1], pad).astype(np.float64)
        planes = [_total(weight, block)]
        for ref, tgt in zip(reference[:, r0:r1], target[:, r0:r1]):
            ref = np.pad(ref, pad).astype(np.float64) * weight  # cloud values never reach a sum
            tgt = np.pad(tgt, pad).astype(np.float64) * weight
            planes += [_total(ref, block), _total(tgt, block), _total(ref * ref, block), _total(ref * tgt, block)]
        sums[:, b0 : b0 + weight.shape[0] // block] = np.stack(planes)
    return sums


def _total(a: np.ndarray, block: int) -> np.ndarray:
    """Sums over `block` x `block` blocks of a 2-D array whose sides are multiples of `block`."""
    return a.reshape(a.shape[0] // block, block, a.shape[1] // block, block).sum(axis=(1, 3))


def coarse_gain_offset(reference: np.ndarray, target: np.ndarray, known: np.ndarray, window: int = WINDOW_PX,
                       ridge_std: float = RIDGE_STD, block: int = BLOCK_PX) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Per-band `(C, H', W')` gain and offset, one per `block` px block, with `target ~ gain *
    reference + offset` least-squares in the window of blocks around it, fitted on the `known`
    pixels (`(H, W)` bool, clear in both); graded in by push-pull where a window has under
    `MIN_SUPPORT` of them."""
    channels = reference.shape[0]
    size = max(1, 2 * round((window / block - 1) / 2) + 1)
    blocks = _block_sums(reference, target, known, block)
    # zeros beyond the edges: a reflected edge would count the same clear pixels twice and call a
    # window supported that holds one small clear patch (measured: a gain of 0.37 for a true 1.25)
    sums = uniform_filter(blocks, size=(1, size, size), mode="constant")
    supported = sums[0] >= MIN_SUPPORT * block * block
    gain, offset = _fit(sums, channels, ridge_std)
    # where no window is supported anywhere (a scene clear only in slivers), the one fit over every
    # pixel clear in both: a colour change the scene shows somewhere beats none
    whole_gain, whole_offset = _fit(blocks.sum(axis=(1, 2))[:, None, None], channels, ridge_std)
    default = np.concatenate([whole_gain[:, 0, 0], whole_offset[:, 0, 0]]).astype(np.float32)
    fit = pushpull_fill(np.concatenate([gain, offset]).astype(np.float32), supported, default)
    return fit[:channels], fit[channels:]


def _fit(sums: np.ndarray, channels: int, ridge_std: float) -> tuple[np.ndarray, np.ndarray]:
    """`(C, ...)` ridge least-squares gain and offset from `_block_sums`-ordered sums (count first)."""
    safe = np.maximum(sums[0], 1e-9)
    gains, offsets = [], []
    for c in range(channels):
        ref_sum, tgt_sum, ref_sq, ref_tgt = sums[1 + 4 * c : 5 + 4 * c] / safe
        var = np.maximum(ref_sq - ref_sum * ref_sum, 0.0)
        gain = np.clip((ref_tgt - ref_sum * tgt_sum) / (var + ridge_std**2), *GAIN_RANGE)
        gains.append(gain)
        offsets.append(tgt_sum - gain * ref_sum)
    return np.stack(gains), np.stack(offsets)


def _upsample(plane: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """A `(H', W')` block grid bilinearly onto the `shape` pixels (each block's value at its centre)."""
    rows, cols = plane.shape
    up = F.interpolate(torch.from_numpy(np.ascontiguousarray(plane))[None, None], size=(rows * block, cols * block),
                       mode="bilinear", align_corners=False)  # fmt: skip
    return up[0, 0, : shape[0], : shape[1]].numpy()


def local_gain_offset(reference: np.ndarray, target: np.ndarray, known: np.ndarray, window: int = WINDOW_PX,
                      ridge_std: float = RIDGE_STD) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`coarse_gain_offset` upsampled to every pixel: `(C, H, W)` gain and offset."""
    gain, offset = coarse_gain_offset(reference, target, known, window, ridge_std)
    shape = known.shape
    return (np.stack([_upsample(g, BLOCK_PX, shape) for g in gain]), np.stack([_upsample(o, BLOCK_PX, shape) for o in offset]))


@dataclass(frozen=True)
class OtherDate:
    """Another date of the same place on the scene's grid: `(C, H, W)` float32 values in the scene's
    units, and `(H, W)` bool where they are clear (cloud-free and covered)."""

    values: np.ndarray
    clear: np.ndarray

    def window(self, window: tuple[slice, slice]) -> OtherDate:
        return OtherDate(self.values[(slice(None), *window)], self.clear[window])


def reference_fill(optical: np.ndarray, clear: np.ndarray, reference: np.ndarray, reference_clear: np.ndarray,
                   default: np.ndarray | None = None, window: int = WINDOW_PX, ridge_std: float = RIDGE_STD) -> np.ndarray:  # fmt: skip
    """`(C, H, W)` float32: `optical` where `clear`; elsewhere the `reference` matched to it where
    `reference_clear`, and a push-pull fill from all of those where neither is clear.

    Without any pixel clear in both there is nothing to match on: the push-pull fill of `optical`.
    """
    return dates_fill(optical, clear, (OtherDate(reference, reference_clear),), default, window, ridge_std)


def dates_fill(optical: np.ndarray, clear: np.ndarray, dates: Sequence[OtherDate], default: np.ndarray | None = None,
               window: int = WINDOW_PX, ridge_std: float = RIDGE_STD) -> np.ndarray:  # fmt: skip
    """`reference_fill` from several dates, first come first served: a pixel not `clear` is taken
    from the first date that sees it clear, that date matched to `optical` on its own (on the
    pixels clear in both, never on another date's filled ones, so one date's colour error does not
    carry into the next); pixels no date sees are graded in from everything known around them."""
    values = np.where(clear[None], optical, 0.0).astype(np.float32)
    known_now = clear.copy()
    for date in dates:
        known = clear & date.clear
        take = date.clear & ~known_now
        if not known.any() or not take.any():  # nothing to match on, or nothing left it could give
            continue
        gain, offset = coarse_gain_offset(date.values, optical, known, window, ridge_std)
        for band, ref, g, o in zip(values, date.values, gain, offset):  # a band at a time: one full-size temporary
            matched = _upsample(g, BLOCK_PX, clear.shape) * ref + _upsample(o, BLOCK_PX, clear.shape)
            band[take] = matched[take]
        known_now |= take
    if not (known_now & ~clear).any():
        return pushpull_fill(optical, clear, default)
    return pushpull_fill(values, known_now, default)


def reference_share(clear: np.ndarray, reference_clear: np.ndarray, valid: np.ndarray) -> float:
    """Share of the scene's pixels to fill (valid, not clear) that the reference sees clear."""
    to_fill = valid & ~clear
    return float((to_fill & reference_clear).sum()) / max(1, int(to_fill.sum()))
