"""Counter-based noise: the value at pixel (y, x) depends only on the seed and (y, x).

Why hashing integer coordinates rather than filtering a random grid with an FFT: a large scene
is rendered strip by strip and a dataset tile is a window of a larger landscape, so the noise at
a pixel must not depend on which window asked for it, and must have no wrap-around seams.
Value noise (random lattice values, smoothly interpolated) summed over octaves with halving
amplitude gives the fractal, roughly 1/f fields used for land-cover patches, texture and clouds
(Perlin, "An image synthesizer", SIGGRAPH 1985; Ebert et al., "Texturing and Modeling", ch. 2).
"""

from __future__ import annotations

import math

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
#: Std of one value-noise octave whose lattice is uniform on [-1, 1] (variance 1/3), after
#: smoothstep-bilinear interpolation: 1D weight energy E[(1-s)^2 + s^2] = 1 - 1 + 2 * 13/35,
#: squared for 2D, so variance = (26/35)^2 / 3.
_OCTAVE_STD = math.sqrt((26 / 35) ** 2 / 3)


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele, Lea, Flood, OOPSLA 2014): a fast, well-mixed 64-bit hash."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash_uniform(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform [0, 1) values, one per element of the broadcast integer `keys`, fixed by `seed`."""
    with np.errstate(over="ignore"):
        z = np.asarray(np.uint64(seed % 2**64))
        for key in keys:
            k = np.asarray(key).astype(np.int64).astype(np.uint64)
            z = _mix(z ^ _mix(k + _GOLDEN))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def sub_seed(seed: int, *names: int) -> int:
    """An independent 63-bit seed for a named stream (land cover, clouds, a tile, ...)."""
    return int(np.random.SeedSequence([seed % 2**63, *names]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _axis(coords: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    scaled = np.asarray(coords, dtype=np.float64) / cell
    index = np.floor(scaled).astype(np.int64)
    t = scaled - index
    return index, (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def value_octave(seed: int, ys: np.ndarray, xs: np.ndarray, cell: float) -> np.ndarray:
    """One octave of value noise on the grid `ys x xs` (pixel coordinates), in [-1, 1], float32.

    Dense windows hash the lattice once and interpolate (cost ~ pixels); sparse samples (a strided
    look at a whole scene) hash the four corners of each sample instead, so memory stays small.
    """
    iy, ty = _axis(ys, cell)
    ix, tx = _axis(xs, cell)
    ly = np.arange(iy.min(), iy.max() + 2)
    lx = np.arange(ix.min(), ix.max() + 2)
    if ly.size * lx.size <= 4 * iy.size * ix.size:
        lattice = (2.0 * hash_uniform(seed, ly[:, None], lx[None, :]) - 1.0).astype(np.float32)
        ry, rx = iy - ly[0], ix - lx[0]
        rows = lattice[ry] * (1 - ty)[:, None] + lattice[ry + 1] * ty[:, None]
        return rows[:, rx] * (1 - tx) + rows[:, rx + 1] * tx

    def corner(dy: int, dx: int) -> np.ndarray:
        return (2.0 * hash_uniform(seed, (iy + dy)[:, None], (ix + dx)[None, :]) - 1.0).astype(np.float32)

    top = corner(0, 0) * (1 - tx) + corner(0, 1) * tx
    bottom = corner(1, 0) * (1 - tx) + corner(1, 1) * tx
    return top * (1 - ty)[:, None] + bottom * ty[:, None]


def fractal(
    seed: int, ys: np.ndarray, xs: np.ndarray, cell: float, octaves: int = 5, persistence: float = 0.5
) -> np.ndarray:
    """Multi-octave value noise with (approximately) zero mean and unit standard deviation.

    `cell` is the largest feature size in pixels; each further octave halves it (down to 1 px)
    and multiplies the amplitude by `persistence`, so 0.5 gives the 1/f look of natural scenes.
    Thresholds on this field therefore have a known meaning: `field > 1.0` covers ~16 % of a
    large area, `field > 2.0` ~2 %.
    """
    total = np.zeros((len(ys), len(xs)), np.float32)
    energy = 0.0
    for octave in range(octaves):
        size = cell / 2**octave
        if size < 1.0:
            break
        amplitude = persistence**octave
        total += amplitude * value_octave(sub_seed(seed, octave), ys, xs, size)
        energy += amplitude**2
    total /= _OCTAVE_STD * math.sqrt(energy)
    return total
