"""`adapt_scene`: read a scene, fit a model to its clear pixels, write the cloud-free GeoTIFF.

Order of events: check the settings and the start model, read the scene and its mask (refusing a
scene too cloudy to learn from), fit, then write through `predict`'s own pipeline. The model's
input is the scene with its clouds graded in from the clear pixels around them (push-pull, as in
training), so that input is written to disk (`s2_filled.tif`, beside `cloud_mask.tif`), and
`predict_with_engine` runs the fitted model over it with `composite=True` and that mask: observed
pixels where clear, the model under cloud, the composite's soft transition between. With `keep_model`, those two files and the
checkpoint stay in the folder, and `sarclear predict --checkpoint DIR --s2 DIR/s2_filled.tif
--mask DIR/cloud_mask.tif --composite --precision fp32` reproduces the output exactly.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from sarclear.adapt.fill_only import FillOnly, fill_only_spec
from sarclear.adapt.fit import (
    DEFAULT_BATCH,
    DEFAULT_CROP,
    DEFAULT_LR,
    DEFAULT_NGF,
    SSIM_WEIGHT,
    FitReport,
    fit,
    new_spec,
    start_fresh,
)
from sarclear.adapt.reference import ReferencesUse, check_reference_early, use_references
from sarclear.adapt.scene import SHADOW_DILATION_PX, AdaptScene, check_clear_enough, load_scene, pad_scene
from sarclear.data.clouds import DEFAULT_THRESHOLD
from sarclear.data.normalize import S2_CLIP_MAX_DN, s2_from_network
from sarclear.data.provenance import is_synthetic
from sarclear.errors import ConfigError
from sarclear.inference.norm import DEFAULT_NORM_MODE, resolve_norm_mode
from sarclear.io.geotiff import write_raster
from sarclear.io.outputs import check_geotiff_name, check_outputs, input_files, product_folders
from sarclear.io.sources import as_paths
from sarclear.models.checkpoint import GENERATOR_FILE, load_generator, save_generator
from sarclear.models.spec import ModelSpec
from sarclear.predict.engine import TorchEngine
from sarclear.predict.masking import check_threshold
from sarclear.predict.pipeline import predict_with_engine
from sarclear.predict.writer import QUICKLOOK_FORMATS, quicklook_path

Log = Callable[[str], None]
_logger = logging.getLogger(__name__)

FILLED_FILE = "s2_filled.tif"
MASK_FILE = "cloud_mask.tif"
REPORT_FILE = "adapt.json"


@dataclass(frozen=True)
class AdaptResult:
    """The written output and what the fit did."""

    out: Path
    spec: ModelSpec
    fit: FitReport
    clear_share: float
    cloud_share: float


def crop_size(height: int, width: int, largest: int = DEFAULT_CROP) -> int:
    """Training crop of a fresh model: `largest`, or the largest power of two (>= 32) the scene holds."""
    side = max(32, min(height, width))
    return max(32, min(largest, 1 << (side.bit_length() - 1)))


def _start_model(checkpoint: str | Path | None, use_sar: bool) -> tuple[torch.nn.Module | None, ModelSpec | None]:
    if checkpoint is None:
        return None, None
    generator, spec = load_generator(checkpoint)
    if spec.bands != "rgb" or spec.out_channels != 3:
        raise ConfigError(f"{checkpoint}: adapt fine-tunes RGB models (bands rgb, 3 outputs); this one has bands {spec.bands}")
    if spec.use_sar != use_sar:
        raise ConfigError(f"{checkpoint}: the model {'uses' if spec.use_sar else 'does not use'} SAR; {'drop' if spec.use_sar else 'add'} --no-sar")
    return generator, spec


def fitted_provenance(scene: AdaptScene, start: ModelSpec | None, steps: int) -> dict[str, str]:
    """What the fitted model was trained on, for its spec: this scene (its level, real or synthetic),
    and, when fine-tuned, what the start model was trained on. So `predict` with a kept model on
    the same scene does not warn of a level or synthetic-data mismatch that is not there."""
    name = scene.inputs.s2.path.name
    data = "synthetic" if is_synthetic(scene.inputs.s2.path) else "real"
    if start is not None and start.training_data != data:
        data = "mixed" if start.training_data in ("synthetic", "real", "mixed") else "unknown"
    level = scene.inputs.radiometry.level or (start.s2_level if start is not None else "L1C")
    summary = f"fitted by sarclear adapt to {name} ({steps} steps)"
    if start is not None:
        summary += f", fine-tuned from a model trained on {start.training_summary or start.training_data}"
    return {"training_data": data, "s2_level": level, "training_summary": summary}


def source_tags(scene: AdaptScene, shadow_dilation: int, reference: ReferencesUse | None = None) -> dict[str, str]:
    """The output's tags for the user's scene (not the filled copy the model runs over): its source,
    level and offset, the detected mask's shares, how far adapt widened that mask, and what became
    of each reference date (its file, the share of the filled pixels it saw clear, its self-check)."""
    valid = max(1, int(scene.valid.sum()))
    tags = {**scene.inputs.radiometry.tags(), **scene.mask_tags, "SARCLEAR_ADAPT_DILATION_PX": str(shadow_dilation),
            "SARCLEAR_ADAPT_FILLED_PCT": f"{100.0 * float((scene.cloud & scene.valid).sum()) / valid:.2f}"}  # fmt: skip
    return tags if reference is None else tags | reference.tags()


def _write_model_inputs(scene: AdaptScene, folder: Path) -> tuple[Path, Path]:
    """The model's input (clouds graded in from the clear pixels, B4 B3 B2 DN) and the mask, on the S2 grid."""
    info = scene.inputs.s2
    height, width = info.shape
    dn, cloud = scene.dn[:, :height, :width], scene.cloud[:height, :width]
    fill_dn = np.round(s2_from_network(scene.filled_scene()[:, :height, :width], scene.s2_clip_max)).astype(dn.dtype)
    filled = np.where(cloud[None], fill_dn, dn)
    filled_path = write_raster(folder / FILLED_FILE, filled, crs=info.crs, transform=info.transform, nodata=info.nodata,
                               descriptions=("B4", "B3", "B2"))  # fmt: skip
    mask_path = write_raster(folder / MASK_FILE, cloud.astype(np.uint8), crs=info.crs, transform=info.transform)
    return filled_path, mask_path


