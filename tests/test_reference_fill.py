"""Filling clouds from another date of the same place (`adapt --reference`), on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sarclear.adapt.scene import AdaptScene
from sarclear.data.hole_fill import pushpull_fill
from sarclear.data.reference_fill import OtherDate, dates_fill, local_gain_offset, reference_fill, reference_share

SIZE = 96


def _fields(seed: int = 0) -> np.ndarray:
    """`(3, SIZE, SIZE)` a patchwork of 8 px fields, each band its own values (network units)."""
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(-0.9, -0.3, (3, SIZE // 8, SIZE // 8))
    return np.kron(blocks, np.ones((8, 8))).astype(np.float32)


def _hole(top: int, size: int) -> np.ndarray:
    hole = np.zeros((SIZE, SIZE), dtype=bool)
    hole[top : top + size, top : top + size] = True
    return hole


#: The scene is the reference in other colours: another sun, another processing level.
GAIN, OFFSET = np.array([0.7, 1.3, 0.9], np.float32)[:, None, None], np.array([0.1, 0.2, -0.05], np.float32)[:, None, None]


def test_a_reference_in_other_colours_restores_the_fields_under_a_cloud() -> None:
    reference = _fields()
    truth = GAIN * reference + OFFSET
    hole = _hole(40, 16)
    optical = np.where(hole[None], 0.99, truth)  # the cloud's own bright value
    filled = reference_fill(optical, ~hole, reference, np.ones_like(hole))
    assert np.abs(filled[:, hole] - truth[:, hole]).max() < 2e-3  # the fields, in this scene's colours
    assert np.array_equal(filled[:, ~hole], optical[:, ~hole])  # clear pixels untouched
    graded = pushpull_fill(optical, ~hole)
    assert np.abs(graded[:, hole] - truth[:, hole]).mean() > 20 * np.abs(filled[:, hole] - truth[:, hole]).mean()


def test_under_a_cloud_wider_than_the_window_the_colour_match_is_carried_in_from_around() -> None:
    reference = _fields(1)
    truth = GAIN * reference + OFFSET
    hole = _hole(24, 48)  # no 31 px window near its centre holds a clear pixel
    gain, offset = local_gain_offset(reference, truth, ~hole)
    assert np.allclose(gain[:, hole], GAIN[:, :, 0], atol=0.02) and np.allclose(offset[:, hole], OFFSET[:, :, 0], atol=0.02)
    filled = reference_fill(np.where(hole[None], 0.99, truth), ~hole, reference, np.ones_like(hole))
    assert np.abs(filled[:, hole] - truth[:, hole]).max() < 0.02


def test_each_blocks_gain_and_offset_are_the_least_squares_fit_of_its_window() -> None:
    """The block grid is a cheaper way to the same statistics, not other ones: at an interior block,
    the gain and offset are the (ridge-regularised) least-squares line through the window's clear
    pixels, with a varying colour change and some pixels missing."""
    from sarclear.data.reference_fill import BLOCK_PX, RIDGE_STD, coarse_gain_offset

    rng = np.random.default_rng(3)
    reference = _fields(2)
    yy = np.mgrid[0:SIZE, 0:SIZE][0] / SIZE
    target = (0.5 + yy) * reference + 0.1 * yy + rng.normal(0, 0.01, reference.shape)  # the change varies down the scene
    known = rng.random((SIZE, SIZE)) > 0.3
    gain, offset = coarse_gain_offset(reference, target.astype(np.float32), known)
    row, col, half = 10, 12, 7 * BLOCK_PX // 2  # block (10, 12): pixels 40-43, 48-51; its window 7 blocks wide
    window = (slice(row * BLOCK_PX + 2 - half, row * BLOCK_PX + 2 + half), slice(col * BLOCK_PX + 2 - half, col * BLOCK_PX + 2 + half))
    for band in range(3):
        x, y = reference[band][window][known[window]], target[band][window][known[window]]
        slope = np.cov(x, y, bias=True)[0, 1] / (x.var() + RIDGE_STD**2)
        assert gain[band, row, col] == pytest.approx(slope, rel=1e-4)
        assert offset[band, row, col] == pytest.approx(y.mean() - slope * x.mean(), abs=1e-5)


def test_a_scene_clear_only_in_small_patches_takes_the_colour_change_they_show_together() -> None:
    """No window holds enough clear ground (two 8 px patches, one in a corner, each one field): the
    gain and offset come from one fit over both patches, not from a corner window whose edges,
    reflected, would count its patch four times and fit a gain to one field's noise."""
    rng = np.random.default_rng(5)
    reference = _fields(4) + rng.normal(0, 0.005, (3, SIZE, SIZE)).astype(np.float32)
    truth = GAIN * reference + OFFSET
    clear = np.zeros((SIZE, SIZE), bool)
    clear[0:8, 0:8] = clear[64:72, 48:56] = True
    filled = reference_fill(np.where(clear[None], truth, 0.99), clear, reference, np.ones_like(clear))
    assert np.abs(filled[:, ~clear] - truth[:, ~clear]).max() < 0.02


