"""`adapt --reference`: another date of the same place, read, cloud-masked and put on the scene's grid.

The reference goes through the scene's own reading path (`load_scene`: every S2 form `predict`
takes, its radiometric offset, its clouds and shadows detected, or an L2A product's SCL), so its
clouds are never taken for ground. A reference on another grid (another tile, another crop, a
per-band export in degrees) is warped onto the scene's grid, bilinear, with its cloudy pixels as
nodata, so a cloud never bleeds into a clear pixel beside it. What it fills is logged and tagged.

Another date does not always help: 70 days apart, across a monsoon, the crops had changed, and on
genuine SSL4EO-S12 dates the matched reference scored 0.3-1.2 dB *below* the fill graded in from
a cloud's edges, while 10 days apart it raised SSIM inside clouds from 0.63 to 0.76 on average
(docs/adapt.md). So before it is used, `check_reference` asks the scene itself: it cuts holes
shaped like the scene's own clouds into its clear ground, fills them both ways, and compares with
the pixels it hid. The reference is kept only if it fills them at least as well
(`--force-reference` keeps it anyway). On those ten genuine cases the check agreed with both PSNR
and SSIM eight times; it missed one gain and kept one fill that was better in SSIM, worse in PSNR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio.warp
from rasterio.enums import Resampling

from sarclear.adapt.holes import sample_hole
from sarclear.adapt.pairs import crop_origin
from sarclear.adapt.scene import AdaptScene, load_scene, pad_scene
from sarclear.data.reference_fill import OtherDate, reference_share
from sarclear.errors import RasterError
from sarclear.io.acquisition import date_from_names
from sarclear.io.geotiff import same_grid
from sarclear.predict.scene import covered_share, open_s2

Log = Callable[[str], None]

#: A reference covering less of the scene than this is refused: it is of another place.
MIN_OVERLAP: float = 0.01
#: The self-check: this many held-out holes, in crops of this size (adapt's training crop), or of
#: half the scene's side if that is smaller, so that a crop is not the whole scene with its clouds;
#: drawn in at most `CHECK_TRIES` times as many tries (a hole where the reference is cloudy too,
#: or that misses the clear ground, does not count).
CHECK_HOLES: int = 32
CHECK_CROP: int = 64
CHECK_TRIES: int = 4
#: Why a later `--reference` date was not read.
NOT_NEEDED: str = "the nearer dates used already see every pixel to fill"


@dataclass(frozen=True)
class ReferenceCheck:
    """Mean absolute error (network units) of the two fills on the scene's own held-out holes."""

    reference_error: float
    plain_error: float
    holes: int

    @property
    def helps(self) -> bool:
        """At least as good on the held-out holes; a scene with no clear ground to cut one from
        cannot tell, and the reference the user gave is used."""
        return self.holes == 0 or self.reference_error <= self.plain_error

    def describe(self) -> str:
        if self.holes == 0:
            return "not checked: no held-out hole could be cut from the scene's clear ground where the reference is clear"
        change = 100.0 * (self.reference_error / max(self.plain_error, 1e-12) - 1.0)
        return (f"mean error {self.reference_error:.5f} filled from it against {self.plain_error:.5f} graded in "
                f"from around ({change:+.1f} %), on {self.holes} held-out holes of the scene's clear ground, "
                "scored where the reference is clear")  # fmt: skip


