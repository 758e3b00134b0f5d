"""Nodata is neither learnt nor scored: the L1 loss, a training step, the metrics and `evaluate`.

The reference for every masked number is the same computation on the tile cropped to its valid
part; an all-valid batch must give exactly the unmasked numbers (resume and speed rely on it).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F

from sarclear.data.manifest import CORE_COLUMNS, write_manifest
from sarclear.data.valid import valid_pixels
from sarclear.evaluate.metrics import SCALES, dn_metrics, image_metrics, region_metrics
from sarclear.evaluate.run import evaluate
from sarclear.models.losses import generator_losses, l1_loss
from sarclear.models.spec import ModelSpec
from sarclear.train.nets import build_networks, optimizer
from sarclear.train.precision import Precision
from sarclear.train.step import gan_step, valid_or_none
from tests.helpers import make_arrays, write_triplet

STRIPE = 16  # nodata columns on the left of a tile


def _stripe_mask(batch: int, size: int) -> torch.Tensor:
    valid = torch.ones(batch, 1, size, size)
    valid[..., :STRIPE] = 0
    return valid


def test_l1_ignores_invalid_pixels_and_matches_the_cropped_tile() -> None:
    torch.manual_seed(0)
    fake = torch.rand(2, 3, 32, 32, requires_grad=True)
    target = torch.rand(2, 3, 32, 32)
    valid = _stripe_mask(2, 32)
    loss = l1_loss(fake, target, valid)
    loss.backward()
    grad = fake.grad.clone()
    cropped = fake.detach()[..., STRIPE:].clone().requires_grad_(True)
    reference = F.l1_loss(cropped, target[..., STRIPE:])
    reference.backward()
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(grad[..., STRIPE:], cropped.grad)  # same gradient on the valid pixels
    assert torch.all(grad[..., :STRIPE] == 0)  # none reaches the fill
    planted = target.clone()
    planted[..., :STRIPE] = 1e6  # a wildly wrong target on invalid pixels changes nothing
    assert l1_loss(fake, planted, valid).item() == loss.item()
    _, weighted = generator_losses(torch.zeros(2, 1, 2, 2), fake, planted, lambda_l1=100.0, valid=valid)
    assert weighted.item() == pytest.approx(100.0 * loss.item())


def test_all_valid_batch_takes_the_unmasked_loss() -> None:
    assert valid_or_none(torch.ones(2, 1, 8, 8), torch.device("cpu")) is None
    mask = _stripe_mask(2, 32)
    assert torch.equal(valid_or_none(mask, torch.device("cpu")), mask)
    fake, target = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert torch.equal(l1_loss(fake, target, None), F.l1_loss(fake, target))


def _steps(target: torch.Tensor, valid: torch.Tensor | None, steps: int) -> torch.Tensor:
    generator, discriminator = build_networks(ModelSpec(ngf=4, n_down=5, tile_size=32), ndf=4, d_layers=2, seed=0)
    opt_g = optimizer(generator, lr=2e-4, betas=(0.5, 0.999))
    opt_d = optimizer(discriminator, lr=2e-4, betas=(0.5, 0.999))
    precision = Precision("32", "cpu")
    x = torch.randn(1, 5, 32, 32, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)  # dropout masks
    return torch.stack([
        gan_step(x, target, generator=generator, discriminator=discriminator, critic=discriminator, opt_g=opt_g,
                 opt_d=opt_d, scaler=precision.grad_scaler(), autocast=precision.autocast, lambda_l1=100.0,
                 gan_mode="vanilla", valid=valid)
        for _ in range(steps)
    ])


def test_a_training_step_does_not_see_the_target_under_nodata() -> None:
    target = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    valid = _stripe_mask(1, 32)
    planted = target.clone()
    planted[..., :STRIPE] = -1.0  # what a 0 DN fill looks like in network units
    clean, filled = _steps(target, valid, steps=1), _steps(planted, valid, steps=1)
    # G's L1 is computed from the same G(x) before any update: identical whatever lies under the fill.
    assert filled[0, 1].item() == clean[0, 1].item()
    assert _steps(planted, None, steps=1)[0, 1].item() != clean[0, 1].item()  # unmasked, the fill would count


def _noisy(target: torch.Tensor, seed: int) -> torch.Tensor:
    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(seed)) * 0.05
    return (target + noise).clamp(0, 1)


def test_a_nodata_stripe_scores_what_the_tile_cropped_to_its_valid_part_scores() -> None:
    target = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.2
    pred = _noisy(target, 1)
    target[..., :STRIPE] = 0.0  # fill in the target
    pred[..., :STRIPE] = torch.rand(2, 3, 64, STRIPE)  # whatever a model paints there
    valid = _stripe_mask(2, 64)
    masked = image_metrics(pred, target, 1.0, valid)
    cropped = image_metrics(pred[..., STRIPE:], target[..., STRIPE:], 1.0)
    unmasked = image_metrics(pred, target, 1.0)
    for name in masked:
        torch.testing.assert_close(masked[name], cropped[name], rtol=1e-5, atol=1e-5, msg=name)
    assert torch.all(unmasked["psnr"] < masked["psnr"] - 3)  # without the mask the fill dominates the score


def test_all_valid_mask_gives_exactly_the_unmasked_numbers() -> None:
    target = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    pred = _noisy(target, 1)
    cloud = torch.zeros(2, 48, 48, dtype=torch.bool)
    cloud[:, :20] = True
    plain = dn_metrics(pred * 10000, target * 10000, cloud)
    masked = dn_metrics(pred * 10000, target * 10000, cloud, torch.ones(2, 1, 48, 48))
    assert plain.keys() == masked.keys()
    for key in plain:
        assert torch.equal(plain[key], masked[key]), key


def test_region_metrics_count_valid_pixels_only() -> None:
    target = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.2
    pred = target.clone()
    pred[..., 32:] += 0.1
    target[..., :STRIPE] = 0.0
    pred[..., :STRIPE] = 1.0
    left = torch.zeros(1, 64, 64, dtype=torch.bool)
    left[..., :32] = True  # half fill, half perfect
    values = region_metrics(pred, target, 1.0, left, _stripe_mask(1, 64))
    assert values["mae"].item() == 0.0 and values["psnr"].item() == 100.0
    fill = ~_stripe_mask(1, 64)[:, 0].bool()
    nothing = region_metrics(pred, target, 1.0, fill, _stripe_mask(1, 64))  # a region lying wholly in the fill
    assert all(torch.isnan(v).all() for v in nothing.values())


def test_genuine_tile_with_a_fill_stripe_scores_as_its_valid_crop(real_root: Path) -> None:
    cloudy_path = next(real_root.glob("*_s2_cloudy/*/*.tif"))
    clear_path = Path(str(cloudy_path).replace("_s2_cloudy", "_s2").replace("s2_cloudy_", "s2_"))
    with rasterio.open(cloudy_path) as a, rasterio.open(clear_path) as b:
        cloudy, clear = a.read([4, 3, 2]).astype(np.float32), b.read([4, 3, 2]).astype(np.float32)
    clear[:, :, :40] = 0  # the swath edge: L1C fill
    valid = torch.from_numpy(valid_pixels(clear))[None]
    full = dn_metrics(torch.from_numpy(cloudy)[None], torch.from_numpy(clear)[None], valid=valid)
    crop = dn_metrics(torch.from_numpy(cloudy[..., 40:])[None], torch.from_numpy(clear[..., 40:])[None])
    for key in full:
        torch.testing.assert_close(full[key], crop[key], rtol=2e-5, atol=2e-5, msg=key)
    assert set(full) == {f"{s}/{m}" for s in SCALES for m in ("psnr", "ssim", "sam", "mae", "rmse")}


def _per_image(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {row["sample_id"]: row for row in csv.DictReader(handle)}


def test_evaluate_scores_a_striped_tile_as_its_valid_crop(tmp_path: Path) -> None:
    arrays = make_arrays(64, seed=5)
    arrays = {"s1": arrays["s1"], "s2": arrays["s2"][[3, 2, 1]], "s2_cloudy": arrays["s2_cloudy"][[3, 2, 1]]}
    arrays["s2"][:, :, :STRIPE] = 0  # the target has no data in the stripe
    rows = []
    for name, scene, tile in (("striped", 1, arrays), ("cropped", 2, {k: v[:, :, STRIPE:] for k, v in arrays.items()})):
        paths = write_triplet(tmp_path / "data", scene=scene, arrays=tile)
        rows.append({"sample_id": name, "season": "summer", "scene": scene, "patch": 1, "split": "test", "kept": True,
                     "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"], "s2_path": paths["s2"]})
    manifest = write_manifest(tmp_path / "manifest.csv", rows, CORE_COLUMNS)
    evaluate(manifest, tmp_path / "out", baselines=("identity",), batch_size=1, progress=False, gallery_per_category=0)
    scores = _per_image(tmp_path / "out" / "per_image.csv")
    for key in ("reflectance/psnr", "reflectance/ssim", "reflectance/sam", "display/mae", "display/rmse"):
        assert float(scores["striped"][key]) == pytest.approx(float(scores["cropped"][key]), rel=1e-5, abs=1e-5), key