def test_the_references_own_clouds_are_never_used() -> None:
    reference, hole = _fields(), _hole(40, 16)
    truth = GAIN * reference + OFFSET
    reference_clear = ~_hole(34, 14)  # the reference's cloud: over clear ground and part of the scene's cloud
    outputs = []
    for planted in (0.99, -0.99):
        cloudy_reference = np.where(reference_clear[None], reference, planted)
        outputs.append(reference_fill(np.where(hole[None], 0.99, truth), ~hole, cloudy_reference, reference_clear))
    assert np.array_equal(outputs[0], outputs[1])
    both = hole & ~reference_clear  # cloudy in both: graded in from the known values around
    assert np.all(outputs[0][:, both] >= truth.min() - 1e-3) and np.all(outputs[0][:, both] <= truth.max() + 1e-3)


def test_without_a_pixel_clear_in_both_it_is_the_plain_graded_fill() -> None:
    reference, hole = _fields(), _hole(40, 16)
    optical = np.where(hole[None], 0.99, GAIN * reference + OFFSET)
    default = np.array([-0.5, -0.5, -0.5], np.float32)
    filled = reference_fill(optical, ~hole, reference, hole.copy(), default)  # the reference is clear only under the cloud
    assert np.array_equal(filled, pushpull_fill(optical, ~hole, default))


def test_reference_share_counts_only_the_pixels_to_fill() -> None:
    clear, valid = ~_hole(0, 48), np.ones((SIZE, SIZE), bool)
    valid[:, -8:] = False
    reference_clear = np.zeros((SIZE, SIZE), bool)
    reference_clear[:24] = True  # half the cloud's rows, and clear ground the scene already has
    assert reference_share(clear, reference_clear, valid) == 0.5


def _scene(truth: np.ndarray, cloud: np.ndarray, reference: np.ndarray | None) -> AdaptScene:
    optical = np.where(cloud[None], 0.99, truth).astype(np.float32)
    valid = np.ones(cloud.shape, bool)
    fill = optical[:, ~cloud].mean(axis=1).astype(np.float32)
    dn = np.zeros(optical.shape, np.uint16)
    references = () if reference is None else (OtherDate(reference, np.ones(cloud.shape, bool)),)
    return AdaptScene(None, dn, optical, None, valid, cloud, fill, 3000.0, {}, references)  # type: ignore[arg-type]


def test_a_training_crop_is_filled_from_the_reference_but_never_from_the_truth_it_hides() -> None:
    reference = _fields()
    truth = GAIN * reference + OFFSET
    scene = _scene(truth, np.zeros((SIZE, SIZE), bool), reference)
    hole = np.zeros((32, 32), bool)
    hole[8:24, 8:24] = True
    crop = scene.filled_crop(32, 32, 32, hole)
    inside = truth[:, 32:64, 32:64][:, hole]
    assert np.abs(crop[:, hole] - inside).max() < 2e-3  # restored from the reference
    hidden = scene.optical.copy()
    hidden[:, 40:56, 40:56] = 0.99  # what the training hole hides must not change the model's input
    planted = _scene(truth, np.zeros((SIZE, SIZE), bool), reference)
    planted = AdaptScene(None, planted.dn, hidden, None, planted.valid, planted.cloud, planted.fill, 3000.0, {},
                         planted.references)  # type: ignore[arg-type]  # fmt: skip
    assert np.array_equal(planted.filled_crop(32, 32, 32, hole), crop)


