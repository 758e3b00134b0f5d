"""`evaluate()`: stream a manifest split through every method, score each tile, write the reports.

    manifest rows -> EvalDataset (tiles + cloud mask) -> DataLoader -> each method's prediction (DN)
    -> per-tile metrics -> per_image.csv (streamed) + running aggregates -> metrics.json, report.md,
    report.html (+ psnr_vs_cloud_cover.png; with uncertainty: error_vs_uncertainty.png)

Memory stays flat in the number of tiles: only scalars are kept (running statistics, one PSNR and
cloud cover per tile and method for the plot and the gallery choice); gallery tiles are re-read at
the end. The library entry point is used by `sarclear evaluate` and by `sarclear demo`.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import torch
from torch.utils.data import DataLoader

from sarclear import __version__
from sarclear.data import clouds
from sarclear.data.manifest import Sample, read_manifest, select
from sarclear.data.provenance import warn_on_mismatch
from sarclear.data.worker_errors import ErrorSafeLoader
from sarclear.errors import LayoutError
from sarclear.evaluate.adapt_method import AdaptOptions
from sarclear.evaluate.aggregate import CLOUD_BINS, Aggregator, bin_label, cloud_bin
from sarclear.evaluate.figures import psnr_vs_cloud_plot
from sarclear.evaluate.gallery import Candidates, pick_tiles, render_tiles
from sarclear.evaluate.methods import (
    EngineOptions,
    Method,
    check_inputs,
    data_conventions,
    load_methods,
    predict_batch,
    skipped_tiles,
)
from sarclear.evaluate.metrics import METRICS, PROTOCOL, REGIONS, SCALES, dn_metrics
from sarclear.evaluate.report_html import render_html
from sarclear.evaluate.report_md import render_markdown
from sarclear.evaluate.samples import EvalDataset, collate
from sarclear.evaluate.uncertainty import UncertaintyScore, error_vs_uncertainty_plot
from sarclear.io.atomic import atomic_output
from sarclear.io.geotiff import raster_info
from sarclear.io.sources import describe_s2
from sarclear.predict.engine import parse_device
from sarclear.progress import progress_bar

METRICS_FILE, PER_IMAGE_FILE, REPORT_MD, REPORT_HTML = "metrics.json", "per_image.csv", "report.md", "report.html"
ADAPT_FOLDER = "adapt"  # OUT/adapt/<method>/<sample>.tif: the adapt fits' outputs; OUT/adapt/masks/: their masks
PLOT_FILE = "psnr_vs_cloud_cover.png"
UNCERTAINTY_PLOT_FILE = "error_vs_uncertainty.png"
INFO_COLUMNS: tuple[str, ...] = (
    "sample_id", "season", "split", "method", "cloud_cover_pct", "cloud_cover_source", "cloud_bin", "cloud_mask_pct",
)
#: The headline score: it ranks the gallery and is plotted against cloud cover.
HEADLINE = "reflectance/psnr"


def metric_columns() -> list[str]:
    """per_image.csv metric columns: whole tile on both scales, then each region on both scales."""
    whole = [f"{scale}/{m}" for scale in SCALES for m in METRICS]
    return whole + [f"{scale}/{region}/{m}" for region in REGIONS for scale in SCALES for m in METRICS]


def _samples(manifest: Path, split: str, max_tiles: int | None) -> list[Sample]:
    samples = select(read_manifest(manifest), split)
    if max_tiles is not None:
        samples = samples[: max(0, max_tiles)]
    if not samples:
        raise LayoutError(f"{manifest}: no kept row in split {split!r} (try --split all)")
    return samples


class _Pass:
    """State of the streaming pass: aggregates, per-tile scalars and provenance counters."""

    def __init__(self, methods: Sequence[Method], n_tiles: int, gallery_k: int) -> None:
        self.primary = methods[0].name
        self.candidates = Candidates(gallery_k)
        self.aggregator = Aggregator()
        self.headline = {m.name: [math.nan] * n_tiles for m in methods}
        self.cover = [math.nan] * n_tiles
        self.mask_methods: Counter[str] = Counter()
        self.cover_sources: Counter[str] = Counter()
        self.uncertainty = UncertaintyScore()
        self.skipped: list[dict[str, Any]] = []

    def add_batch(
        self, batch: dict[str, Any], scores: dict[str, dict[str, list[float]]], writer: csv.DictWriter,
        skipped: dict[int, list[tuple[str, str]]],
    ) -> None:  # fmt: skip
        """Score rows of the batch's tiles; a tile in `skipped` is recorded with its reasons instead."""
        mask_pct = (batch["cloud_mask"].float().mean(dim=(1, 2)) * 100).tolist()
        for i, index in enumerate(batch["index"].tolist()):
            cover = float(batch["cloud_cover_pct"][i])
            info = {
                "sample_id": batch["id"][i], "season": batch["season"][i], "split": batch["split"][i],
                "cloud_cover_pct": cover, "cloud_cover_source": batch["cloud_cover_source"][i],
                "cloud_bin": cloud_bin(cover), "cloud_mask_pct": mask_pct[i],
            }
            self.mask_methods[batch["mask_method"][i]] += 1
            self.cover_sources[batch["cloud_cover_source"][i]] += 1
            if index in skipped:
                reasons = {method: reason for method, reason in skipped[index]}
                self.skipped.append({"sample_id": info["sample_id"], "cloud_mask_pct": info["cloud_mask_pct"], "reasons": reasons})
                continue
            self.cover[index] = cover
            for method, values in scores.items():
                row = {key: column[i] for key, column in values.items()}
                self.aggregator.add(method, info["season"], info["cloud_bin"], row)
                self.headline[method][index] = row[HEADLINE]
                writer.writerow({**info, "method": method, **row})
            self.candidates.offer(index, self.headline[self.primary][index], batch["cloud_mask"][i].numpy().copy())


