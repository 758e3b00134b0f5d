"""Pure parts of `sarclear predict`: window grid, blending weights, row blender, feathering, padding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sarclear.inference.blend import RowBlender
from sarclear.inference.tiling import WEIGHT_FLOOR, WindowGrid, blend_weights, ramp, window_starts
from sarclear.predict.composite import composite, feather
from sarclear.predict.prepare import network_input, pad_to


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 32, 8), (96, 32, 8), (33, 32, 0), (10980, 256, 64), (5, 32, 8), (32, 32, 8)])
def test_windows_cover_the_scene_without_leaving_it(length: int, tile: int, overlap: int) -> None:
    starts = window_starts(length, tile, overlap)
    covered = np.zeros(length, dtype=bool)
    for s in starts:
        assert s >= 0 and (s + tile <= length or (s == 0 and length < tile))
        covered[s : s + tile] = True
    assert covered.all()
    assert starts == sorted(set(starts))
    assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


def test_window_starts_rejects_overlap_not_smaller_than_tile() -> None:
    with pytest.raises(ValueError):
        window_starts(100, 32, 32)


def test_ramp_is_a_cross_fade_that_never_reaches_zero() -> None:
    r = ramp(32, 8)
    assert r.min() >= WEIGHT_FLOOR and r.max() == 1.0
    np.testing.assert_allclose(r, r[::-1])
    # the falling edge of one window plus the rising edge of the next sum to one (sin^2 + cos^2)
    np.testing.assert_allclose(r[-8:] + r[:8], 1.0, atol=2 * WEIGHT_FLOOR)
    assert blend_weights(32, 8).shape == (32, 32)


def test_grid_final_rows_follow_the_window_starts() -> None:
    grid = WindowGrid(height=75, width=101, tile=32, overlap=8)
    assert grid.row_starts == [0, 24, 43]
    assert [grid.final_row(i) for i in range(3)] == [24, 43, 75]
    assert grid.n_windows == 3 * len(grid.col_starts)


def _blend(values: list[float], starts: list[int], tile: int, overlap: int, width: int = 4) -> np.ndarray:
    """Blend constant windows stacked vertically; return the blended column of rows."""
    blender = RowBlender(1, width, tile)
    weights = blend_weights(tile, overlap)[:, :width]
    rows = []
    for i, (value, top) in enumerate(zip(values, starts)):
        blender.add(top, 0, np.full((1, tile, width), value, np.float32), weights)
        rows.append(blender.flush(starts[i + 1] if i + 1 < len(starts) else top + tile))
    return np.concatenate(rows, axis=1)[0, :, 0]


def test_blender_reproduces_a_constant_exactly() -> None:
    out = _blend([3.5, 3.5, 3.5], [0, 24, 43], 32, 8)
    np.testing.assert_allclose(out, 3.5, rtol=1e-6)


def test_blender_cross_fades_smoothly_between_disagreeing_windows() -> None:
    out = _blend([0.0, 1.0], [0, 24], 32, 8)
    assert out.shape == (56,)
    assert np.all(out[:24] < 1e-2) and np.all(out[32:] > 1 - 1e-2)
    steps = np.diff(out)
    assert np.all(steps >= -1e-6)  # monotone: no seam, no overshoot
    assert steps.max() < 0.25  # spread over the 8 overlapping rows, not one jump


def test_blender_refuses_windows_outside_its_band() -> None:
    blender = RowBlender(1, 8, 4)
    with pytest.raises(ValueError):
        blender.add(2, 0, np.ones((1, 4, 4), np.float32), np.ones((4, 4), np.float32))


def test_feather_is_one_on_the_mask_and_fades_to_zero_outside() -> None:
    mask = np.zeros((40, 40), dtype=bool)
    mask[15:25, 15:25] = True
    alpha = feather(mask, 4)
    assert np.all(alpha[mask] == 1.0)
    assert alpha[0, 0] == 0.0 and alpha[20, 35] == 0.0
    row = alpha[20, 24:36]
    assert np.all(np.diff(row) <= 1e-6) and 0 < row[3] < 1
    out = composite(np.full((3, 40, 40), 100.0), np.full((3, 40, 40), 500.0), alpha)
    assert out[0, 20, 20] == 100.0 and out[0, 0, 0] == 500.0


def test_network_input_is_finite_and_in_range() -> None:
    dn = np.full((3, 2, 2), 1000, np.uint16)
    dn[:, 0, 0] = 0
    dn[:, 1, 1] = 7
    s1 = np.full((2, 2, 2), -10.0, np.float32)
    s1[1, 0, 1] = np.nan
    x = network_input(dn, s1, 10000.0)
    assert x.shape == (5, 2, 2) and np.isfinite(x).all() and x[1, 0, 1] == 0.0
    assert x.min() >= -1 and x.max() <= 1


def test_pad_to_reflects_small_strips_up_to_a_tile() -> None:
    a = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    padded = pad_to(a, 8, 8)
    assert padded.shape == (2, 8, 8)
    np.testing.assert_array_equal(padded[:, :5, :3], a)
    assert pad_to(a, 4, 2) is a


def test_batches_are_as_even_as_possible() -> None:
    from sarclear.predict.stream import batches

    assert [len(b) for b in batches(list(range(5)), 4)] == [3, 2]
    assert [len(b) for b in batches(list(range(8)), 4)] == [4, 4]
    assert [i for b in batches(list(range(11)), 4) for i in b] == list(range(11))
    assert batches([], 4) == []