def check_references(references: Sequence[Path], masks: Sequence[Path], scene: str | Path) -> None:
    """Usage errors of `--reference` dates, before anything is read: one mask per reference
    (matched in the order given), no file given twice, and not the scene itself (it would "fill"
    the clouds with themselves: its clouds are masked on both sides, so nothing, at the cost of a
    second read)."""
    if masks and len(masks) != len(references):
        raise ConfigError(f"--reference-mask: give one mask per --reference, in the same order (got {len(masks)} for "
                          f"{len(references)} references)")  # fmt: skip
    seen: set[Path] = set()
    for path in references:
        key = path.resolve()
        if key == Path(scene).resolve():
            raise ConfigError(f"--reference {path}: is the scene itself (--s2); give another date of the same place")
        if key in seen:
            raise ConfigError(f"--reference {path}: given twice")
        seen.add(key)


def adapt_scene(
    s2: str | Path,
    s1: str | Path | Sequence[str | Path] | None,
    out: str | Path,
    *,
    checkpoint: str | Path | None = None,
    steps: int | None = None,
    minutes: float | None = None,
    use_sar: bool = True,
    mask: str | Path | None = None,
    reference: str | Path | Sequence[str | Path] | None = None,
    force_reference: bool = False,
    reference_mask: str | Path | Sequence[str | Path] | None = None,
    fill_only: bool = False,
    quicklook: str | None = None,
    keep_model: str | Path | None = None,
    seed: int = 0,
    ngf: int = DEFAULT_NGF,
    crop: int = DEFAULT_CROP,
    batch_size: int = DEFAULT_BATCH,
    lr: float = DEFAULT_LR,
    ssim_weight: float = SSIM_WEIGHT,
    residual: bool = True,
    shadow_dilation: int | None = None,
    shadows: bool = True,
    norm: str = DEFAULT_NORM_MODE,
    s2_offset: float | None = None,
    cloud_threshold: float = DEFAULT_THRESHOLD,
    use_scl: bool = True,
    progress: bool = True,
    log: Log | None = None,
) -> AdaptResult:
    """Fit a model to the clear pixels of `s2` (with `s1` unless `use_sar` is False) and write `out`.

    `shadow_dilation` (px) widens the cloud mask; by default `SHADOW_DILATION_PX` for a detected
    mask and 0 for a `mask` file, which is taken to be the user's considered answer. `shadows` adds
    detected cloud shadows to a detected mask (as `predict --composite` does). `norm` is the batch-norm
    mode of the fitted model's prediction (`auto`: as `predict` would run the kept model). `s2` and `s1`
    take every input `predict` takes (product folders, SAFE, VV/VH pairs); `s2_offset` and
    `cloud_threshold` (a detected mask's cloud probability threshold) and `use_scl` (an L2A
    product's own scene classification as the mask) as there. `reference`: other dates of the same
    place (any S2 input; one or several), whose clear pixels, matched to this scene's colours
    window by window, fill the clouds the model then corrects (nearest date first), each if it
    fills the scene's own held-out holes at least as well as the graded fill, or all if
    `force_reference` (`sarclear.adapt.reference`); their clouds are detected as the scene's, or
    given as `reference_mask` (one per reference, each on its own grid). `fill_only`: no
    fit, that fill is the output (`sarclear.adapt.fill_only`; a scene under 10 % clear is then not
    refused). `quicklook` ('png' or 'jpeg'): an 8-bit picture beside `out`, as `predict --format`.
    `residual` (a fresh model only): the model corrects its push-pull-filled input (default) rather
    than starting from the mean clear colour (docs/adapt.md compares the two).
    """
    log = log or _logger.info
    if shadow_dilation is None:
        shadow_dilation = SHADOW_DILATION_PX if mask is None else 0
    if (steps is None) == (minutes is None):
        raise ConfigError("give one of --steps or --minutes")
    check_threshold(cloud_threshold)
    references, reference_masks = as_paths(reference), as_paths(reference_mask)
    if (force_reference or reference_masks) and not references:
        flag = "--force-reference" if force_reference else "--reference-mask"
        raise ConfigError(f"{flag}: give the image to use with --reference S2")
    check_references(references, reference_masks, s2)
    if quicklook is not None and quicklook.lower() not in QUICKLOOK_FORMATS:
        raise ConfigError(f"--format {quicklook}: expected png or jpeg")
    given_s1 = as_paths(s1)
    out = Path(out)
    kept = [] if keep_model is None else [Path(keep_model) / name for name in (GENERATOR_FILE, FILLED_FILE, MASK_FILE, REPORT_FILE)]
    check_outputs([out, quicklook_path(out, quicklook) if quicklook else None, *kept],
                  input_files([s2, *given_s1, mask, *references, *reference_masks], checkpoints=[checkpoint]),
                  product_folders([s2, *given_s1, *references], s1=given_s1))  # fmt: skip
    check_geotiff_name(out)
    for path in references:
        check_reference_early(path, s2)
    if fill_only and (keep_model is not None or checkpoint is not None):
        raise ConfigError("--fill-only fits no model: drop --keep-model and --checkpoint")
    if (steps is not None and steps < 1) or (minutes is not None and minutes <= 0) or batch_size < 1 or ngf < 1:
        raise ConfigError("--steps, --minutes, --batch-size and --ngf must be positive")
    keep = Path(keep_model) if keep_model is not None else None
    if keep is not None and keep.exists() and not keep.is_dir():
        raise ConfigError(f"--keep-model {keep}: exists and is not a folder")
    generator, spec = _start_model(checkpoint, use_sar)
    scene = load_scene(s2, s1, use_sar=use_sar, mask=mask, shadow_dilation=shadow_dilation, s2_offset=s2_offset, shadows=shadows,
                       s2_clip_max=spec.s2_clip_max if spec else S2_CLIP_MAX_DN, cloud_threshold=cloud_threshold, use_scl=use_scl,
                       log=log)  # fmt: skip
    clear_share, cloud_share = scene.clear_share, float((scene.cloud & scene.valid).sum()) / max(1, int(scene.valid.sum()))
    log(f"{scene.inputs.s2.path.name}: {cloud_share:.1%} cloud (mask dilated by {shadow_dilation} px), {clear_share:.1%} clear to learn from")
    if not fill_only:
        check_clear_enough(scene, has_checkpoint=generator is not None, log=log)
    reference_use = None
    if references:
        scene, reference_use = use_references(scene, references, seed=seed, force=force_reference, shadow_dilation=SHADOW_DILATION_PX,
                                              cloud_threshold=cloud_threshold, use_scl=use_scl, masks=reference_masks or None, log=log)  # fmt: skip
    if fill_only:
        spec = fill_only_spec(new_spec(use_sar, crop_size(*scene.inputs.shape, crop), ngf, residual),
                              scene.inputs.radiometry.level or "L1C")  # fmt: skip
        generator, report = FillOnly(use_sar), FitReport(0, 0.0)
    else:
        if spec is None or generator is None:
            spec = new_spec(use_sar, crop_size(*scene.inputs.shape, crop), ngf, residual)
            torch.manual_seed(seed)
            generator = spec.build()
            start_fresh(generator, spec, scene.fill)
        report = fit(pad_scene(scene, spec.tile_size), generator, spec, steps=steps, minutes=minutes, seed=seed,
                     batch_size=batch_size, lr=lr, ssim_weight=ssim_weight, progress=progress, log=log)  # fmt: skip
        start_spec = spec if checkpoint is not None else None
        # what its batch norm was last trained with, and what it was fitted to
        spec = dataclasses.replace(spec, norm_batch=batch_size, **fitted_provenance(scene, start_spec, report.steps))
    with tempfile.TemporaryDirectory(prefix="sarclear-adapt-") as tmp:
        folder = keep if keep is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        filled, mask_path = _write_model_inputs(scene, folder)
        if keep is not None:
            save_generator(keep / GENERATOR_FILE, generator, spec)
            settings = {"s2": str(s2), "s1": [str(p) for p in given_s1] or None, "seed": seed, "steps": report.steps,
                        "seconds": round(report.seconds, 1), "loss_tenths": report.losses, "cloud_share": cloud_share,
                        "clear_share": clear_share, **({"reference": None, "references": []} if reference_use is None else reference_use.summary()), "spec": asdict(spec), "checkpoint": None if checkpoint is None else str(checkpoint)}  # fmt: skip
            (keep / REPORT_FILE).write_text(json.dumps(settings, indent=2) + "\n")
        engine = TorchEngine(generator, "cpu", "fp32", owned=True, norm=resolve_norm_mode(norm, spec.norm_batch))
        predict_with_engine(engine, spec, s1 if use_sar else None, filled, out, composite=True, mask=mask_path,
                            quicklook=quicklook, progress=progress, log=log, model_name="the fill" if fill_only else "the fitted model",
                            source_tags=source_tags(scene, shadow_dilation, reference_use))  # fmt: skip
    return AdaptResult(Path(out), spec, report, clear_share, cloud_share)
