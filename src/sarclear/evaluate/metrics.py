"""Per-image image-quality metrics, in physical units, as the SEN12MS-CR literature reports them.

Protocol: each metric is computed per image, then averaged over images (torchmetrics' PSNR would
pool the squared error over the whole batch unless given `dim`, which is not the same number).
Two scales, both reported (DESIGN.md):

* `reflectance`: DN / 10000 clipped to [0, 1], data range 1.0 (comparable with published tables);
* `display`: the 8-bit curation stretch, DN [0, 3000] -> [0, 255], data range 255.

SAM is in degrees, averaged over pixels. Everything is computed in float32, even under autocast.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    spectral_angle_mapper,
    structural_similarity_index_measure,
)

from sarclear.data.normalize import DISPLAY_MAX_DN, s2_from_network, to_display, to_reflectance

METRICS: tuple[str, ...] = ("psnr", "ssim", "sam", "mae", "rmse")
SCALES: dict[str, float] = {"reflectance": 1.0, "display": 255.0}


def image_metrics(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> dict[str, torch.Tensor]:
    """PSNR (dB), SSIM, SAM (degrees), MAE, RMSE of each image in a `(B, C, H, W)` batch -> `(B,)` each.

    PSNR of an exact reconstruction is infinite; it is capped at 100 dB so averages stay finite.
    """
    pred = pred.detach().float()
    target = target.detach().float()
    diff = pred - target
    mse = diff.pow(2).mean(dim=(1, 2, 3))
    psnr = peak_signal_noise_ratio(pred, target, data_range=data_range, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(pred, target, data_range=data_range, reduction="none")
    if pred.shape[1] > 1:
        sam = torch.rad2deg(spectral_angle_mapper(pred, target, reduction="none")).mean(dim=(1, 2))
    else:
        sam = torch.zeros_like(mse)
    return {
        "psnr": torch.nan_to_num(psnr, posinf=100.0).clamp(max=100.0),
        "ssim": ssim,
        "sam": sam,
        "mae": diff.abs().mean(dim=(1, 2, 3)),
        "rmse": mse.sqrt(),
    }


def to_scale(dn: torch.Tensor, scale: str) -> torch.Tensor:
    """S2 digital numbers -> the metric scale named by `scale` (`reflectance` or `display`)."""
    if scale == "reflectance":
        return to_reflectance(dn)
    if scale == "display":
        return to_display(dn, DISPLAY_MAX_DN)
    raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")


def network_metrics(pred: torch.Tensor, target: torch.Tensor, s2_clip_max: float) -> dict[str, torch.Tensor]:
    """Metrics of network-unit tensors on both scales: keys like `reflectance/psnr`, `display/ssim`."""
    pred_dn = s2_from_network(pred.detach().float(), s2_clip_max)
    target_dn = s2_from_network(target.detach().float(), s2_clip_max)
    out: dict[str, torch.Tensor] = {}
    for scale, data_range in SCALES.items():
        values = image_metrics(to_scale(pred_dn, scale), to_scale(target_dn, scale), data_range)
        out.update({f"{scale}/{name}": value for name, value in values.items()})
    return out
