"""Units: physical <-> network conversions are exact inside the clip ranges, clip outside, stay in [-1, 1]."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sarclear.data.normalize import (
    S1_CLIP_DB,
    render_8bit,
    s1_from_network,
    s1_to_network,
    s2_from_network,
    s2_to_network,
    to_display,
    to_reflectance,
)


def _s1_inside(rng: np.random.Generator, shape=(4, 16, 16)) -> np.ndarray:
    vv = rng.uniform(*S1_CLIP_DB["VV"], size=(shape[0], 1, *shape[1:]))
    vh = rng.uniform(*S1_CLIP_DB["VH"], size=(shape[0], 1, *shape[1:]))
    return np.concatenate([vv, vh], axis=1)


def test_s1_round_trip_is_exact_inside_the_clip_range_numpy_and_torch() -> None:
    s1 = _s1_inside(np.random.default_rng(0))
    net = s1_to_network(s1)
    assert net.shape == s1.shape and net.min() >= -1 and net.max() <= 1
    np.testing.assert_allclose(s1_from_network(net), s1, atol=1e-9)
    tensor = torch.from_numpy(s1.astype(np.float32))
    back = s1_from_network(s1_to_network(tensor))
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    torch.testing.assert_close(back, tensor, atol=1e-5, rtol=0)


def test_s1_channels_use_their_own_ranges_and_clip_outside() -> None:
    s1 = np.array([[[-25.0, 0.0, -40.0, 5.0]], [[-32.5, 0.0, -40.0, 5.0]]], np.float32)  # (C=2, H=1, W=4)
    net = s1_to_network(s1)
    np.testing.assert_array_equal(net, [[[-1, 1, -1, 1]], [[-1, 1, -1, 1]]])
    back = s1_from_network(net)
    np.testing.assert_array_equal(back, [[[-25, 0, -25, 0]], [[-32.5, 0, -32.5, 0]]])
    mid = s1_to_network(np.array([[[-12.5]], [[-12.5]]], np.float32))
    assert mid[0, 0, 0] == pytest.approx(0.0) and mid[1, 0, 0] == pytest.approx(2 * 20 / 32.5 - 1)


@pytest.mark.parametrize("clip_max", [10000.0, 3000.0])
def test_s2_round_trip_exact_inside_and_clipped_outside(clip_max: float) -> None:
    dn = np.random.default_rng(1).uniform(0, clip_max, (2, 13, 8, 8))
    np.testing.assert_allclose(s2_from_network(s2_to_network(dn, clip_max), clip_max), dn, atol=1e-8)
    tensor = torch.from_numpy(dn.astype(np.float32))
    torch.testing.assert_close(s2_from_network(s2_to_network(tensor, clip_max), clip_max), tensor, atol=0.01, rtol=0)
    wild = np.array([-500.0, 0.0, clip_max, 65535.0])
    np.testing.assert_array_equal(s2_to_network(wild, clip_max), [-1, -1, 1, 1])
    np.testing.assert_array_equal(s2_from_network(np.array([-3.0, 3.0]), clip_max), [0, clip_max])


def test_everything_lands_in_minus_one_one() -> None:
    rng = np.random.default_rng(2)
    wild_s1 = rng.normal(-15, 30, (3, 2, 8, 8))
    wild_s2 = rng.uniform(-1000, 70000, (3, 13, 8, 8))
    for net in (s1_to_network(wild_s1), s2_to_network(wild_s2), s1_to_network(torch.from_numpy(wild_s1))):
        assert float(net.min()) >= -1.0 and float(net.max()) <= 1.0


def test_reflectance_and_display_scales() -> None:
    dn = np.array([0.0, 1500.0, 3000.0, 10000.0, 20000.0])
    np.testing.assert_allclose(to_reflectance(dn), [0, 0.15, 0.3, 1, 1])
    np.testing.assert_allclose(to_display(dn), [0, 127.5, 255, 255, 255])
    rendered = render_8bit(dn.astype(np.uint16))
    assert rendered.dtype == np.uint8 and rendered.tolist() == [0, 128, 255, 255, 255]
