"""The pieces of `adapt`: hole shapes, training pairs, the fitted model's start, on in-memory scenes."""

from __future__ import annotations

import numpy as np
import torch

from sarclear.adapt.fit import new_spec, start_fresh
from sarclear.adapt.holes import sample_hole
from sarclear.adapt.pairs import training_batch
from sarclear.adapt.scene import AdaptScene, pad_scene

SIZE = 64


def _scene(cloud: np.ndarray) -> AdaptScene:
    rng = np.random.default_rng(0)
    optical = rng.uniform(-0.9, -0.5, (3, SIZE, SIZE)).astype(np.float32)
    valid = np.ones((SIZE, SIZE), dtype=bool)
    fill = optical[:, ~cloud].mean(axis=1).astype(np.float32)
    sar = rng.uniform(-1, 1, (2, SIZE, SIZE)).astype(np.float32)
    dn = np.zeros((3, SIZE, SIZE), dtype=np.uint16)
    return AdaptScene(None, dn, optical, sar, valid, cloud, fill, 10000.0)  # type: ignore[arg-type]


def test_holes_are_windows_of_the_scenes_own_mask() -> None:
    cloud = np.zeros((SIZE, SIZE), dtype=bool)
    cloud[:, :12] = True  # one straight cloud edge: every usable window holds a band of it
    hole = sample_hole(cloud, 32, np.random.default_rng(1))
    assert hole.shape == (32, 32)
    rows, cols = hole.any(axis=1), hole.any(axis=0)
    assert rows.all() or cols.all()  # a band across the window (in some orientation), not a blob


def test_pairs_never_show_or_learn_real_cloud_pixels() -> None:
    cloud = np.zeros((SIZE, SIZE), dtype=bool)
    cloud[10:30, 10:30] = True
    scene = _scene(cloud)
    planted = scene.optical.copy()
    planted[:, cloud] = 0.99  # a value no clear pixel has
    scene = AdaptScene(None, scene.dn, planted, scene.sar, scene.valid, cloud, scene.fill, 10000.0)  # type: ignore[arg-type]
    batch = training_batch(scene, 32, 16, np.random.default_rng(0))
    assert not np.any(batch.x[:, 2:] == 0.99)  # optical channels: the planted cloud never enters
    assert np.all(batch.weight[batch.target[:, :1] == 0.99] == 0)  # and is never a target with weight
    assert batch.weight.max() == 1.0 and (batch.weight > 0).mean() > 0.3


def test_a_fresh_residual_model_starts_at_its_filled_input() -> None:
    spec = new_spec(use_sar=True, crop=32, ngf=8)
    assert spec.residual
    torch.manual_seed(0)
    generator = spec.build().eval()
    start_fresh(generator, spec, np.zeros(3, np.float32))
    x = torch.rand(2, 5, 32, 32) * 1.6 - 0.8
    with torch.no_grad():
        out = generator(x)
    assert (out - x[:, 2:]).abs().max() < 0.1  # the optical input (channels 2-4), barely changed
    assert (out - x[:, 2:]).abs().max() > 0  # and the network is live, not bypassed


def test_a_fresh_plain_model_starts_at_the_mean_clear_colour() -> None:
    fill = np.array([-0.8, -0.7, -0.75], dtype=np.float32)
    spec = new_spec(use_sar=True, crop=32, ngf=8, residual=False)
    torch.manual_seed(0)
    generator = spec.build().eval()
    start_fresh(generator, spec, fill)
    with torch.no_grad():
        out = generator(torch.rand(2, 5, 32, 32) * 2 - 1)
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.from_numpy(fill), atol=0.05)


def test_training_holes_are_graded_in_from_their_surroundings() -> None:
    cloud = np.zeros((SIZE, SIZE), dtype=bool)
    scene = _scene(cloud)
    ramp = np.broadcast_to(np.linspace(-0.9, -0.1, SIZE, dtype=np.float32), (3, SIZE, SIZE)).copy()
    scene = AdaptScene(None, scene.dn, ramp, scene.sar, scene.valid, cloud, scene.fill, 10000.0)  # type: ignore[arg-type]
    hole = np.zeros((32, 32), dtype=bool)
    hole[:, 8:24] = True
    crop = scene.filled_crop(16, 16, 32, hole)
    assert np.array_equal(crop[:, ~hole], ramp[:, 16:48, 16:48][:, ~hole])  # the rest untouched
    inside = crop[0, 16, 8:24]
    assert ramp[0, 16, 23] < inside.min() and inside.max() < ramp[0, 16, 40]  # between the two edges
    assert np.all(np.diff(inside) >= 0) and inside[-1] - inside[0] > 0.1  # graded, not flat


def test_small_scenes_are_padded_with_invalid_pixels() -> None:
    cloud = np.zeros((SIZE, SIZE), dtype=bool)
    padded = pad_scene(_scene(cloud), 128)
    assert padded.optical.shape == (3, 128, 128) and padded.valid.shape == (128, 128)
    assert padded.valid[:SIZE, :SIZE].all() and not padded.valid[SIZE:, :].any()


def test_the_ssim_term_ignores_pixels_of_unknown_truth() -> None:
    from sarclear.adapt.fit import masked_ssim_loss

    target = torch.rand(1, 3, 32, 32) * 0.5 - 0.9
    output = target.clone()
    weight = torch.ones(1, 1, 32, 32)
    weight[..., :, 16:] = 0
    output[..., :, 24:] = 1.0  # wrong only far inside the weight-0 half (beyond the 11 px window)
    assert masked_ssim_loss(output, target, weight).item() < 1e-4
    assert masked_ssim_loss(output, target, torch.ones_like(weight)).item() > 0.1


def test_the_half_resolution_scene_never_turns_a_cloudy_pixel_into_a_clear_one() -> None:
    from sarclear.adapt.scene import coarse_scene

    cloud = np.zeros((SIZE, SIZE), dtype=bool)
    cloud[10, 11] = True  # one cloudy pixel: its whole 2 x 2 block is cloud at half resolution
    scene = _scene(cloud)
    scene.valid[40, 40] = False
    coarse = coarse_scene(scene)
    assert coarse.optical.shape == (3, SIZE // 2, SIZE // 2) and coarse.sar.shape == (2, SIZE // 2, SIZE // 2)
    assert coarse.cloud[5, 5] and coarse.cloud.sum() == 1 and not coarse.valid[20, 20] and coarse.valid.sum() == (SIZE // 2) ** 2 - 1
    np.testing.assert_allclose(coarse.optical[:, 0, 0], scene.optical[:, :2, :2].mean(axis=(1, 2)), rtol=1e-6)
    planted = scene.optical.copy()
    planted[:, 10, 11] = 5.0  # a wrong value under the cloud
    from dataclasses import replace

    batch = training_batch(scene, 32, 16, np.random.default_rng(0), coarse_scene(replace(scene, optical=planted)))
    assert np.abs(batch.x).max() <= 1.0 and (np.abs(batch.target) * (batch.weight > 0)).max() <= 1.0  # never seen