def _stream(
    loader: DataLoader, dataset: EvalDataset, methods: Sequence[Method], device: torch.device, clip: float,
    handle: TextIO, progress: bool, gallery_k: int,
) -> _Pass:
    state = _Pass(methods, len(dataset), gallery_k)
    writer = csv.DictWriter(handle, fieldnames=list(INFO_COLUMNS) + metric_columns())
    writer.writeheader()
    with progress_bar(total=len(dataset), desc="evaluate", unit="tile", disable=not progress) as bar:
        for batch in loader:
            first = dataset.samples[int(batch["index"][0])]
            check_inputs(methods, *batch["clear"].shape[1:], where=first.s2_cloudy_path)
            _, target_dn, preds, stds = predict_batch(batch, methods, device, clip, dataset.samples)
            skipped = skipped_tiles(methods, batch["index"].tolist())
            mask, valid = batch["cloud_mask"].to(device), batch["valid_mask"].to(device)
            if state.primary in stds:
                state.uncertainty.add(stds[state.primary], preds[state.primary], target_dn, valid[:, 0] > 0)
            scores = {
                name: {key: value.cpu().tolist() for key, value in dn_metrics(pred, target_dn, mask, valid).items()}
                for name, pred in preds.items()
            }
            state.add_batch(batch, scores, writer, skipped)
            bar.update(len(batch["id"]))
    return state


def _protocol(bands: str, state: _Pass) -> dict[str, Any]:
    return {
        **PROTOCOL,
        "bands": "RGB (B4, B3, B2)" if bands == "rgb" else "all 13 L1C bands",
        "cloud_mask": {
            "source": "cloudy input, every band of its file (13 L1C bands with a usable B10 -> s2cloudless, "
            "otherwise B4, B3, B2, B8, B11, B12 (L2A without B10, a constant B10) -> Fmask's spectral tests, "
            "RGB alone -> brightness test; sarclear.data.cloud_bands)",
            "methods": dict(state.mask_methods),
            "threshold": clouds.DEFAULT_THRESHOLD,
            "average_over": clouds.DEFAULT_AVERAGE_OVER,
            "dilation_size": clouds.DEFAULT_DILATION_SIZE,
        },
        "cloud_cover": {
            "sources": dict(state.cover_sources),
            "rule": "manifest column cloud_cover_pct when set, else the cloud mask over valid pixels",
            "bins_pct": [bin_label(*b) for b in CLOUD_BINS],
        },
        "generator_mode": "predict's engine (methods[...].engine): batch norm in its `norm` mode (window: each window's own "
        "statistics, what `auto` picks for a model trained at batch 1; running: the running averages, `auto`'s choice "
        "above batch 1), dropout off unless samples > 1 (mean of the stochastic passes)",
        "tiles": "whole tiles, no crop, through predict's window grid (engine tile and overlap) and blending",
    }


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _provenance_warnings(methods: Sequence[Method], samples: Sequence[Sample], log: Callable[[str], None]) -> list[str]:
    """What each checkpoint was trained on against the first tile scored (`data.provenance`)."""
    if not samples:
        return []
    first = samples[0].s2_cloudy_path
    info = raster_info(first)
    level = describe_s2(first, descriptions=info.descriptions, count=info.count)[1].level
    found: list[str] = []
    for method in methods:
        if method.spec is not None:
            found += [f"{method.name}: {w}" for w in warn_on_mismatch(method.spec.training_data, method.spec.s2_level, info, level, lambda _: None)]
    for line in found:
        log(line)
    return found


