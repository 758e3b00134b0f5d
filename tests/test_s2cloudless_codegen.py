"""The generated C trees are LightGBM's trees: raw scores bit-identical, on genuine images and at
every threshold's edge (issue 16). Also: the generator refuses boosters it cannot write exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sarclear.data import clouds, s2cloudless_codegen, s2cloudless_fast
from sarclear.data.normalize import toa_reflectance
from sarclear.io.geotiff import read_raster

lightgbm = pytest.importorskip("lightgbm")

DATA = Path(__file__).parent / "data"
needs_fast = pytest.mark.skipif(
    s2cloudless_fast.unavailable_reason() is not None, reason=f"compiled path: {s2cloudless_fast.unavailable_reason()}"
)


@pytest.fixture(scope="module")
def booster():  # noqa: ANN201 (lightgbm.Booster)
    return lightgbm.Booster(model_file=str(s2cloudless_fast.model_file()))


def _model_planes(path: Path) -> np.ndarray:
    """`(10, H, W)` uint16 DN of the booster's bands of a genuine 13-band image."""
    return read_raster(path)[0][list(clouds.MODEL_BAND_POSITIONS)]


@needs_fast
def test_raw_scores_equal_lightgbm_bit_for_bit_on_genuine_tiles(booster) -> None:  # noqa: ANN001
    model = s2cloudless_fast.compiled()
    for path in sorted((DATA / "sen12mscr-real").glob("*_s2_cloudy/*/*.tif")):
        planes = _model_planes(path)
        refl = toa_reflectance(planes).reshape(10, -1).T  # what s2cloudless gives LightGBM
        expected = booster.predict(refl, raw_score=True, num_threads=2)
        from_dn = model.margins(model.dn_bins(planes))
        from_float = model.margins(model.bins(refl))
        np.testing.assert_array_equal(from_dn, expected)
        np.testing.assert_array_equal(from_float, expected)
        assert np.unique(expected).size > 10000  # many distinct leaf paths, not one


@needs_fast
def test_every_threshold_edge_goes_the_way_lightgbm_goes(booster) -> None:  # noqa: ANN001
    """Rows of DN on both sides of every split's threshold (the last DN that goes left and the first
    that goes right), and float rows at each threshold and one ulp either side."""
    model = s2cloudless_fast.compiled()
    rng = np.random.default_rng(0)
    dn = np.arange(s2cloudless_fast.DN_VALUES, dtype=np.uint16)
    values = toa_reflectance(dn).astype(np.float64)
    edges_dn, edges_float = [], []
    for thresholds in model.thresholds:
        last_left = np.searchsorted(values, thresholds, side="right") - 1
        edges_dn.append(np.unique(np.clip(np.concatenate([last_left, last_left + 1]), 0, dn.size - 1)))
        edges_float.append(np.concatenate([thresholds, np.nextafter(thresholds, -1), np.nextafter(thresholds, 2)]))
    rows = 20000
    dn_rows = np.stack([rng.choice(e, rows) for e in edges_dn], axis=1).astype(np.uint16)
    dn_bins = model.dn_bins(dn_rows.T)
    np.testing.assert_array_equal(
        model.margins(dn_bins), booster.predict(toa_reflectance(dn_rows), raw_score=True, num_threads=2)
    )
    float_rows = np.stack([rng.choice(e, rows) for e in edges_float], axis=1)
    np.testing.assert_array_equal(model.margins(model.bins(float_rows)), booster.predict(float_rows, raw_score=True, num_threads=2))


@needs_fast
def test_threads_and_tiles_do_not_change_a_probability() -> None:
    planes = _model_planes(next((DATA / "sen12mscr-real").glob("*fall_s2_cloudy/*/*.tif")))
    stack = np.stack([planes, planes[:, ::-1]], axis=1)  # (10, 2, H, W): two tiles in one call
    one = s2cloudless_fast.predict_dn(stack, num_threads=1)
    two = s2cloudless_fast.predict_dn(stack, num_threads=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one[1], s2cloudless_fast.predict_dn(stack[:, 1]))


@needs_fast
def test_float_dn_stacks_take_the_table_when_whole_and_agree_when_not() -> None:
    dn = read_raster(next((DATA / "sen12mscr-real").glob("*fall_s2_cloudy/*/*.tif")))[0][:, :64, :64]
    as_int, _ = clouds.cloud_probabilities(dn[None], method="s2cloudless")
    as_float, _ = clouds.cloud_probabilities(dn[None].astype(np.float32), method="s2cloudless")
    np.testing.assert_array_equal(as_int, as_float)
    assert clouds._is_16bit_integer(dn.astype(np.float32)) and not clouds._is_16bit_integer(dn + np.float32(0.5))
    shifted = dn.astype(np.float32) + np.float32(0.5)  # not whole: the float path
    fast, _ = clouds.cloud_probabilities(shifted[None], method="s2cloudless")
    ref, _ = clouds.cloud_probabilities(shifted[None], method="s2cloudless-reference")
    assert np.abs(fast - ref).max() < 1e-6


def _tiny_dump(**params: object) -> dict:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    train = lightgbm.Dataset(x, y, params={"verbose": -1})
    model = lightgbm.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "min_data_in_leaf": 5, **params}, train, 3)
    return model.dump_model()


def test_generator_reads_a_plain_binary_booster_and_refuses_what_it_cannot_write() -> None:
    forest = s2cloudless_codegen.forest_of(_tiny_dump())
    assert forest.features == 3 and forest.sigmoid_alpha == 1.0 and forest.bin_type == "uint8_t"
    assert all(list(t) == sorted(set(t)) for t in forest.thresholds)
    source = s2cloudless_codegen.block_source(forest, 0, 2)
    assert source.count("static double tree_") == 2 and s2cloudless_codegen.ENTRY_POINT in source
    with pytest.raises(s2cloudless_codegen.UnsupportedBooster, match="objective"):
        s2cloudless_codegen.forest_of(_tiny_dump(objective="regression"))
    with pytest.raises(s2cloudless_codegen.UnsupportedBooster, match="missing"):
        s2cloudless_codegen.forest_of(_tiny_dump(zero_as_missing=True))


def test_bins_follow_the_thresholds_and_read_nan_as_zero() -> None:
    thresholds = [-1.0, 0.0, 0.5]
    bins = s2cloudless_codegen.bins_of(np.array([-2.0, -1.0, -0.5, 0.0, np.nan, 0.5, 0.6]), thresholds, np.dtype(np.uint8))
    assert bins.tolist() == [0, 0, 1, 1, 1, 2, 3]  # x <= t[j] exactly when bin <= j