def test_the_scene_fill_uses_the_reference_only_when_given() -> None:
    reference, cloud = _fields(), _hole(40, 16)
    truth = GAIN * reference + OFFSET
    with_reference, without = _scene(truth, cloud, reference).filled_scene(), _scene(truth, cloud, None).filled_scene()
    assert np.abs(with_reference[:, cloud] - truth[:, cloud]).max() < 2e-3
    assert np.array_equal(without, pushpull_fill(_scene(truth, cloud, None).optical, ~cloud, _scene(truth, cloud, None).fill))


def test_the_self_check_scores_both_fills_on_the_scenes_own_hidden_ground() -> None:
    from sarclear.adapt.reference import CHECK_HOLES, check_reference

    reference, cloud = _fields(), _hole(40, 24)
    truth = GAIN * reference + OFFSET
    good = check_reference(_scene(truth, cloud, reference))
    assert good.holes == CHECK_HOLES and good.helps and good.reference_error < 0.2 * good.plain_error
    changed = check_reference(_scene(truth, cloud, _fields(5)))  # the same place after the fields changed
    assert changed.holes == CHECK_HOLES and not changed.helps


def test_several_dates_fill_each_part_of_a_cloud_from_the_first_that_sees_it_matched_on_its_own() -> None:
    """Two dates of the same fields in two other colourings: the first sees the cloud's top half,
    the second all of it. The top half comes from the first (exactly as it alone would fill it),
    the rest from the second, matched to the scene on its own clear pixels (exactly as it alone
    would fill it there), and both restore the scene's colours."""
    fields, hole = _fields(), _hole(36, 24)
    truth = GAIN * fields + OFFSET
    first = OtherDate(fields, ~(np.arange(SIZE)[:, None] >= 48) & np.ones((SIZE, SIZE), bool))  # clear above row 48
    second = OtherDate(((truth - 0.05) / 1.2).astype(np.float32), np.ones((SIZE, SIZE), bool))
    optical = np.where(hole[None], 0.99, truth).astype(np.float32)
    both = dates_fill(optical, ~hole, [first, second])
    top, rest = hole & first.clear, hole & ~first.clear
    assert top.any() and rest.any()
    assert np.array_equal(both[:, top], dates_fill(optical, ~hole, [first])[:, top])
    assert np.array_equal(both[:, rest], dates_fill(optical, ~hole, [second])[:, rest])
    assert np.abs(both[:, hole] - truth[:, hole]).max() < 2e-3
    assert np.array_equal(dates_fill(optical, ~hole, [first]), reference_fill(optical, ~hole, first.values, first.clear))


def test_the_nearest_reference_date_comes_first_and_undated_names_keep_their_order() -> None:
    from sarclear.adapt.reference import nearest_first

    scene = "S2B_MSIL1C_20200823T054639_N0209_R048_T43RCP_20200823T075618.SAFE"
    references = ["mine.tif", "20200604T054639_20200604T054831_T43RCP", "other.tif", "20200901T054639_20200901T054831_T43RCP",
                  "20200813T054639_20200813T054952_T43RCP"]  # fmt: skip
    assert nearest_first(scene, references) == [3, 4, 1, 0, 2]  # 9 days after, 10 before, 80 before, then as given


def test_references_of_one_date_in_two_folders_get_names_that_tell_them_apart(tmp_path) -> None:
    from sarclear.adapt.reference import distinct_names

    date = "20200604T054639_20200604T054831_T43RCP"
    paths = [tmp_path / "s2c/0000200" / date, tmp_path / "s2a/0000200" / date, tmp_path / "exports" / "rgb.tif"]
    assert distinct_names(paths) == [f"s2c/0000200/{date}", f"s2a/0000200/{date}", "rgb.tif"]
    assert distinct_names([paths[0]]) == [date]
