"""Per-image image-quality metrics, in physical units, as the SEN12MS-CR literature reports them.

Protocol: each metric is computed per image, then averaged over images (torchmetrics' PSNR would
pool the squared error over the whole batch unless given `dim`, which is not the same number).
Two scales, both reported (DESIGN.md):

* `reflectance`: DN / 10000 clipped to [0, 1], data range 1.0 (comparable with published tables);
* `display`: the 8-bit curation stretch, DN [0, 3000] -> [0, 255] (not rounded), data range 255.

SSIM follows Wang et al. (2004) exactly as scikit-image's `structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=R, channel_axis=0)`:
11-tap Gaussian window (sigma 1.5, truncated at 3.5 sigma), K1 = 0.01, K2 = 0.03, population
covariance, mean over channels and over the pixels at least 5 px from the border. torchmetrics
(>= 1.x) averages its SSIM map over the *whole* image, borders reflect-padded, which differs from
scikit-image by ~0.002 on SEN12MS-CR tiles; we therefore take torchmetrics' full SSIM map and crop
the 5 px border ourselves. SSIM is computed on values divided by the data range (with range 1):
SSIM is invariant to that scaling, and float32's E[x^2] - E[x]^2 would otherwise lose ~1e-5 at the
0-255 scale. Both points are checked against scikit-image in `tests/test_evaluate_metrics.py`.

SAM is in degrees, averaged over the pixels where it is defined (a pixel whose prediction or target
is all zero has no spectral angle). Everything is computed in float32, even under autocast.

Region metrics (inside / outside the cloud mask) are the same formulas restricted to a pixel mask;
their SSIM is the mean of the SSIM map over the region's pixels (each window still sees its whole
11 x 11 neighbourhood, across the region boundary; borders reflect-padded).

Valid pixels (`sarclear.data.valid`: the target, the cloudy input and S1 all hold data) are the
only ones scored when a `valid` mask is given: PSNR, MAE, RMSE and SAM are means over them, and
SSIM is the mean of the map over the valid pixels whose whole 11 x 11 window is valid (the
generalisation of scikit-image's border crop: a window that sees fill is not scored, just as one
that would see past the tile edge is not). A tile with a nodata stripe therefore scores what the
same tile cropped to its valid part scores, and an image whose pixels are all valid gets exactly
the numbers of the unmasked formulas (they are used for it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import spectral_angle_mapper, structural_similarity_index_measure

from sarclear.data.normalize import DISPLAY_MAX_DN, s2_from_network, to_display, to_reflectance

METRICS: tuple[str, ...] = ("psnr", "ssim", "sam", "mae", "rmse")
SCALES: dict[str, float] = {"reflectance": 1.0, "display": 255.0}
#: Regions of a tile for the masked breakdown: inside and outside the cloud mask of the cloudy input.
REGIONS: tuple[str, ...] = ("cloud", "clear")
#: PSNR of an exact reconstruction is infinite; it is capped so averages stay finite.
PSNR_CAP_DB = 100.0
#: Wang et al. (2004) SSIM settings, the defaults of torchmetrics and scikit-image (gaussian_weights).
SSIM_SIGMA = 1.5
SSIM_KERNEL = 11  # 2 * int(3.5 * sigma + 0.5) + 1, scikit-image's window for sigma 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_BORDER = (SSIM_KERNEL - 1) // 2

#: How the numbers are made, written into metrics.json so results stay interpretable.
PROTOCOL: dict[str, object] = {
    "averaging": "each metric per image (all valid pixels and channels of the tile), then mean over images",
    "valid_pixels": "pixels where the target, the cloudy input and S1 hold data (sarclear.data.valid); only they are "
    "scored; SSIM over valid pixels whose whole window is valid",
    "psnr": f"10*log10(data_range^2 / MSE), capped at {PSNR_CAP_DB:g} dB",
    "ssim": {
        "window": "gaussian",
        "kernel_size": SSIM_KERNEL,
        "sigma": SSIM_SIGMA,
        "k1": SSIM_K1,
        "k2": SSIM_K2,
        "covariance": "population (scikit-image use_sample_covariance=False)",
        "border": f"mean over pixels at least {SSIM_BORDER} px from the tile border (as scikit-image)",
        "channels": "mean over channels",
        "equivalent": "skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, "
        "use_sample_covariance=False, data_range=R, channel_axis=0)",
    },
    "sam": "spectral angle in degrees, mean over pixels where defined",
    "mae_rmse": "in the units of the scale (reflectance or 8-bit levels)",
    "scales": {
        "reflectance": {"transform": "DN / 10000 clipped to [0, 1]", "data_range": SCALES["reflectance"]},
        "display": {
            "transform": f"DN clipped to [0, {DISPLAY_MAX_DN:g}] scaled to [0, 255], not rounded",
            "data_range": SCALES["display"],
        },
    },
    "regions": "per image inside (cloud) / outside (clear) the cloud mask, averaged over images having such "
    "pixels; SSIM = mean of the SSIM map over the region (borders reflect-padded)",
}


def _cap_psnr(mse: torch.Tensor, data_range: float) -> torch.Tensor:
    psnr = 10.0 * torch.log10(data_range**2 / mse)
    return torch.nan_to_num(psnr, nan=float("nan"), posinf=PSNR_CAP_DB).clamp(max=PSNR_CAP_DB)


def _ssim_map(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> torch.Tensor:
    """`(B, H, W)` SSIM map (channel mean), borders reflect-padded, computed on [0, 1]-scaled values."""
    _, full = structural_similarity_index_measure(
        pred / data_range,
        target / data_range,
        gaussian_kernel=True,
        sigma=SSIM_SIGMA,
        kernel_size=SSIM_KERNEL,
        data_range=1.0,
        k1=SSIM_K1,
        k2=SSIM_K2,
        reduction="none",
        return_full_image=True,
    )
    return full.mean(dim=1)


def _sam_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """`(B, H, W)` spectral angle in degrees; NaN where a vector is all zero; zeros for one band."""
    if pred.shape[1] < 2:
        return torch.zeros_like(pred[:, 0])
    return torch.rad2deg(spectral_angle_mapper(pred, target, reduction="none"))


def _prepare(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return pred.detach().float(), target.detach().float()


def _pixel_maps(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> dict[str, torch.Tensor]:
    """`(B, H, W)` per-pixel maps every metric reduces: squared and absolute error (channel mean),
    spectral angle, SSIM. Computed once and reduced over the whole tile and over each region."""
    pred, target = _prepare(pred, target)
    diff = pred - target
    return {
        "se": diff.pow(2).mean(dim=1),
        "ae": diff.abs().mean(dim=1),
        "sam": _sam_map(pred, target),
        "ssim": _ssim_map(pred, target, data_range),
    }


def _reduce_whole(maps: dict[str, torch.Tensor], data_range: float) -> dict[str, torch.Tensor]:
    mse = maps["se"].mean(dim=(1, 2))
    b = SSIM_BORDER
    return {
        "psnr": _cap_psnr(mse, data_range),
        "ssim": maps["ssim"][:, b:-b, b:-b].mean(dim=(1, 2)),
        "sam": torch.nanmean(maps["sam"], dim=(1, 2)),
        "mae": maps["ae"].mean(dim=(1, 2)),
        "rmse": mse.sqrt(),
    }


def _pixel_mask(mask: torch.Tensor, maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """A `(B, H, W)` or `(B, 1, H, W)` mask (bool or 1/0) as `(B, H, W)` bool on the maps' device."""
    if mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if mask.shape != maps["se"].shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match the images' {tuple(maps['se'].shape)}")
    return mask.to(device=maps["se"].device).bool()


