"""The compiled s2cloudless booster equals s2cloudless itself, on genuine 13-band images (issue 16).

Agreement required per tile: cover within 0.5 percentage points and at least 99.5 % of mask pixels
identical; the probabilities themselves are compared too. Images: the four S2 images of the two
genuine SEN12MS-CR triplets, the cloudy image of the SEN12MS-CR pair without target, and a crop of
s2cloudless's own test scene with the probabilities its authors computed (tests/data/*/SOURCE.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from sarclear.data import clouds, s2cloudless_fast
from sarclear.io.geotiff import read_raster

DATA = Path(__file__).parent / "data"
GENUINE = sorted((DATA / "sen12mscr-real").glob("*_s2*/*/*.tif")) + sorted((DATA / "sen12mscr-no-target").glob("*_s2_cloudy_*.tif"))

needs_fast = pytest.mark.skipif(
    s2cloudless_fast.unavailable_reason() is not None, reason=f"compiled path: {s2cloudless_fast.unavailable_reason()}"
)


@pytest.fixture(scope="module")
def genuine() -> list[np.ndarray]:
    """`(13, H, W)` DN of every genuine S2 image (four 256-px SEN12MS-CR tiles, one 128-px crop)."""
    return [read_raster(p)[0] for p in GENUINE]


@needs_fast
def test_fast_equals_reference_on_genuine_sen12mscr_images(genuine: list[np.ndarray]) -> None:
    assert len(genuine) == 5
    covers = []
    for dn in genuine:
        fast, used = clouds.cloud_probabilities(dn[None], method="s2cloudless")
        ref, ref_used = clouds.cloud_probabilities(dn[None], method="s2cloudless-reference")
        assert (used, ref_used) == ("s2cloudless", "s2cloudless-reference")
        assert np.abs(fast - ref).max() < 1e-6
        f, r = clouds.mask_from_probability(fast[0]), clouds.mask_from_probability(ref[0])
        valid = dn.max(axis=0) > 0
        assert np.mean(f == r) >= 0.995
        assert abs(clouds.cloud_cover_pct(f, valid) - clouds.cloud_cover_pct(r, valid)) <= 0.5
        covers.append(clouds.cloud_cover_pct(r, valid))
    assert max(covers) > 50 and min(covers) < 5  # the set holds both cloudy and clear tiles


@needs_fast
def test_fast_reproduces_s2cloudless_authors_probabilities() -> None:
    crop = np.load(DATA / "s2cloudless-scene" / "crop.npz")
    dn = np.moveaxis(crop["s2_im"], -1, 0) * np.float32(10000)  # reflectance -> DN, as sarclear holds S2
    prob, _ = clouds.cloud_probabilities(dn[None], method="s2cloudless")
    assert np.abs(prob[0] - crop["cl_probs"]).max() < 1e-4
    # The authors' mask used s2cloudless's default post-processing (disk radius 1 for both steps).
    mask = clouds.mask_from_probability(prob, average_over=1, dilation_size=1)[0]
    inner = (slice(4, -4), slice(4, -4))  # the reference mask was smoothed over the full scene
    assert np.mean(mask[inner] == crop["cl_mask"][inner].astype(bool)) >= 0.995
    assert 30 < 100 * mask.mean() < 70


@needs_fast
def test_many_tiles_in_one_call_equal_one_at_a_time(genuine: list[np.ndarray]) -> None:
    together, _ = clouds.cloud_probabilities(np.stack([g[:, :64, :64] for g in genuine[:3]]), method="s2cloudless")
    for i in range(3):
        alone, _ = clouds.cloud_probability(genuine[i][:, :64, :64], method="s2cloudless")
        np.testing.assert_array_equal(together[i], alone)


def test_numpy_postprocessing_matches_s2cloudless_on_a_stack(genuine: list[np.ndarray]) -> None:
    prob, _ = clouds.cloud_probabilities(np.stack(genuine[:2]), method="brightness")
    ours = clouds.mask_from_probability(prob)
    theirs = clouds._detector().get_mask_from_prob(prob).astype(bool)
    assert np.mean(ours == theirs) > 0.999


def test_fallback_runs_s2cloudless_itself_when_the_compiled_path_is_missing(
    genuine: list[np.ndarray], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(s2cloudless_fast, "unavailable_reason", lambda: "the lightgbm package is not installed")
    clouds._say_fallback.cache_clear()
    with caplog.at_level(logging.WARNING):
        prob, used = clouds.cloud_probabilities(genuine[0][None, :, :32, :32], method="s2cloudless")
    assert used == "s2cloudless-reference"
    assert any("lightgbm" in r.getMessage() for r in caplog.records)
    ref, _ = clouds.cloud_probabilities(genuine[0][None, :, :32, :32], method="s2cloudless-reference")
    np.testing.assert_array_equal(prob, ref)


def test_fallback_in_curate_is_recorded_per_row(real_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    from sarclear.curate.measure import MeasureSettings
    from sarclear.curate.rules import Thresholds
    from sarclear.curate.run import curate

    monkeypatch.setattr(s2cloudless_fast, "unavailable_reason", lambda: "no C compiler")
    result = curate(real_root, tmp_path / "out", thresholds=Thresholds(), settings=MeasureSettings(), workers=1, progress=False)
    assert result.total == 2
    with (tmp_path / "out" / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["cloud_method"] for row in rows} == {"s2cloudless-reference"}
    fall = next(row for row in rows if "fall" in row["sample_id"])
    assert float(fall["cloud_cover_pct"]) > 30


def test_a_failed_build_falls_back_instead_of_stopping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SARCLEAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(s2cloudless_fast, "_build_failure", [])
    if s2cloudless_fast.unavailable_reason() is not None:
        pytest.skip(f"compiled path: {s2cloudless_fast.unavailable_reason()}")
    monkeypatch.setenv("CC", "false")  # a "compiler" that fails at once (exists on every POSIX system)

    assert s2cloudless_fast.prepare() is False
    assert "building it failed" in (s2cloudless_fast.unavailable_reason() or "")
    assert clouds.resolve_method("s2cloudless", 13) == "s2cloudless-reference"
    assert not list((tmp_path / "cache").rglob("*.so"))  # nothing half-built left behind


def test_first_use_outside_curate_builds_or_falls_back_without_raising(
    genuine: list[np.ndarray], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """evaluate, predict and adapt never call `prepare` first: their first cloud mask builds the
    booster (said on stderr), and a build that fails runs s2cloudless itself instead of stopping."""
    monkeypatch.setenv("SARCLEAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(s2cloudless_fast, "_build_failure", [])
    if s2cloudless_fast.unavailable_reason() is not None:
        pytest.skip(f"compiled path: {s2cloudless_fast.unavailable_reason()}")
    monkeypatch.setenv("CC", "false")
    clouds._say_fallback.cache_clear()
    tile = genuine[0][None, :, :32, :32]
    with caplog.at_level(logging.WARNING):
        prob, used = clouds.cloud_probabilities(tile, method="s2cloudless")
    assert used == "s2cloudless-reference"
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "compiling s2cloudless's booster once" in messages and "building it failed" in messages
    np.testing.assert_array_equal(prob, clouds.cloud_probabilities(tile, method="s2cloudless-reference")[0])


def test_a_damaged_cached_build_falls_back_and_says_which_folder_to_delete(
    genuine: list[np.ndarray], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if s2cloudless_fast.model_file() is None:
        pytest.skip("s2cloudless is not installed")
    monkeypatch.setenv("SARCLEAR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(s2cloudless_fast, "_build_failure", [])
    folder = s2cloudless_fast.library_dir(s2cloudless_fast.model_file())
    folder.mkdir(parents=True)
    (folder / s2cloudless_fast.LAYOUT_FILENAME).write_text("{not json")  # a cut-short copy of the cache
    clouds._say_fallback.cache_clear()
    with caplog.at_level(logging.WARNING):
        _, used = clouds.cloud_probabilities(genuine[0][None, :, :32, :32], method="s2cloudless")
    assert used == "s2cloudless-reference"
    assert f"delete {folder} to build it again" in " ".join(r.getMessage() for r in caplog.records)


def test_library_is_keyed_by_the_booster_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if s2cloudless_fast.model_file() is None:
        pytest.skip("s2cloudless is not installed")
    monkeypatch.setenv("SARCLEAR_CACHE_DIR", str(tmp_path))
    path = s2cloudless_fast.library_dir(s2cloudless_fast.model_file())
    assert path.parent == tmp_path / "s2cloudless"
    assert s2cloudless_fast.LAYOUT in path.name  # a new block layout is a new build, never an old library
    other = tmp_path / "other_model.txt"
    other.write_bytes(s2cloudless_fast.model_file().read_bytes() + b"\n")
    assert s2cloudless_fast.library_dir(other) != path
