"""`predict_scene`: a whole S1 + cloudy S2 scene in, a georeferenced cloud-free COG out.

Order of events: load the model (its spec says what it needs), check every input and setting,
then stream rows: strips -> windows -> engine -> blend -> (composite) -> block-row writers -> COG.
Nothing is created on disk before every check has passed, and nothing remains if a step fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, closing
from pathlib import Path

from sarclear.data.clouds import DEFAULT_THRESHOLD
from sarclear.data.provenance import warn_on_mismatch
from sarclear.errors import CheckpointError, ConfigError
from sarclear.inference.defaults import DEFAULT_SAMPLES
from sarclear.inference.sampling import check_samples
from sarclear.inference.settings import EngineSettings, engine_settings
from sarclear.inference.tiling import WindowGrid
from sarclear.io.cog import gdal_env
from sarclear.io.outputs import check_geotiff_name, check_outputs, input_files, product_folders
from sarclear.io.sources import as_paths
from sarclear.models.spec import ModelSpec
from sarclear.predict.composite import composite as blend_composite
from sarclear.predict.composite import keep_observed_without_s1
from sarclear.predict.defaults import DEFAULT_BATCH_SIZE, SHADOW_DILATION_PX, default_overlap
from sarclear.predict.engine import Engine, load_engine
from sarclear.predict.masking import MaskSource, check_threshold
from sarclear.predict.reader import SceneReader
from sarclear.predict.scene import SceneInputs, inspect_scene
from sarclear.predict.stream import predicted_rows, rgb_channels
from sarclear.predict.writer import QUICKLOOK_FORMATS, mask_values, output_dn, quicklook_path, scene_outputs, std_values

Log = Callable[[str], None]
_logger = logging.getLogger(__name__)


def predict_scene(
    checkpoint: str | Path,
    s1: str | Path | Sequence[str | Path] | None,
    s2: str | Path,
    out: str | Path,
    *,
    composite: bool = False,
    mask: str | Path | None = None,
    write_mask: str | Path | None = None,
    uncertainty: str | Path | None = None,
    samples: int = DEFAULT_SAMPLES,
    quicklook: str | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: str | None = None,
    device: str | None = None,
    precision: str = "auto",
    norm: str | None = None,
    seed: int = 0,
    s2_offset: float | None = None,
    shadows: bool = True,
    shadow_dilation: int = SHADOW_DILATION_PX,
    cloud_threshold: float = DEFAULT_THRESHOLD,
    use_scl: bool = True,
    progress: bool = True,
    log: Log | None = None,
) -> Path:
    """Remove clouds from the S2 scene `s2` with the S1 scene `s1`; write `out` as a COG and return it.

    `checkpoint` is a run folder, a generator file or an `.onnx` export; the model configuration
    comes from it. `tile` defaults to the checkpoint's training tile size, `overlap` to an eighth
    of the tile, at least 16 px and at most a quarter (32 px at 256; `default_overlap`). `composite` keeps
    observed pixels where the sky is clear (mask from `mask`, else detected); `write_mask` writes
    the mask used; `quicklook` ('png' or 'jpeg') adds an 8-bit picture beside `out`. `s2` may be a
    product (per-band folder, SAFE) and `s1` a VV/VH folder or pair; `s2_offset` overrides the
    radiometric offset found in the product (`io.sources`). `uncertainty` writes the per-pixel
    standard deviation (DN) of `samples` stochastic passes (dropout on; their mean is the prediction),
    zero where `composite` keeps the observed pixel. `norm` is the batch-norm mode
    (`sarclear.inference.norm`), `seed` seeds the dropout masks. `shadows` adds cloud shadows
    (`sarclear.data.shadows`), dilated by `shadow_dilation` px, to a detected mask; `cloud_threshold`
    is the cloud probability above which a pixel is cloud (s2cloudless's 0.4 by default); `use_scl`
    takes an L2A product's own Scene Classification as the mask instead of detecting clouds.
    """
    log = log or _logger.info
    _check_settings(tile, overlap, batch_size, quicklook)
    if uncertainty is not None and samples < 2:
        check_samples(samples, True)
    engine, spec = load_engine(checkpoint, backend=backend, device=device, precision=precision, norm=norm, seed=seed, log=log)
    return predict_with_engine(
        engine, spec, s1, s2, out, composite=composite, mask=mask, write_mask=write_mask, uncertainty=uncertainty,
        samples=samples, quicklook=quicklook, tile=tile, overlap=overlap, batch_size=batch_size, s2_offset=s2_offset,
        shadows=shadows, shadow_dilation=shadow_dilation, cloud_threshold=cloud_threshold, use_scl=use_scl, progress=progress,
        log=log, model_name=str(checkpoint), seed=seed, protected=[checkpoint],
    )  # fmt: skip


def predict_with_engine(
    engine: Engine,
    spec: ModelSpec,
    s1: str | Path | Sequence[str | Path] | None,
    s2: str | Path,
    out: str | Path,
    *,
    composite: bool = False,
    mask: str | Path | None = None,
    write_mask: str | Path | None = None,
    uncertainty: str | Path | None = None,
    samples: int = DEFAULT_SAMPLES,
    quicklook: str | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    s2_offset: float | None = None,
    shadows: bool = True,
    shadow_dilation: int = SHADOW_DILATION_PX,
    cloud_threshold: float = DEFAULT_THRESHOLD,
    use_scl: bool = True,
    progress: bool = True,
    log: Log = lambda _: None,
    model_name: str = "checkpoint",
    seed: int = 0,
    source_tags: Mapping[str, str] | None = None,
    protected: Sequence[str | Path | None] = (),
) -> Path:
    """`predict_scene` with an engine already built (any callable on window batches) and its spec.

    `model_name` (the checkpoint's path) names the model in error messages; `seed` is recorded in
    the tags (the engine was built with it). `source_tags`: for an `s2` made from another scene
    (adapt's filled copy), the tags that describe that scene (its source, level, offset, mask);
    they replace those this input would give, and the input and its mask, already described to the
    user for the scene itself, are not described again. `protected`: other files the command
    reads that no output may overwrite (the checkpoint: a run folder, a generator file).
    """
    tile = tile or spec.tile_size
    overlap = default_overlap(tile) if overlap is None else overlap
    _check_settings(tile, overlap, batch_size, quicklook)
    _check_tile(tile, spec)
    if shadow_dilation < 0:
        raise ConfigError(f"--shadow-dilation {shadow_dilation}: must be >= 0")
    check_threshold(cloud_threshold)
    if mask is not None and not composite and write_mask is None:
        raise ConfigError("--mask is only used with --composite (or --write-mask)")
    passes = 1
    if uncertainty is not None:
        if not hasattr(engine, "sample"):
            raise ConfigError("--uncertainty needs the torch backend (an ONNX graph has its dropout removed)")
        check_samples(samples, bool(getattr(engine, "has_dropout", True)), model_name)
        passes = samples
    input_log = log if source_tags is None else (lambda _: None)
    inputs = inspect_scene(s2, s1, use_sar=spec.use_sar, bands=spec.bands, mask_path=mask, s2_offset=s2_offset, log=input_log)
    _check_model_matches(spec, inputs, model_name)
    warn_on_mismatch(spec.training_data, spec.s2_level, inputs.s2, inputs.radiometry.level, log)
    out = Path(out)
    mask_out = Path(write_mask) if write_mask is not None else None
    std_out = Path(uncertainty) if uncertainty is not None else None
    _check_outputs(inputs, [out, mask_out, std_out, quicklook_path(out, quicklook) if quicklook else None], s2, as_paths(s1), mask,
                   protected)  # fmt: skip
    grid = WindowGrid(inputs.s2.height, inputs.s2.width, tile, overlap)
    settings = engine_settings(engine, tile=tile, overlap=overlap, samples=passes, seed=seed)
    log(
        f"{grid.width}x{grid.height} px in {grid.n_windows} windows of {tile} px (overlap {overlap}), batches of {batch_size}"
        + (f", {passes} stochastic passes each (uncertainty)" if passes > 1 else "")
    )
    tags = {**_output_tags(inputs, spec, model_name, composite, settings), **(source_tags or {})}
    with gdal_env(), SceneReader(inputs) as reader, scene_outputs(
        out, inputs.s2, mask_out=mask_out, std_out=std_out, quicklook=quicklook, tags=tags
    ) as writers, ExitStack() as stack:
        masks = (MaskSource(reader, input_log, shadow_dilation if shadows else None, cloud_threshold, use_scl)
                 if composite or mask_out is not None else None)  # fmt: skip
        # closing(): on any way out (an error, Ctrl-C, SIGTERM while a block is written) the stream and
        # its read-ahead thread end here, before the reader's datasets close, not at garbage collection.
        rows = stack.enter_context(closing(predicted_rows(
            engine, reader, grid, s2_clip_max=spec.s2_clip_max, out_channels=spec.out_channels, batch_size=batch_size,
            samples=passes, progress=progress,
        )))  # fmt: skip
        for block in rows:
            dn, alpha, written = block.predicted, None, block.valid
            if masks is not None:
                mask_rows = masks.rows(block.r0, block.r1)
                alpha = mask_rows.alpha
                if composite:
                    dn = blend_composite(dn, block.observed, alpha)
                    dn, written = keep_observed_without_s1(dn, block.observed, block.observed_valid, block.valid, alpha)
                if writers.mask is not None:  # the mask describes the S2: also where S1 is missing
                    writers.mask.write(mask_values(mask_rows.cloud, block.observed_valid, mask_rows.shadow))
            writers.out.write(output_dn(dn, written))
            if writers.std is not None and block.std is not None:
                writers.std.write(std_values(block.std, block.valid, alpha if composite else None))
        if masks is not None:
            writers.add_tags({**masks.tags(), **(source_tags or {})})
    written = [out, mask_out, std_out, quicklook_path(out, quicklook) if quicklook else None]
    log("wrote " + ", ".join(str(p) for p in written if p is not None))
    return out


def _output_tags(inputs: SceneInputs, spec: ModelSpec, model_name: str, composite: bool, settings: EngineSettings) -> dict[str, str]:
    """What the output was made from and how, kept in the GeoTIFF so it travels with the pixels."""
    tags = inputs.radiometry.tags()
    tags.update(
        SARCLEAR_MODEL=Path(model_name).name,
        SARCLEAR_MODEL_TRAINED_ON=f"{spec.training_data} {spec.s2_level}",
        SARCLEAR_COMPOSITE="yes" if composite else "no",
        **settings.tags(),
    )
    return tags


def _check_settings(tile: int | None, overlap: int | None, batch_size: int, quicklook: str | None) -> None:
    if tile is not None and tile <= 0:
        raise ConfigError(f"--tile {tile}: must be positive")
    if overlap is not None and (overlap < 0 or (tile is not None and overlap >= tile)):
        raise ConfigError(f"--overlap {overlap}: must be >= 0 and smaller than the tile ({tile} px)")
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size}: must be at least 1")
    if quicklook is not None and quicklook.lower() not in QUICKLOOK_FORMATS:
        raise ConfigError(f"--format {quicklook}: expected png or jpeg")


def _check_tile(tile: int, spec: ModelSpec) -> None:
    """The U-Net halves the window `n_down` times and concatenates skips, so sizes must divide evenly."""
    step = 2**spec.n_down
    if tile % step:
        raise ConfigError(f"--tile {tile}: the checkpoint's U-Net has {spec.n_down} down-samplings, so the tile must be a multiple of {step}")


def _check_model_matches(spec: ModelSpec, inputs: SceneInputs, model_name: str) -> None:
    expected = (2 if spec.use_sar else 0) + len(inputs.model_bands)
    if spec.in_channels != expected:
        raise CheckpointError(
            f"{model_name}: the model expects {spec.in_channels} input channels but use_sar={spec.use_sar}, bands={spec.bands} "
            f"give {expected}: it was written for another configuration"
        )
    try:
        rgb_channels(spec.out_channels)
    except ValueError as exc:
        raise CheckpointError(f"{model_name}: {exc}") from exc


def _check_outputs(inputs: SceneInputs, outputs: list[Path | None], s2: str | Path, s1: list[Path], mask: str | Path | None,
                   protected: Sequence[str | Path | None] = ()) -> None:  # fmt: skip
    """No output may overwrite an input (a product's band files included, and the `protected`
    files: the checkpoint) or another output, or join an input product folder."""
    infos = [info for info in (inputs.s2, inputs.s1, inputs.mask) if info is not None]
    given = [*(info.path for info in infos), s2, *s1, mask]
    sources = input_files(given, [info.source for info in infos], checkpoints=protected)
    check_outputs(outputs, sources, product_folders(given, s1=s1))
    if outputs[0] is not None:
        check_geotiff_name(outputs[0])