def _windows_on(valid: torch.Tensor) -> torch.Tensor:
    """`(B, H, W)` bool: valid pixels whose whole SSIM window lies on valid pixels (the tile edge
    does not count here: it is reflect-padded, and the whole-tile reduction crops it separately)."""
    invalid = (~valid).to(torch.float32)[:, None]
    touched = F.max_pool2d(invalid, SSIM_KERNEL, stride=1, padding=SSIM_BORDER)[:, 0]
    return touched == 0


def _interior(maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """`(H, W)` bool: pixels at least `SSIM_BORDER` px from the tile border (scikit-image's crop)."""
    inside = torch.zeros(maps["se"].shape[-2:], dtype=torch.bool, device=maps["se"].device)
    b = SSIM_BORDER
    inside[b:-b, b:-b] = True
    return inside


def _reduce_region(
    maps: dict[str, torch.Tensor], data_range: float, mask: torch.Tensor, ssim_mask: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """The metrics over the pixels of `mask`; SSIM over `ssim_mask` when given (else `mask`)."""
    mask = _pixel_mask(mask, maps)
    weight = mask.to(dtype=torch.float32)
    ssim_weight = weight if ssim_mask is None else ssim_mask.to(dtype=torch.float32)
    count = weight.sum(dim=(1, 2))
    empty = count == 0

    def region_mean(per_pixel: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        value = (torch.nan_to_num(per_pixel) * w).sum(dim=(1, 2)) / w.sum(dim=(1, 2)).clamp(min=1.0)
        return value.masked_fill(empty | (w.sum(dim=(1, 2)) == 0), float("nan"))

    mse = region_mean(maps["se"], weight)
    return {
        "psnr": _cap_psnr(mse, data_range),
        "ssim": region_mean(maps["ssim"], ssim_weight),
        "sam": region_mean(maps["sam"], weight * torch.isfinite(maps["sam"])),
        "mae": region_mean(maps["ae"], weight),
        "rmse": mse.sqrt(),
    }


def _reduce_valid(maps: dict[str, torch.Tensor], data_range: float, valid: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Whole-tile metrics over the valid pixels; an image with every pixel valid gets `_reduce_whole`'s values."""
    whole = _reduce_whole(maps, data_range)
    if valid is None:
        return whole
    valid = _pixel_mask(valid, maps)
    masked = _reduce_region(maps, data_range, valid, _windows_on(valid) & _interior(maps))
    all_valid = valid.all(dim=-1).all(dim=-1)
    return {name: torch.where(all_valid, whole[name], masked[name]) for name in whole}


def _reduce_region_valid(
    maps: dict[str, torch.Tensor], data_range: float, mask: torch.Tensor, valid: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """Region metrics over the region's valid pixels (SSIM: those whose window is all valid)."""
    mask = _pixel_mask(mask, maps)
    if valid is None:
        return _reduce_region(maps, data_range, mask)
    valid = _pixel_mask(valid, maps)
    return _reduce_region(maps, data_range, mask & valid, mask & _windows_on(valid))


def image_metrics(
    pred: torch.Tensor, target: torch.Tensor, data_range: float, valid: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """PSNR (dB), SSIM, SAM (degrees), MAE, RMSE of each image in a `(B, C, H, W)` batch -> `(B,)` each.

    With `valid` `(B, H, W)` or `(B, 1, H, W)` only valid pixels count (module docstring); an
    image without a valid pixel gets NaN.
    """
    return _reduce_valid(_pixel_maps(pred, target, data_range), data_range, valid)


def region_metrics(
    pred: torch.Tensor, target: torch.Tensor, data_range: float, mask: torch.Tensor, valid: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """The `image_metrics` of each image restricted to the pixels where `mask` `(B, H, W)` is true.

    An image with no (valid) pixel in the region gets NaN for every metric, so that averages over
    images can skip it (`nanmean`) rather than count it as zero.
    """
    return _reduce_region_valid(_pixel_maps(pred, target, data_range), data_range, mask, valid)


def to_scale(dn: torch.Tensor, scale: str) -> torch.Tensor:
    """S2 digital numbers -> the metric scale named by `scale` (`reflectance` or `display`)."""
    if scale == "reflectance":
        return to_reflectance(dn)
    if scale == "display":
        return to_display(dn, DISPLAY_MAX_DN)
    raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")


def dn_metrics(
    pred_dn: torch.Tensor,
    target_dn: torch.Tensor,
    cloud_mask: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Metrics of S2 DN tensors on both scales: keys `reflectance/psnr`, `display/ssim`, ...

    With a `(B, H, W)` boolean `cloud_mask`, also `reflectance/cloud/psnr` (inside the mask) and
    `reflectance/clear/psnr` (outside), and so on for every scale and metric. With a `valid` mask
    (a batch's `valid_mask`) every number counts valid pixels only.
    """
    out: dict[str, torch.Tensor] = {}
    for scale, data_range in SCALES.items():
        maps = _pixel_maps(to_scale(pred_dn.float(), scale), to_scale(target_dn.float(), scale), data_range)
        out.update({f"{scale}/{name}": value for name, value in _reduce_valid(maps, data_range, valid).items()})
        if cloud_mask is not None:
            mask = cloud_mask.bool()
            for region, region_mask in zip(REGIONS, (mask, ~mask)):
                values = _reduce_region_valid(maps, data_range, region_mask, valid)
                out.update({f"{scale}/{region}/{name}": value for name, value in values.items()})
    return out


def network_metrics(
    pred: torch.Tensor, target: torch.Tensor, s2_clip_max: float, valid: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Metrics of network-unit tensors on both scales: keys like `reflectance/psnr`, `display/ssim`."""
    pred_dn = s2_from_network(pred.detach().float(), s2_clip_max)
    target_dn = s2_from_network(target.detach().float(), s2_clip_max)
    return dn_metrics(pred_dn, target_dn, valid=valid)
