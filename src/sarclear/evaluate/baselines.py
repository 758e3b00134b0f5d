"""Reference methods that need no training, evaluated in the same table as the models.

A baseline maps `(sar, cloudy_dn, cloud, valid)` to a prediction in S2 digital numbers: `sar` is the
`(B, 2, H, W)` network-unit SAR batch, `cloudy_dn` the `(B, C, H, W)` cloudy input in DN, `cloud`
the `(B, H, W)` bool cloud mask evaluate scores inside, `valid` the `(B, 1, H, W)` valid-pixel mask
(1 where the data hold values). Outside the cloud mask every baseline returns the cloudy input.

* `identity` (the cloudy input returned unchanged) is the floor every cloud-removal method must
  beat, and the only number that depends on the data alone; the SEN12MS-CR papers report it as
  "cloudy input".
* `mean-fill` sets every cloudy pixel to the tile's mean clear colour (the mean over the valid
  pixels outside the mask). It has no structure, but PSNR rewards the mean, so on partly cloudy
  tiles it is a strong PSNR reference (issue 13: about 32 dB inside clouds on genuine tiles).
* `biharmonic` inpaints the mask from its surroundings with scikit-image's `inpaint_biharmonic`
  (Damelin & Hoang 2018): smooth continuation of the edges around each hole, the classic
  non-learned inpainting, and a strong SSIM reference under small clouds.
* `push-pull` grades the mask in from the clear pixels around it through an image pyramid
  (`sarclear.data.hole_fill`, Gortler et al. 1996): the fill `adapt`'s fitted model starts from
  and corrects, so `adapt` beside `push-pull` shows what the fit adds. Milliseconds per tile.

A tile with no clear valid pixel has nothing to take a colour or an edge from: `mean-fill` and
`biharmonic` return its cloudy input (they score as `identity` there).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from sarclear.data.hole_fill import pushpull_fill
from sarclear.errors import ConfigError

Predictor = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def mean_fill_array(cloudy_dn: np.ndarray, cloud: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """`(C, H, W)` DN with the `(H, W)` mask `cloud` set to the mean colour of the clear valid pixels."""
    clear = ~cloud if valid is None else (~cloud & valid)
    if not clear.any():
        return cloudy_dn.astype(np.float32)
    colour = cloudy_dn[:, clear].astype(np.float64).mean(axis=1)
    return np.where(cloud[None], colour[:, None, None], cloudy_dn).astype(np.float32)


def _inpaint_cloud(cloudy_dn: np.ndarray, cloud: np.ndarray, valid: np.ndarray | None,
                   inpaint: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """`cloudy_dn` with `cloud` replaced by `inpaint(dn, hide)` (a `(C, H, W)` fill of the pixels
    `hide` from the others). Invalid (nodata) pixels are hidden too, so a fill value never acts as a
    source or boundary condition, but only the cloud mask is replaced in the output."""
    hide = cloud if valid is None else (cloud | ~valid)
    if not cloud.any() or hide.all():
        return cloudy_dn.astype(np.float32)
    return np.where(cloud[None], inpaint(cloudy_dn, hide), cloudy_dn).astype(np.float32)


def _biharmonic(cloudy_dn: np.ndarray, hide: np.ndarray) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    image = cloudy_dn.astype(np.float64).transpose(1, 2, 0) / 10000.0  # reflectance: a well-scaled system
    return inpaint_biharmonic(image, hide, channel_axis=-1).transpose(2, 0, 1) * 10000.0


def biharmonic_array(cloudy_dn: np.ndarray, cloud: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """`(C, H, W)` DN with the `(H, W)` mask `cloud` inpainted biharmonically from the clear valid pixels."""
    return _inpaint_cloud(cloudy_dn, cloud, valid, _biharmonic)


def pushpull_array(cloudy_dn: np.ndarray, cloud: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """`(C, H, W)` DN with the `(H, W)` mask `cloud` graded in from the clear valid pixels (push-pull)."""
    return _inpaint_cloud(cloudy_dn, cloud, valid, lambda dn, hide: pushpull_fill(dn.astype(np.float32), ~hide))


def _per_tile(function: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> Predictor:
    """A batch predictor from a per-tile numpy function of `(cloudy_dn, cloud, valid)`."""

    def predict(sar: torch.Tensor, cloudy_dn: torch.Tensor, cloud: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        tiles = [
            function(c.cpu().numpy(), m.cpu().numpy().astype(bool), v[0].cpu().numpy() > 0)
            for c, m, v in zip(cloudy_dn, cloud, valid)
        ]
        return torch.from_numpy(np.stack(tiles)).to(cloudy_dn.device)

    predict.__doc__ = function.__doc__
    return predict


def identity(sar: torch.Tensor, cloudy_dn: torch.Tensor, cloud: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The cloudy input as the prediction."""
    return cloudy_dn


BASELINES: dict[str, Predictor] = {
    "identity": identity,
    "mean-fill": _per_tile(mean_fill_array),
    "biharmonic": _per_tile(biharmonic_array),
    "push-pull": _per_tile(pushpull_array),
}


def get_baseline(name: str) -> Predictor:
    """The baseline called `name`; an unknown name fails listing the valid ones."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")
    return BASELINES[name]
