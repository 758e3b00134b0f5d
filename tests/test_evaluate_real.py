"""`sarclear evaluate --baseline identity` on the two genuine SEN12MS-CR triplets, checked against scikit-image."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sarclear.cli import main
from sarclear.data.layout import find_triplets
from sarclear.data.manifest import CORE_COLUMNS, write_manifest


def independent_scores(cloudy_path, clear_path) -> dict[str, tuple[float, float]]:
    """PSNR/SSIM of the cloudy RGB against the clear RGB on both scales, with rasterio + scikit-image only."""
    images = []
    for path in (cloudy_path, clear_path):
        with rasterio.open(path) as src:
            images.append(src.read([4, 3, 2]).astype(np.float64))  # B4, B3, B2
    cloudy, clear = images
    scales = {
        "reflectance": (lambda dn: np.clip(dn / 10000.0, 0.0, 1.0), 1.0),
        "display": (lambda dn: np.clip(dn, 0.0, 3000.0) / 3000.0 * 255.0, 255.0),
    }
    out = {}
    for scale, (convert, data_range) in scales.items():
        pred, target = convert(cloudy), convert(clear)
        psnr = peak_signal_noise_ratio(target, pred, data_range=data_range)
        ssim = structural_similarity(
            target, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range,
            channel_axis=0,
        )
        out[scale] = (psnr, ssim)
    return out


@pytest.fixture(scope="module")
def identity_run(real_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval_real")
    triplets = find_triplets(real_root)
    rows = [
        {"sample_id": t.sample_id, "season": t.season, "scene": t.scene, "patch": t.patch, "split": t.split,
         "s1_path": t.s1_path, "s2_cloudy_path": t.s2_cloudy_path, "s2_path": t.s2_path, "kept": True}
        for t in triplets
    ]
    manifest = write_manifest(tmp / "manifest.csv", rows, CORE_COLUMNS)
    out = tmp / "out"
    code = main(["evaluate", "--baseline", "identity", "--manifest", str(manifest), "--out", str(out),
                 "--split", "all", "--workers", "2", "--quiet"])
    assert code == 0
    return triplets, out


def test_identity_matches_scikit_image(identity_run):
    triplets, out = identity_run
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["n_tiles"] == 2 and list(summary["methods"]) == ["identity"]
    results = summary["results"]["identity"]
    expected = {t.season: independent_scores(t.s2_cloudy_path, t.s2_path) for t in triplets}
    for scale in ("reflectance", "display"):
        for k, metric in enumerate(("psnr", "ssim")):
            tolerance = 1e-4 if metric == "psnr" else 2e-5
            per_tile = [expected[season][scale][k] for season in expected]
            assert results["overall"][scale][metric]["mean"] == pytest.approx(np.mean(per_tile), abs=tolerance)
            for season, scores in expected.items():
                assert results["by_season"][season][scale][metric]["mean"] == pytest.approx(scores[scale][k], abs=tolerance)


def test_genuine_tiles_use_s2cloudless_and_bin_by_mask(identity_run):
    _, out = identity_run
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["protocol"]["cloud_mask"]["methods"] == {"s2cloudless": 2}
    assert summary["protocol"]["cloud_cover"]["sources"] == {"mask": 2}
    with (out / "per_image.csv").open() as handle:
        rows = {row["season"]: row for row in csv.DictReader(handle)}
    # The fall tile's cumulus covers much of it; the winter tile is hazy, which s2cloudless largely misses.
    assert float(rows["fall"]["cloud_cover_pct"]) > float(rows["winter"]["cloud_cover_pct"])
    bins = summary["results"]["identity"]["by_cloud_cover"]
    assert sum(group["n"] for group in bins.values()) == 2
    cloud = summary["results"]["identity"]["by_region"]["cloud"]["reflectance"]["psnr"]["mean"]
    clear = summary["results"]["identity"]["by_region"]["clear"]["reflectance"]["psnr"]["mean"]
    assert cloud < clear  # the cloudy input is further from the target under its clouds
