"""Cloud-shaped holes for training crops, cut from the scene's own cloud mask.

A hole is a crop-sized window of the scene's mask taken at a random place, flipped and rotated at
random, then laid over a *different* (mostly clear) crop: the holes have the sizes, edges and
clumping of this scene's clouds, which is what the network will have to fill. Windows with almost
no cloud, or almost nothing else, teach little; they are redrawn a few times (docs/adapt.md says
what a larger upper share did), and a scene whose mask never gives a usable window (nearly clear)
falls back to elliptic blobs.
"""

from __future__ import annotations

import numpy as np

#: A window is a usable hole when this share of it is cloud (enough to learn from, enough context).
HOLE_SHARE: tuple[float, float] = (0.05, 0.6)
#: Windows drawn before falling back to blobs.
TRIES: int = 8


def augment(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the 8 flips / quarter turns of a square window, chosen by `rng`."""
    out = np.rot90(window, int(rng.integers(4)))
    if rng.integers(2):
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def blob_hole(size: int, rng: np.random.Generator) -> np.ndarray:
    """A few random ellipses covering roughly a quarter of the window (for nearly clear scenes)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    hole = np.zeros((size, size), dtype=bool)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(size / 10, size / 4, 2)
        hole |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    return hole


def sample_hole(cloud: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`(size, size)` bool hole shaped like the clouds of the `(H, W)` mask `cloud`."""
    height, width = cloud.shape
    for _ in range(TRIES):
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
        window = cloud[top : top + size, left : left + size]
        if HOLE_SHARE[0] <= window.mean() <= HOLE_SHARE[1]:
            return augment(window, rng)
    return blob_hole(size, rng)
