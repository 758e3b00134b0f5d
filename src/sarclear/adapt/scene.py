"""One scene in memory, ready for internal learning: network-unit SAR and RGB, validity, cloud mask.

Inputs go through predict's own path (`inspect_scene` checks the files, `SceneReader` reads them,
`MaskSource` reads `--mask` or detects clouds and their shadows strip by strip), so `adapt`
accepts every input format `predict` does. The mask is dilated further (`SHADOW_DILATION_PX`)
because the halo and near shadow of a cloud are as useless as the cloud, and a fit that learned
from shadowed pixels would paint shadow into the clouds; shadows farther out come from the
shadow detector (`sarclear.data.shadows`), the one `predict --composite` uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sarclear.data.clouds import DEFAULT_THRESHOLD, dilate
from sarclear.data.hole_fill import pushpull_fill
from sarclear.data.normalize import S2_CLIP_MAX_DN, s1_to_network, s2_to_network
from sarclear.data.reference_fill import OtherDate, dates_fill
from sarclear.data.valid import valid_pixels
from sarclear.errors import SarclearInputError
from sarclear.io.cog import gdal_env
from sarclear.predict.masking import MaskSource
from sarclear.predict.reader import SceneReader
from sarclear.predict.scene import SceneInputs, inspect_scene

Log = Callable[[str], None]

#: Extra dilation of the cloud-and-shadow mask, in pixels (60 m at 10 m): s2cloudless's own 2 px
#: dilation leaves the bright halo and the soft edge of cumulus shadows outside the mask.
SHADOW_DILATION_PX: int = 6
#: Below this share of clear valid pixels a scene holds too little of itself to learn from: the
#: issue's "say < 10 %"; with `--checkpoint` the start model carries the knowledge instead.
MIN_CLEAR_SHARE: float = 0.10
#: Rows per strip when computing the mask, bounding the detector's memory on large scenes.
MASK_STRIP_ROWS: int = 1024
#: Context around a training crop that its hole is graded from (px): the fill of a hole comes from
#: its nearest clear surroundings, so a margin of half the default crop gives a training hole
#: about the context a real cloud of its size has in the whole scene.
FILL_MARGIN: int = 32


class TooCloudyError(SarclearInputError):
    """The scene has too few clear pixels to fit a model from scratch."""


@dataclass(frozen=True)
class AdaptScene:
    """A scene as the fit sees it. `optical` and `sar` are in network units ([-1, 1]);
    `cloud` is the dilated mask (True = to inpaint), `valid` where S2 (and S1) hold data."""

    inputs: SceneInputs
    dn: np.ndarray  # (3, H, W) the S2 RGB digital numbers as read (B4 B3 B2)
    optical: np.ndarray  # (3, H, W) float32, B4 B3 B2
    sar: np.ndarray | None  # (2, H, W) float32 VV, VH, or None for an optical-only fit
    valid: np.ndarray  # (H, W) bool
    cloud: np.ndarray  # (H, W) bool, on every pixel the S2 observes (also where `valid` is False for want of S1)
    fill: np.ndarray  # (3,) float32, mean clear colour in network units (a fresh model's start)
    s2_clip_max: float
    #: The detected mask's GeoTIFF tags (cloud and shadow shares, how shadows were found), before dilation.
    mask_tags: dict[str, str] = field(default_factory=dict)
    #: Other dates of the same place on this grid, network units, and where each is clear
    #: (`adapt --reference`), first used first; clouds are filled from them (`sarclear.data.reference_fill`).
    references: tuple[OtherDate, ...] = ()

    @property
    def clear(self) -> np.ndarray:
        """Pixels the fit may learn from: valid and not under the (dilated) cloud mask."""
        return self.valid & ~self.cloud

    @property
    def clear_share(self) -> float:
        return float(self.clear.sum()) / max(1, int(self.valid.sum()))

    def _fill(self, optical: np.ndarray, known: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
        if not self.references:
            return pushpull_fill(optical, known, self.fill)
        return dates_fill(optical, known, [date.window(window) for date in self.references], self.fill)

    def filled_scene(self) -> np.ndarray:
        """`optical` with every pixel that is not clear (cloud, nodata) filled from the clear ones:
        graded in from around (push-pull, `sarclear.data.hole_fill`), or, with reference dates,
        from their clear pixels matched to this scene (`sarclear.data.reference_fill`). This is the
        network's input under the real clouds. It never sees a pixel it must not trust, so its
        output cannot depend on one."""
        return self._fill(self.optical, self.clear, (slice(None), slice(None)))

    def filled_crop(self, top: int, left: int, size: int, hole: np.ndarray) -> np.ndarray:
        """The `size` px crop at (`top`, `left`) with the `(size, size)` bool `hole`, and whatever in
        it is not clear, graded in from the clear pixels of the crop and `FILL_MARGIN` px around it:
        a training input filled the way `filled_scene` fills the real clouds."""
        height, width = self.clear.shape
        r0, c0 = max(0, top - FILL_MARGIN), max(0, left - FILL_MARGIN)
        r1, c1 = min(height, top + size + FILL_MARGIN), min(width, left + size + FILL_MARGIN)
        known = self.clear[r0:r1, c0:c1].copy()
        inner = (slice(top - r0, top - r0 + size), slice(left - c0, left - c0 + size))
        known[inner] &= ~hole
        return self._fill(self.optical[:, r0:r1, c0:c1], known, (slice(r0, r1), slice(c0, c1)))[(slice(None), *inner)]


def load_scene(
    s2: str | Path,
    s1: str | Path | None,
    *,
    use_sar: bool,
    mask: str | Path | None = None,
    s2_clip_max: float = S2_CLIP_MAX_DN,
    shadow_dilation: int = SHADOW_DILATION_PX,
    s2_offset: float | None = None,
    shadows: bool = True,
    cloud_threshold: float = DEFAULT_THRESHOLD,
    use_scl: bool = True,
    log: Log = lambda _: None,
) -> AdaptScene:
    """Check and read the whole scene (RGB and, if `use_sar`, S1 on the S2 grid) with its cloud mask
    (cloud shadows included unless `shadows` is False or the mask is a file)."""
    inputs = inspect_scene(s2, s1, use_sar=use_sar, bands="rgb", mask_path=mask, s2_offset=s2_offset, log=log)
    height, width = inputs.shape
    with gdal_env(), SceneReader(inputs) as reader:
        dn = reader.s2(0, height, inputs.rgb_bands)
        db = reader.s1(0, height) if use_sar else None
        observed = valid_pixels(dn, None, s2_nodata=inputs.s2.nodata)  # the rule predict's stream uses
        valid = observed if db is None else observed & valid_pixels(None, db)
        sar = None if db is None else np.nan_to_num(s1_to_network(db), nan=0.0).astype(np.float32)
        source = (MaskSource(reader, log, threshold=cloud_threshold, use_scl=use_scl) if shadows
                  else MaskSource(reader, log, None, cloud_threshold, use_scl))  # fmt: skip
        cloud = np.concatenate([source.rows(r0, min(height, r0 + MASK_STRIP_ROWS)).mask for r0 in range(0, height, MASK_STRIP_ROWS)])
        mask_tags = source.tags()
    # on every observed pixel, where S1 is missing too: the mask adapt hands predict's composite must
    # say cloud there, or the composite keeps the cloud as a clear observed pixel beyond S1's edge
    cloud = dilate(cloud, shadow_dilation) & observed
    optical = s2_to_network(dn.astype(np.float32), s2_clip_max).astype(np.float32)
    clear = valid & ~cloud
    fill = optical[:, clear].mean(axis=1) if clear.any() else np.zeros(3, dtype=np.float32)
    return AdaptScene(inputs, dn, optical, sar, valid, cloud, fill.astype(np.float32), float(s2_clip_max), mask_tags)


def _block_mean(a: np.ndarray) -> np.ndarray:
    """`(C, H, W)` -> `(C, H // 2, W // 2)`, each pixel the mean of a 2 x 2 block (float32)."""
    c, h, w = a.shape
    return a[:, : h // 2 * 2, : w // 2 * 2].astype(np.float32).reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def coarse_scene(scene: AdaptScene) -> AdaptScene:
    """The scene at half resolution (2 x 2 block means): training crops from it see the scene's
    clouds twice as large relative to their context, closer to the large real clouds the model
    must fill than the holes a 64 px crop of the full-resolution scene can hold. A block is cloud
    if any of its pixels is, valid only if all are, so no cloudy value becomes a clear one."""
    valid, cloud = _block_mean(scene.valid[None])[0] == 1.0, _block_mean(scene.cloud[None])[0] > 0
    references = tuple(OtherDate(_block_mean(d.values), _block_mean(d.clear[None])[0] == 1.0) for d in scene.references)
    return replace(scene, dn=_block_mean(scene.dn), optical=_block_mean(scene.optical),
                   sar=None if scene.sar is None else _block_mean(scene.sar), valid=valid, cloud=cloud,
                   references=references)  # fmt: skip


def pad_scene(scene: AdaptScene, size: int) -> AdaptScene:
    """The scene padded by reflection to at least `size` px each way, the padding marked invalid
    (never learned from), so a small scene still yields training crops of the model's size."""
    height, width = scene.valid.shape
    pad = ((0, max(0, size - height)), (0, max(0, size - width)))
    if not any(p[1] for p in pad):
        return scene
    mode = "reflect" if height > 1 and width > 1 else "edge"

    def grow(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.pad(a, ((0, 0), *pad), mode=mode)

    valid = np.pad(scene.valid, pad, constant_values=False)
    cloud = np.pad(scene.cloud, pad, constant_values=False)
    references = tuple(OtherDate(np.pad(d.values, ((0, 0), *pad), mode=mode), np.pad(d.clear, pad, constant_values=False))
                       for d in scene.references)  # fmt: skip
    return replace(scene, dn=grow(scene.dn), optical=grow(scene.optical), sar=grow(scene.sar), valid=valid, cloud=cloud,
                   references=references)  # fmt: skip


def check_clear_enough(scene: AdaptScene, has_checkpoint: bool, log: Log = lambda _: None) -> None:
    """Refuse (exit 2) a scene with under `MIN_CLEAR_SHARE` clear pixels unless a start model is given."""
    share = scene.clear_share
    if share >= MIN_CLEAR_SHARE:
        return
    name = scene.inputs.s2.path
    if not has_checkpoint:
        raise TooCloudyError(
            f"{name}: only {share:.1%} of the scene is clear (at least {MIN_CLEAR_SHARE:.0%} needed to learn from the scene "
            "itself); give --fill-only for the fill alone (from a clearer date with --reference), --checkpoint with a trained "
            "model to fine-tune, --mask if the detected mask is wrong, or a less cloudy scene"
        )
    log(f"{name.name}: only {share:.1%} clear; relying mostly on the --checkpoint model")