def evaluate(
    manifest: str | Path,
    out: str | Path,
    *,
    checkpoint: str | Path | None = None,
    compare: Iterable[str | Path] = (),
    baselines: Iterable[str] = ("identity",),
    split: str = "test",
    batch_size: int = 4,
    max_tiles: int | None = None,
    device: str | torch.device | None = None,
    workers: int = 0,
    gallery_per_category: int = 2,
    engine: EngineOptions = EngineOptions(),
    adapt: Iterable[str] = (),
    adapt_options: AdaptOptions = AdaptOptions(),
    progress: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Score every method on one manifest split; write OUT/metrics.json, per_image.csv, report.md/html.

    Checkpoints run as `predict` runs them (`engine`: precision, batch-norm mode, window grid;
    `samples` > 1 adds the uncertainty score of the first checkpoint). `adapt` (`sar`, `no-sar`)
    fits `sarclear adapt` to every tile (`adapt_options`: steps, seed), writing its GeoTIFFs under
    OUT/adapt/; tiles it refuses are left out of every method's score and listed in `skipped`
    (with `n_scored` and `n_skipped`). Returns the metrics.json
    content: `protocol`, `methods` (with each checkpoint's engine settings), `results[method]
    [breakdown]...`, `uncertainty` (with samples > 1), `warnings` (a synthetic-data model scored on
    real data, a level mismatch; also sent to `log`).
    """
    manifest, out = Path(manifest), Path(out)
    torch_device = parse_device(device)
    methods = load_methods(checkpoint, compare, baselines, torch_device, engine, adapt, adapt_options, out / ADAPT_FOLDER)
    bands, clip = data_conventions(methods)
    dataset = EvalDataset(_samples(manifest, split, max_tiles), bands=bands, s2_clip_max=clip)
    warnings = _provenance_warnings(methods, dataset.samples, log)
    loader = ErrorSafeLoader(dataset, batch_size=max(1, batch_size), shuffle=False, num_workers=workers,
                        collate_fn=collate, pin_memory=torch_device.type == "cuda")
    with atomic_output(out / PER_IMAGE_FILE) as tmp, tmp.open("w", newline="") as handle:
        state = _stream(loader, dataset, methods, torch_device, clip, handle, progress, gallery_per_category)
    summary: dict[str, Any] = {
        "sarclear_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "manifest": str(manifest),
        "split": split,
        "n_tiles": len(dataset),
        "n_scored": len(dataset) - len(state.skipped),
        "n_skipped": len(state.skipped),
        "skipped": state.skipped,
        "device": str(torch_device),
        "primary_method": methods[0].name,
        "methods": {m.name: m.describe() for m in methods},
        "protocol": _protocol(bands, state),
        "results": state.aggregator.results(),
        "warnings": warnings,
    }
    uncertainty_plot = None
    if methods[0].kind == "checkpoint" and engine.samples > 1:
        summary["uncertainty"] = {"method": methods[0].name, "samples": engine.samples, **state.uncertainty.result()}
        uncertainty_plot = error_vs_uncertainty_plot(summary["uncertainty"])
        with atomic_output(out / UNCERTAINTY_PLOT_FILE) as tmp:
            tmp.write_bytes(uncertainty_plot)
    with atomic_output(out / METRICS_FILE) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    plot = psnr_vs_cloud_plot({name: list(zip(state.cover, scores)) for name, scores in state.headline.items()})
    with atomic_output(out / PLOT_FILE) as tmp:
        tmp.write_bytes(plot)
    _write_text(out / REPORT_MD, render_markdown(summary, PLOT_FILE))
    picks = pick_tiles(state.headline[methods[0].name], gallery_per_category)
    tiles = render_tiles(dataset, picks, methods, state.headline, torch_device, clip, state.candidates.masks)
    _write_text(out / REPORT_HTML, render_html(summary, plot, tiles, uncertainty_plot))
    return summary
