"""One rule for valid pixels, and the same answer from curate, the dataset and predict.

The rule itself is checked pixel by pixel (with SEN12MS-CR's one-band 0 dB clipping, on a genuine
tile); then each stage is run on files with a planted nodata stripe and compared with the rule,
or with the same tile cropped to its valid part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from sarclear.curate import stats
from sarclear.curate.measure import MeasureSettings, measure_triplet
from sarclear.data.dataset import TripletDataset
from sarclear.data.manifest import Sample
from sarclear.data.triplet import read_triplet
from sarclear.data.valid import valid_pixels
from sarclear.io import write_raster
from tests.helpers import make_arrays, write_triplet
from tests.test_predict import CRS, TRANSFORM, read, run_identity


def test_optical_fill_is_every_band_zero_or_every_band_the_declared_nodata() -> None:
    dn = np.full((3, 2, 3), 1000, np.uint16)
    dn[:, 0, 0] = 0  # L1C / SEN12MS-CR fill
    dn[0, 0, 1] = 0  # one dark band: still a measurement
    dn[:, 1, 0] = 9  # every band the declared nodata
    dn[1, 1, 1] = 9  # one band at the declared value: kept
    assert valid_pixels(dn).tolist() == [[False, True, True], [True, True, True]]
    assert valid_pixels(dn, s2_nodata=9).tolist() == [[False, True, True], [False, True, True]]
    reflectance = dn.astype(np.float32) / 10000
    reflectance[2, 1, 2] = np.nan
    assert valid_pixels(reflectance, s2_nodata=float("nan")).tolist() == [[False, True, True], [True, True, False]]


def test_sar_fill_is_both_polarisations_at_zero_not_one() -> None:
    db = np.full((2, 2, 3), -12.0, np.float32)
    db[:, 0, 0] = 0.0  # GRD border fill: both bands exactly 0
    db[0, 0, 1] = 0.0  # a strong reflector clipped at 0 dB in VV only (SEN12MS-CR)
    db[1, 1, 0] = -np.inf  # 10 log10 of a linear 0
    db[:, 1, 1] = -9999.0
    db[0, 1, 2] = -9999.0
    assert valid_pixels(s1=db).tolist() == [[False, True, True], [False, True, True]]
    assert valid_pixels(s1=db, s1_nodata=-9999.0).tolist() == [[False, True, True], [False, False, True]]
    assert valid_pixels(s1=db, s1_nodata=0.0).tolist() == valid_pixels(s1=db).tolist()
    optical = np.full((3, 2, 3), 500, np.uint16)
    optical[:, 0, 2] = 0
    assert valid_pixels(optical, db).tolist() == [[False, True, False], [False, True, True]]
    with pytest.raises(ValueError, match="2, H, W"):
        valid_pixels(s1=db[:1])


def test_genuine_tile_with_0_db_clipping_is_all_valid(real_root: Path) -> None:
    path = next(real_root.glob("ROIs1970_fall_s1/*/*.tif"))
    with rasterio.open(path) as src:
        db = src.read()
    assert np.any(db == 0) and not np.any(np.all(db == 0, axis=0))  # the clipping case is in this tile
    assert valid_pixels(s1=db).all()


def striped_triplet(size: int = 48, stripe: int = 12) -> dict[str, np.ndarray]:
    """A textured triplet whose first `stripe` columns are fill: clear S2 zero, S1 zero in both bands."""
    arrays = make_arrays(size, seed=4)
    arrays["s2"][:, :, :stripe] = 0
    arrays["s1"][:, :6, stripe : stripe + 4] = 0.0  # S1 fill inside the optical data too
    arrays["s1"][0, 20:30, 30] = 0.0  # VV clipped at 0 dB: valid
    return arrays


def expected_valid(arrays: dict[str, np.ndarray]) -> np.ndarray:
    return valid_pixels(arrays["s2_cloudy"], arrays["s1"]) & valid_pixels(arrays["s2"])


def test_curate_counts_nodata_and_measures_statistics_on_valid_pixels_only(tmp_path: Path) -> None:
    arrays = striped_triplet()
    valid = expected_valid(arrays)
    assert 0 < valid.mean() < 1
    striped = write_triplet(tmp_path / "striped", arrays=arrays)
    # The same scene cropped to its optical data (columns 12..), with S1 fill still where it was.
    cropped = write_triplet(tmp_path / "cropped", arrays={k: v[:, :, 12:] for k, v in arrays.items()})
    settings = MeasureSettings(cloud_method="none")
    got, ref = measure_triplet(striped, settings), measure_triplet(cropped, settings)
    assert got["nodata_frac"] == pytest.approx(1 - valid.mean())
    assert got["s2_nodata_frac"] == pytest.approx(12 / 48) and got["s2_cloudy_nodata_frac"] == 0.0
    assert got["s1_nodata_frac"] == pytest.approx(1 - valid_pixels(s1=arrays["s1"]).mean())
    for key in ("contrast_sigma", "saturated_frac"):  # the target's contrast: as if the stripe were not there
        assert got[key] == pytest.approx(ref[key], rel=1e-6), key
    assert got["contrast_sigma"] != pytest.approx(stats.contrast_stats(arrays["s2"][[3, 2, 1]], 3000.0)["contrast_sigma"])
    sar_data = valid_pixels(s1=arrays["s1"])  # each file on its own data: S1 is measured under the optical stripe too
    for index, name in enumerate(("vv", "vh")):
        band = arrays["s1"][index][sar_data].astype(np.float64)
        assert got[f"{name}_mean"] == pytest.approx(band.mean(), rel=1e-6)
        assert got[f"{name}_std"] == pytest.approx(band.std(), rel=1e-6)
    # the same rule as the one function, file by file
    assert np.array_equal(stats.s2_nodata_mask(arrays["s2"]), ~valid_pixels(arrays["s2"]))
    assert np.array_equal(stats.s1_nodata_mask(arrays["s1"], 0.0), ~valid_pixels(s1=arrays["s1"]))


def test_dataset_mask_is_the_rule_and_moves_with_the_flips(tmp_path: Path) -> None:
    arrays = striped_triplet()
    paths = write_triplet(tmp_path, arrays=arrays)
    assert np.array_equal(read_triplet(paths["s1"], paths["s2_cloudy"], paths["s2"]).valid_mask, expected_valid(arrays))
    sample = Sample("t", "summer", "1", "1", "train", paths["s1"], paths["s2_cloudy"], paths["s2"], True, ())
    plain = TripletDataset([sample])[0]
    assert np.array_equal(plain["valid_mask"][0].numpy() > 0, expected_valid(arrays))
    dataset = TripletDataset([sample], augment=True, seed=1)
    for epoch in range(8):
        dataset.set_epoch(epoch)
        item = dataset[0]
        mask = item["valid_mask"][0] > 0
        target_fill = (item["clear"] == -1).all(dim=0)  # 0 DN is -1 in network units
        sar_fill = (item["sar"] == 1).all(dim=0)  # 0 dB is the top of both clips: +1
        assert not (mask & (target_fill | sar_fill)).any()
        assert mask.sum() == int(expected_valid(arrays).sum())


def test_predict_writes_nodata_exactly_where_the_rule_says_invalid(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    s2 = rng.integers(200, 4000, (13, 70, 90)).astype(np.uint16)
    s2[:, :10, :] = 0  # fill
    s2[:, 30:34, 40:50] = 9  # every band the declared nodata
    s2[3, 40, 40] = 9  # one band (B4) at it: data
    s1 = np.stack([rng.normal(-10, 3, (70, 90)), rng.normal(-17, 3, (70, 90))]).astype(np.float32)
    s1[:, 50:60, 60:70] = 0.0  # S1 border fill
    s1[0, 20:25, 5:15] = 0.0  # VV clipped at 0 dB
    s1[1, 45, 80] = np.nan
    s1_path = write_raster(tmp_path / "s1.tif", s1, crs=CRS, transform=TRANSFORM, nodata=0.0)  # declared 0 must not drop VV = 0
    s2_path = write_raster(tmp_path / "s2.tif", s2, crs=CRS, transform=TRANSFORM, nodata=9)
    got, _, _ = read(run_identity(s1_path, s2_path, tmp_path / "out.tif"))
    valid = valid_pixels(s2[[3, 2, 1]], s1, s2_nodata=9)
    assert valid[20:25, 5:15].all() and valid[40, 40] and not valid[45, 80]
    assert np.array_equal(np.all(got == 0, axis=0), ~valid)