def check_reference(scene: AdaptScene, seed: int = 0) -> ReferenceCheck:
    """Fill `CHECK_HOLES` holes cut into the scene's clear ground (windows of its own cloud mask, as
    adapt's training holes) with and without its reference dates; score both on the hidden pixels a
    reference sees clear. Only there can the reference's content help or hurt: elsewhere both fills
    grade in from around, and scoring those pixels too would only pull a partial or cloudy
    reference's verdict towards a tie. `use_references` checks each date alone."""
    assert scene.references, "check_reference needs a scene with a reference"
    size = max(16, min(CHECK_CROP, min(scene.valid.shape) // 2))
    padded = pad_scene(scene, size)
    plain = replace(padded, references=())
    seen = np.logical_or.reduce([date.clear for date in padded.references])
    rng = np.random.default_rng(seed)
    errors: tuple[list[float], list[float]] = ([], [])
    for _ in range(CHECK_HOLES * CHECK_TRIES):
        if len(errors[0]) == CHECK_HOLES:
            break
        top, left = crop_origin(padded.clear, size, rng)
        hole = sample_hole(padded.cloud, size, rng)
        window = (slice(top, top + size), slice(left, left + size))
        hidden = hole & padded.clear[window] & seen[window]
        if not hidden.any():
            continue
        truth = padded.optical[(slice(None), *window)][:, hidden]
        for errors_of, source in zip(errors, (padded, plain)):
            errors_of.append(float(np.abs(source.filled_crop(top, left, size, hole)[:, hidden] - truth).mean()))
    count = len(errors[0])
    return ReferenceCheck(float(np.mean(errors[0])) if count else 0.0, float(np.mean(errors[1])) if count else 0.0, count)


def _on_scene_grid(reference: AdaptScene, scene: AdaptScene) -> tuple[np.ndarray, np.ndarray]:
    """The reference's optical (network units) and clear mask on the scene's grid."""
    src, dst = reference.inputs.s2, scene.inputs.s2
    clear = reference.clear
    if same_grid(dst, src):
        return reference.optical, clear
    source = np.where(clear[None], reference.optical, np.nan).astype(np.float32)
    out = np.full((source.shape[0], *dst.shape), np.nan, dtype=np.float32)
    rasterio.warp.reproject(source, out, src_transform=src.transform, src_crs=src.crs, dst_transform=dst.transform,
                            dst_crs=dst.crs, src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.bilinear)  # fmt: skip
    covered = np.isfinite(out).all(axis=0)
    return np.nan_to_num(out, nan=0.0), covered


def _refuse(reference: Path, overlap: float, scene_name: str) -> RasterError:
    return RasterError(reference, f"covers {100 * overlap:.1f} % of {scene_name}: give an image of the same place "
                                  "(another date of the same tile)")  # fmt: skip


def check_reference_early(path: str | Path, s2: str | Path) -> None:
    """Before anything slow (reading and cloud-masking the scene): the reference opens as an S2
    input, and its footprint meets the scene's; exit 2 naming it otherwise. `read_reference` checks
    the overlap again, pixel by pixel, once both are read."""
    quiet: Log = lambda _: None
    reference, _ = open_s2(path, None, quiet)
    scene, _ = open_s2(s2, None, quiet)
    if covered_share(scene, reference) <= 0:  # without a CRS to compare, the pixel check after reading decides
        raise _refuse(Path(path), 0.0, Path(s2).name)


def read_reference(scene: AdaptScene, path: str | Path, *, shadow_dilation: int, cloud_threshold: float, use_scl: bool,
                   mask: str | Path | None = None, alone: bool = True, label: str | None = None,
                   log: Log = lambda _: None) -> tuple[OtherDate, float]:  # fmt: skip
    """The reference image at `path` on `scene`'s grid (clouds detected as for the scene itself, the
    mask widened by `shadow_dilation`, or the given `mask` on the reference's grid, as given), and
    the share of the pixels to fill that it sees clear; refuses (exit 2) a reference that does not
    cover the scene. `alone`: the only reference date (its log says the rest is graded in);
    `label`: its name in the log (`distinct_names`), else its file name."""
    reference = load_scene(path, None, use_sar=False, mask=mask, s2_clip_max=scene.s2_clip_max,
                           shadow_dilation=shadow_dilation if mask is None else 0, cloud_threshold=cloud_threshold,
                           use_scl=use_scl, log=log)  # fmt: skip
    optical, clear = _on_scene_grid(reference, scene)
    ref_name, name = reference.inputs.s2.path, scene.inputs.s2.path.name
    label = label or ref_name.name
    overlap = float((_footprint(reference, scene) & scene.valid).mean())
    if overlap < MIN_OVERLAP:
        raise _refuse(ref_name, overlap, name)
    clear = clear & scene.valid
    share = reference_share(scene.clear, clear, scene.valid)
    log(f"{label}: {reference.clear_share:.1%} clear; sees {share:.1%} of what {name} needs filled"
        + (" (the rest is graded in from around)" if alone else ""))  # fmt: skip
    if reference.inputs.radiometry.level != scene.inputs.radiometry.level:
        log(f"{label}: level {reference.inputs.radiometry.level or 'unknown'} against the scene's "
            f"{scene.inputs.radiometry.level or 'unknown'}; the local colour matching absorbs the difference")  # fmt: skip
    return OtherDate(optical.astype(np.float32, copy=False), clear), share


@dataclass(frozen=True)
class ReferenceUse:
    """What became of `--reference`: its file, the share of the to-fill pixels it sees clear, the
    self-check, and whether it was used (`forced` by `--force-reference`). A later date that was
    not `read`, because the nearer dates used already see every pixel to fill, has no share or check."""

    name: str
    share: float
    check: ReferenceCheck
    used: bool
    forced: bool = False
    #: The reference's acquisition date minus the scene's, in days, when both files' names say.
    days: int | None = None
    read: bool = True
    #: The path as given (`name` is its last part, or as many as tell it from the other references).
    path: str = ""

    def tags(self) -> dict[str, str]:
        dated = {} if self.days is None else {"SARCLEAR_ADAPT_REFERENCE_DAYS": str(self.days)}
        if not self.read:
            return {"SARCLEAR_ADAPT_REFERENCE": self.name, "SARCLEAR_ADAPT_REFERENCE_USED": "no (not needed)",
                    "SARCLEAR_ADAPT_REFERENCE_CHECK": NOT_NEEDED} | dated  # fmt: skip
        used = ("yes" if self.check.helps else "yes (forced)") if self.used else "no"
        return {"SARCLEAR_ADAPT_REFERENCE": self.name, "SARCLEAR_ADAPT_REFERENCE_PCT": f"{100.0 * self.share:.2f}",
                "SARCLEAR_ADAPT_REFERENCE_USED": used, "SARCLEAR_ADAPT_REFERENCE_CHECK": self.check.describe()} | dated  # fmt: skip

    def summary(self) -> dict[str, object]:
        """For `adapt.json`."""
        check = ({"reference_error": round(self.check.reference_error, 5), "plain_error": round(self.check.plain_error, 5),
                  "holes": self.check.holes} if self.read else None)  # fmt: skip
        return {"file": self.name, "path": self.path, "days": self.days, "read": self.read, "share_seen_clear": round(self.share, 4) if self.read else None,
                "used": self.used, "forced": self.forced, "check": check}  # fmt: skip


@dataclass(frozen=True)
class ReferencesUse:
    """What became of every `--reference`, nearest date first, and the share of the to-fill pixels
    that the used ones see clear between them (the rest is graded in from around)."""

    uses: tuple[ReferenceUse, ...]
    share: float

    def tags(self) -> dict[str, str]:
        """The first date's tags as `ReferenceUse.tags`; the k-th's with `_k` after `REFERENCE`
        (`SARCLEAR_ADAPT_REFERENCE_2_USED`); with several, `SARCLEAR_ADAPT_REFERENCES_PCT` for all."""
        tags: dict[str, str] = {}
        for k, use in enumerate(self.uses, start=1):
            suffix = "" if k == 1 else f"_{k}"
            tags |= {key.replace("REFERENCE", f"REFERENCE{suffix}", 1): value for key, value in use.tags().items()}
        return tags | ({"SARCLEAR_ADAPT_REFERENCES_PCT": f"{100.0 * self.share:.2f}"} if len(self.uses) > 1 else {})

    def summary(self) -> dict[str, object]:
        """For `adapt.json`: `reference` (the first, as with one date) and `references` (all)."""
        return {"reference": self.uses[0].summary(), "references": [use.summary() for use in self.uses],
                "references_share_seen_clear": round(self.share, 4)}  # fmt: skip


def distinct_names(paths: Sequence[str | Path]) -> list[str]:
    """Each path's last part, or as many of its last parts as tell it from the other paths: SSL4EO-S12's
    L1C and L2A of one date are both `20200604T054639_20200604T054831_T43RCP` (under `s2c/0000200/`
    and `s2a/0000200/`: named `s2c/0000200/2020...` and `s2a/0000200/2020...`)."""
    parts = [Path(path).resolve().parts[1:] for path in paths]  # without the root
    names = []
    for i, mine in enumerate(parts):
        name = "/".join(mine) or str(paths[i])
        for count in range(1, len(mine) + 1):
            name = "/".join(mine[-count:])
            if all("/".join(other[-count:]) != name for j, other in enumerate(parts) if j != i):
                break
        names.append(name)
    return names


def nearest_first(scene: str | Path, paths: Sequence[str | Path]) -> list[int]:
    """Positions of `paths`, the nearest date to the scene's first (`days_apart`); dates neither
    name carries come last, in the order given, as do ties."""
    days = [days_apart(scene, path) for path in paths]
    return sorted(range(len(paths)), key=lambda i: (days[i] is None, abs(days[i] or 0), i))


def use_references(scene: AdaptScene, paths: Sequence[str | Path], *, seed: int, force: bool, shadow_dilation: int,
                   cloud_threshold: float, use_scl: bool, masks: Sequence[str | Path] | None = None,
                   log: Log = lambda _: None) -> tuple[AdaptScene, ReferencesUse]:  # fmt: skip
    """Read each reference (`read_reference`; `masks`: one per path, or none), nearest date first,
    check it alone on the scene's own held-out holes, and return the scene with those that help (or
    all, if `force`), first used first: a pixel is filled from the nearest date that sees it
    clear. A date that is not used is dropped (and its memory with it)."""
    order = nearest_first(scene.inputs.s2.path, paths)
    names = distinct_names(paths)
    dates: list[OtherDate] = []
    uses: list[ReferenceUse] = []
    to_fill = scene.valid & ~scene.clear
    seen = np.zeros_like(scene.clear)  # what the used dates see clear between them
    for i in order:
        path, name, days = paths[i], names[i], days_apart(scene.inputs.s2.path, paths[i])
        if dates and not (to_fill & ~seen).any():
            log(f"{name}: not read: {NOT_NEEDED}")
            uses.append(ReferenceUse(name, 0.0, ReferenceCheck(0.0, 0.0, 0), False, force, days, read=False, path=str(path)))
            continue
        date, share = read_reference(scene, path, shadow_dilation=shadow_dilation, cloud_threshold=cloud_threshold,
                                     use_scl=use_scl, mask=None if masks is None else masks[i], alone=len(paths) == 1,
                                     label=names[i], log=log)  # fmt: skip
        check = check_reference(replace(scene, references=(date,)), seed)
        used = force or check.helps
        if days is not None:
            log(f"{name}: {abs(days)} days {'after' if days > 0 else 'before'} the scene" if days else f"{name}: the scene's own date")
        if check.helps:
            log(f"{name}: used ({check.describe()})")
        elif force:
            log(f"{name}: used although it fills worse (--force-reference; {check.describe()})")
        else:
            log(f"{name}: NOT used: it fills this scene worse than the graded fill ({check.describe()}); "
                "a nearer date may help, or --force-reference to use it anyway")  # fmt: skip
        if used:
            dates.append(date)
            seen |= date.clear
        uses.append(ReferenceUse(name, share, check, used, force, days, path=str(path)))
    combined = reference_share(scene.clear, seen, scene.valid)
    if len(paths) > 1:
        used_names = [use.name for use in uses if use.used]
        log(f"{len(used_names)} of {len(paths)} reference dates used" + (f", nearest first ({', '.join(used_names)})" if used_names else "")
            + f": they see {combined:.1%} of what {scene.inputs.s2.path.name} needs filled"
            + ("; the rest is graded in from around" if combined < 1.0 else ""))  # fmt: skip
    return replace(scene, references=tuple(dates)), ReferencesUse(tuple(uses), combined)


def use_reference(scene: AdaptScene, path: str | Path, *, seed: int, force: bool, shadow_dilation: int, cloud_threshold: float,
                  use_scl: bool, mask: str | Path | None = None, log: Log = lambda _: None) -> tuple[AdaptScene, ReferenceUse]:  # fmt: skip
    """`use_references` with one date: the scene with it if it helps (or `force`), else as it was."""
    scene, use = use_references(scene, [path], seed=seed, force=force, shadow_dilation=shadow_dilation,
                                cloud_threshold=cloud_threshold, use_scl=use_scl, masks=None if mask is None else [mask], log=log)  # fmt: skip
    return scene, use.uses[0]


def days_apart(scene: str | Path, reference: str | Path) -> int | None:
    """The reference's sensing date minus the scene's, in days, from their product or folder names
    (`sarclear.io.acquisition`); None when either name carries no date."""
    scene_date, reference_date = date_from_names(scene), date_from_names(reference)
    return None if scene_date is None or reference_date is None else (reference_date - scene_date).days


def _footprint(reference: AdaptScene, scene: AdaptScene) -> np.ndarray:
    """Where the reference's valid pixels fall on the scene's grid (clear or not)."""
    src, dst = reference.inputs.s2, scene.inputs.s2
    if same_grid(dst, src):
        return reference.valid
    out = np.zeros(dst.shape, dtype=np.float32)
    rasterio.warp.reproject(reference.valid.astype(np.float32), out, src_transform=src.transform, src_crs=src.crs,
                            dst_transform=dst.transform, dst_crs=dst.crs, dst_nodata=0, resampling=Resampling.nearest)  # fmt: skip
    return out > 0
