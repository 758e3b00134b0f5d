"""Clouds and their shadows, composited over the ground of the cloudy acquisition only.

Opacity is a fractal field pushed through a linear ramp: the core is opaque, the margins thin,
and a tile's cloud cover (share of pixels with opacity > 0.5) is set exactly by choosing the
threshold as a quantile of the field. Optional haze adds a thin veil (opacity < 0.5, so it never
counts as cover). Cloud tops are bright and nearly flat across the spectrum (4000-8000 DN), a bit
darker in the SWIR (B11, B12) and in the B9 water-vapour band; B10 (cirrus) responds in
proportion to opacity for high clouds. Shadows are the opacity field shifted along the sun
direction, darkening the ground they fall on (Zhu & Woodcock, Fmask, RSE 2012, use the same
geometry to find them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sarclear.data.synthetic.noise import fractal, sub_seed

#: Cloud-top reflectance relative to the visible, per band B1..B12 (B10 is set from `cirrus_dn`).
_TOP_SHAPE = np.array([1.05, 1.03, 1.0, 1.0, 1.0, 0.98, 0.97, 0.97, 0.96, 0.55, 0.0, 0.7, 0.45], np.float32)
_B10 = 10
_OCTAVES = 6


@dataclass(frozen=True)
class CloudParams:
    """One cloudy acquisition. `threshold` is set by `calibrate` so the cover comes out exactly."""

    seed: int
    cover: float  # wanted share of opacity > 0.5, in [0, 1]
    cell: float  # largest cloud feature, px
    ramp: float  # width of the thin margin, in field standard deviations
    brightness_dn: float
    cirrus_dn: float
    haze: float  # max opacity of the thin veil, < 0.5
    shadow_dy: int
    shadow_dx: int
    shadow_strength: float  # fraction of ground light removed under a full shadow
    threshold: float = float("inf")


def draw_clouds(rng: np.random.Generator, cover: float) -> CloudParams:
    """Random cloud type for a wanted cover: cumulus (sharp, small) to stratus (wide, soft)."""
    length = rng.uniform(8, 30)
    direction = rng.uniform(0, 2 * np.pi)
    return CloudParams(
        seed=int(rng.integers(2**62)),
        cover=float(np.clip(cover, 0.0, 1.0)),
        cell=rng.uniform(48, 192),
        ramp=rng.uniform(0.15, 0.8),
        brightness_dn=rng.uniform(4000, 8000),
        cirrus_dn=rng.uniform(30, 1500),
        haze=rng.uniform(0.0, 0.45) if rng.random() < 0.4 else 0.0,
        shadow_dy=int(round(length * np.sin(direction))),
        shadow_dx=int(round(length * np.cos(direction))),
        shadow_strength=rng.uniform(0.35, 0.7),
    )


def calibrate(p: CloudParams, ys: np.ndarray, xs: np.ndarray) -> CloudParams:
    """Set the threshold so that the share of `ys x xs` with opacity > 0.5 equals `p.cover`."""
    if p.cover <= 0.0:
        return replace(p, threshold=float("inf"))
    if p.cover >= 1.0:
        return replace(p, threshold=float("-inf"))
    field = fractal(p.seed, ys, xs, p.cell, _OCTAVES)
    return replace(p, threshold=float(np.quantile(field, 1.0 - p.cover)))


def opacity(p: CloudParams, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """`(H, W)` float32 cloud opacity in [0, 1] (0 clear, 1 opaque)."""
    if p.threshold == float("inf") and p.haze == 0.0:
        return np.zeros((len(ys), len(xs)), np.float32)
    field = fractal(p.seed, ys, xs, p.cell, _OCTAVES)
    alpha = np.clip((field - p.threshold) / p.ramp + 0.5, 0.0, 1.0)  # +-inf thresholds give 0 / 1
    if p.haze > 0.0:
        veil = p.haze * (0.5 + 0.5 * np.tanh(fractal(sub_seed(p.seed, 1), ys, xs, 256, 4)))
        alpha = np.maximum(alpha, veil)
    return alpha.astype(np.float32)


def shadow(p: CloudParams, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """`(H, W)` shadow strength in [0, 1]: the opacity seen from the ground towards the sun."""
    if p.threshold == float("inf"):
        return np.zeros((len(ys), len(xs)), np.float32)
    return opacity(replace(p, haze=0.0), ys - p.shadow_dy, xs - p.shadow_dx)


def composite(ground: np.ndarray, alpha: np.ndarray, shade: np.ndarray, p: CloudParams) -> np.ndarray:
    """Cloudy TOA DN `(13, H, W)`: shadowed ground, blended with the cloud top by opacity."""
    top = p.brightness_dn * _TOP_SHAPE[:, None, None] * (0.8 + 0.2 * alpha)[None]
    top[_B10] = p.cirrus_dn
    lit = ground * (1.0 - p.shadow_strength * shade)[None]
    return (lit * (1.0 - alpha)[None] + top * alpha[None]).astype(np.float32)
