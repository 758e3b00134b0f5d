"""Metrics agree with scikit-image on genuine tiles, per image, and restrict correctly to regions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sarclear.evaluate.metrics import SCALES, dn_metrics, image_metrics, network_metrics, region_metrics, to_scale


def skimage_scores(pred: np.ndarray, target: np.ndarray, data_range: float) -> tuple[float, float]:
    """PSNR and SSIM of one channel-first image exactly as the literature's scikit-image call makes them."""
    pred, target = pred.astype(np.float64), target.astype(np.float64)
    psnr = peak_signal_noise_ratio(target, pred, data_range=data_range)
    ssim = structural_similarity(
        target, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range, channel_axis=0
    )
    return float(psnr), float(ssim)


def read_rgb_dn(path) -> np.ndarray:
    """B4, B3, B2 of a 13-band SEN12MS-CR file, read with rasterio alone (independent of sarclear)."""
    with rasterio.open(path) as src:
        return src.read([4, 3, 2]).astype(np.float32)


@pytest.fixture(scope="module")
def genuine_pairs(real_root) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = []
    for cloudy in sorted(real_root.glob("*_s2_cloudy/*/*.tif")):
        clear = real_root / cloudy.relative_to(real_root).as_posix().replace("_s2_cloudy", "_s2").replace("s2_cloudy_", "s2_")
        pairs.append((read_rgb_dn(cloudy), read_rgb_dn(clear)))
    assert len(pairs) == 2
    return pairs


@pytest.mark.parametrize("scale", list(SCALES))
def test_psnr_ssim_match_scikit_image_on_genuine_tiles(genuine_pairs, scale):
    data_range = SCALES[scale]
    for cloudy_dn, clear_dn in genuine_pairs:
        pred, target = to_scale(torch.from_numpy(cloudy_dn), scale), to_scale(torch.from_numpy(clear_dn), scale)
        ours = image_metrics(pred[None], target[None], data_range)
        psnr, ssim = skimage_scores(pred.numpy(), target.numpy(), data_range)
        assert ours["psnr"].item() == pytest.approx(psnr, abs=1e-4)
        assert ours["ssim"].item() == pytest.approx(ssim, abs=2e-5)


def test_metrics_are_per_image_not_pooled_over_the_batch():
    rng = np.random.default_rng(0)
    target = rng.uniform(0.2, 0.8, (2, 3, 40, 40)).astype(np.float32)
    noise = np.stack([np.full((3, 40, 40), 0.01), rng.normal(0, 0.2, (3, 40, 40))]).astype(np.float32)
    pred = np.clip(target + noise, 0, 1)
    ours = image_metrics(torch.from_numpy(pred), torch.from_numpy(target), 1.0)
    for i in range(2):
        psnr, ssim = skimage_scores(pred[i], target[i], 1.0)
        assert ours["psnr"][i].item() == pytest.approx(psnr, abs=1e-4)
        assert ours["ssim"][i].item() == pytest.approx(ssim, abs=2e-5)
    assert ours["psnr"][0].item() == pytest.approx(40.0, abs=1e-3)  # constant error 0.01 -> exactly 40 dB


def test_exact_prediction_is_capped_and_sam_ignores_all_zero_pixels():
    target = torch.rand(1, 3, 32, 32)
    target[..., :4, :] = 0.0  # SEN12MS-CR nodata: all bands zero, spectral angle undefined
    ours = image_metrics(target.clone(), target, 1.0)
    assert ours["psnr"].item() == 100.0
    assert ours["ssim"].item() == pytest.approx(1.0, abs=1e-5)
    assert math.isfinite(ours["sam"].item()) and ours["sam"].item() < 0.1


def test_region_metrics_restrict_to_the_mask():
    target = torch.rand(1, 3, 32, 32)
    pred = target.clone()
    pred[..., :, 16:] += 0.1  # error only in the right half
    right = torch.zeros(1, 32, 32, dtype=torch.bool)
    right[..., 16:] = True
    inside = region_metrics(pred, target, 1.0, right)
    outside = region_metrics(pred, target, 1.0, ~right)
    assert inside["mae"].item() == pytest.approx(0.1, abs=1e-6)
    assert inside["psnr"].item() == pytest.approx(20.0, abs=1e-3)
    assert outside["mae"].item() == 0.0 and outside["psnr"].item() == 100.0
    whole = image_metrics(pred, target, 1.0)
    everywhere = region_metrics(pred, target, 1.0, torch.ones_like(right))
    for name in ("psnr", "mae", "rmse", "sam"):
        assert everywhere[name].item() == pytest.approx(whole[name].item(), rel=1e-5, abs=1e-6)
    empty = region_metrics(pred, target, 1.0, torch.zeros_like(right))
    assert all(math.isnan(v.item()) for v in empty.values())


def test_dn_metrics_keys_and_network_metrics_unchanged():
    dn = torch.rand(2, 3, 32, 32) * 4000
    mask = torch.zeros(2, 32, 32, dtype=torch.bool)
    mask[0, :8] = True
    values = dn_metrics(dn * 1.1, dn, mask)
    assert {"reflectance/psnr", "display/ssim", "reflectance/cloud/mae", "display/clear/rmse"} <= set(values)
    assert math.isnan(values["reflectance/cloud/psnr"][1].item())  # tile 1 has no cloud pixel
    net = network_metrics(dn / 5000 - 1, dn / 5000 - 1, 10000.0)
    assert set(net) == {f"{s}/{m}" for s in SCALES for m in ("psnr", "ssim", "sam", "mae", "rmse")}
    assert torch.all(net["reflectance/psnr"] == 100.0)
