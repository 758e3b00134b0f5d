"""Push-pull hole filling: known pixels kept bit for bit, holes graded from their edges."""

from __future__ import annotations

import numpy as np

from sarclear.data.hole_fill import pushpull_fill


def test_known_pixels_are_returned_unchanged_and_holes_take_their_surroundings() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, (3, 37, 50)).astype(np.float32)  # odd sizes: padded pyramid levels
    known = np.ones((37, 50), dtype=bool)
    known[5:30, 10:20] = False
    filled = pushpull_fill(values, known)
    assert filled.shape == values.shape and filled.dtype == np.float32
    assert np.array_equal(filled[:, known], values[:, known])
    hole = filled[:, ~known]
    assert np.all(hole >= values[:, known].min(axis=1)[:, None]) and np.all(hole <= values[:, known].max(axis=1)[:, None])


def test_a_hole_between_two_colours_is_graded_from_one_to_the_other() -> None:
    values = np.zeros((1, 16, 64), dtype=np.float32)
    values[:, :, 32:] = 1.0
    known = np.ones((16, 64), dtype=bool)
    known[:, 16:48] = False
    row = pushpull_fill(values, known)[0, 8, 16:48]
    assert row[0] < 0.25 and row[-1] > 0.75  # each edge continues its own side
    assert np.all(np.diff(row) >= -1e-6)  # and the fill rises across the hole without a jump back


def test_no_known_pixel_gives_the_default_colour() -> None:
    values = np.full((3, 8, 8), 7.0, dtype=np.float32)
    filled = pushpull_fill(values, np.zeros((8, 8), dtype=bool), default=np.array([1.0, 2.0, 3.0]))
    assert np.array_equal(filled[:, 0, 0], [1.0, 2.0, 3.0]) and np.all(filled[2] == 3.0)
