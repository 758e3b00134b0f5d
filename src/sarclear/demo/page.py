"""The demo's one page: curation, training curves, metrics, gallery and the whole-scene result.

Everything on it is read back from what the subcommands wrote to disk (manifest, metrics.csv,
metrics.json, the predicted GeoTIFF), so the page shows exactly what a user would find in those
files. The verdicts at the top are computed from metrics.json, not written in advance: if the
fusion model does not beat a baseline, the page says so.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from sarclear.data.bands import s2_band_indexes
from sarclear.demo.plan import DemoBudget
from sarclear.evaluate.metrics import image_metrics, to_scale
from sarclear.evaluate.tables import SCALE_LABELS, breakdown_table, overall_table
from sarclear.evaluate.uncertainty import UncertaintyScore
from sarclear.io.atomic import atomic_output
from sarclear.io.geotiff import raster_info, read_decimated
from sarclear.report.html import (
    Html,
    escape,
    figure_html,
    html_page,
    paragraph,
    table_html,
)
from sarclear.report.images import figure_png
from sarclear.report.render import optical_rgb

QUICKLOOK_PX = 768


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _floats(rows: Sequence[Mapping[str, str]], x: str, y: str) -> tuple[list[float], list[float]]:
    pairs = [(float(r[x]), float(r[y])) for r in rows if r.get(y) not in (None, "")]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def training_curves(runs: Mapping[str, Path]) -> bytes:
    """L1 loss and validation PSNR against step, for every run (with the identity PSNR as a line)."""
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, run in runs.items():
        rows = _read_csv(run / "metrics.csv")
        ax_loss.plot(*_floats(rows, "step", "G_l1"), label=name)
        ax_psnr.plot(*_floats(rows, "step", "val_psnr"), marker="o", label=name)
        _, identity = _floats(rows, "step", "val_identity_psnr")
        if identity:
            ax_psnr.axhline(identity[-1], color="grey", linestyle="--", linewidth=1)
    ax_psnr.plot([], [], color="grey", linestyle="--", label="identity (cloudy input)")
    ax_loss.set(xlabel="step", ylabel="L1 (network units)", title="generator L1 loss", yscale="log")
    ax_psnr.set(xlabel="step", ylabel="PSNR (dB, reflectance)", title="validation PSNR")
    for ax in (ax_loss, ax_psnr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    data = figure_png(fig)
    plt.close(fig)
    return data


def _read_rgb_dn(path: Path, max_px: int = QUICKLOOK_PX) -> np.ndarray:
    """RGB DN of a scene (bands chosen as `predict` chooses them), decimated to at most `max_px`."""
    indexes, _ = s2_band_indexes(raster_info(path), "rgb")
    return read_decimated(path, max_px, indexes).astype(np.float32)


def scene_images(cloudy: Path, predicted: Path, truth: Path) -> dict[str, np.ndarray]:
    """The three scenes' RGB DN, decimated, read once for both of the page's scene figures."""
    return {name: _read_rgb_dn(path) for name, path in
            (("cloudy input", cloudy), ("sarclear prediction", predicted), ("ground truth", truth))}


def scene_panel(images: Mapping[str, np.ndarray]) -> tuple[bytes, dict[str, dict[str, float]]]:
    """Cloudy input | prediction | ground truth, and whole-scene metrics of input and prediction."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    for ax, (name, dn) in zip(axes, images.items()):
        ax.imshow(optical_rgb(dn))
        ax.set_title(name)
        ax.axis("off")
    fig.tight_layout()
    picture = figure_png(fig, dpi=90)
    plt.close(fig)
    target = torch.from_numpy(images["ground truth"])[None]
    scores = {}
    for name in ("cloudy input", "sarclear prediction"):
        pred = torch.from_numpy(images[name])[None]
        values = image_metrics(to_scale(pred, "reflectance"), to_scale(target, "reflectance"), 1.0)
        scores[name] = {k: float(v[0]) for k, v in values.items()}
    return picture, scores


def uncertainty_panel(uncertainty: Path, pred: np.ndarray, target: np.ndarray) -> tuple[bytes, dict[str, float]]:
    """|prediction - truth| (RGB DN, as `scene_images` reads them) beside the predicted uncertainty (the
    std file of the dropout passes), both band means in reflectance, and how well the one ranks the
    other (Spearman over the decimated scene)."""
    std = read_decimated(uncertainty, QUICKLOOK_PX, [1, 2, 3]).astype(np.float32)
    score = UncertaintyScore(pixels_per_tile=std.shape[1] * std.shape[2])
    # only where the model was used: with --composite the observed pixels have no error and no spread,
    # and counting them would reward the mask, not the uncertainty
    filled = torch.from_numpy(std.max(axis=0) > 0)[None]
    score.add(torch.from_numpy(std)[None], torch.from_numpy(pred)[None], torch.from_numpy(target)[None], filled)
    result = score.result()
    error = np.abs(pred - target).mean(axis=0) / 10000.0
    spread = std.mean(axis=0) / 10000.0
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.0))
    for ax, (name, values) in zip(axes, (("|prediction - truth|", error), ("predicted uncertainty (std of 8 passes)", spread))):
        top = float(np.quantile(values, 0.99)) or 1e-3  # each on its own scale: the spread is not calibrated
        shown = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=top)
        ax.set_title(name)
        ax.axis("off")
        fig.colorbar(shown, ax=ax, shrink=0.8, label="reflectance")
    picture = figure_png(fig, dpi=90)
    plt.close(fig)
    inside = filled[0].numpy()
    return picture, {"spearman": float(result["spearman"]), "pixels": float(result["pixels"]),
                     "mean_std": float(spread[inside].mean()) if inside.any() else 0.0,
                     "mean_abs_error": float(error[inside].mean()) if inside.any() else 0.0}


def _mean(results: Mapping[str, Any], method: str, *path: str) -> float | None:
    node: Any = results.get(method, {})
    for key in path:
        node = node.get(key, {}) if isinstance(node, Mapping) else {}
    value = node.get("mean") if isinstance(node, Mapping) else None
    return float(value) if value is not None else None


def verdicts(results: Mapping[str, Any], fusion: str, optical: str) -> list[tuple[str, bool | None, str]]:
    """The method's two claims, checked against the measured numbers: (claim, held?, evidence)."""
    claims = []
    fusion_psnr = _mean(results, fusion, "overall", "reflectance", "psnr")
    identity_psnr = _mean(results, "identity", "overall", "reflectance", "psnr")
    held = None if fusion_psnr is None or identity_psnr is None else fusion_psnr > identity_psnr
    claims.append(("fusion beats the cloudy input (identity baseline), all test tiles", held,
                   f"PSNR {fusion_psnr:.2f} vs {identity_psnr:.2f} dB" if held is not None else "not measured"))
    for label, path in (("opaque cloud: inside the cloud mask", ("by_region", "cloud")),
                        ("opaque cloud: tiles with 90-100 % cover", ("by_cloud_cover", "90-100"))):
        a = _mean(results, fusion, *path, "reflectance", "psnr")
        b = _mean(results, optical, *path, "reflectance", "psnr")
        held = None if a is None or b is None else a > b
        claims.append((f"fusion beats the optical-only model ({label})", held,
                       f"PSNR {a:.2f} vs {b:.2f} dB" if held is not None else "no such tiles in this test split"))
    return claims


def _verdict_table(claims: Sequence[tuple[str, bool | None, str]]) -> Html:
    marks = {True: "yes", False: "NO", None: "n/a"}
    return table_html([[claim, marks[held], evidence] for claim, held, evidence in claims],
                      ["claim", "held?", "measured (reflectance PSNR, test split)"])


def _curation_section(out: Path) -> list[object]:
    rows = _read_csv(out / "curation" / "manifest.csv")
    kept = sum(r["kept"] == "true" for r in rows)
    reasons: dict[str, int] = {}
    for row in rows:
        for reason in filter(None, row["reasons"].split(";")):
            reasons[reason] = reasons.get(reason, 0) + 1
    body: list[object] = [
        paragraph(f"{len(rows)} triplets found, {kept} kept, {len(rows) - kept} rejected. "
                  "Full summary: curation/summary.md; every decision: curation/manifest.csv."),
        table_html([[k, str(v)] for k, v in sorted(reasons.items())], ["rejection reason", "triplets"]),
    ]
    for name, caption in (("sigma_histogram.png", "contrast sigma per season, with the season thresholds"),
                          ("rejected_contact_sheet.png", "a sample of rejected tiles per reason")):
        if (out / "curation" / name).is_file():
            body.append(figure_html(out / "curation" / name, caption, width=900))
    return body


def write_demo_report(out: Path, *, timings: Sequence[tuple[str, float]], budget: DemoBudget) -> Path:
    """Write `out/report.html` (self-contained) and `out/before_after.png`; return the report path."""
    runs = {"fusion (SAR + optical)": out / "runs" / "fusion", "optical only": out / "runs" / "optical_only"}
    summary = json.loads((out / "evaluation" / "metrics.json").read_text())
    results = summary["results"]
    names = list(summary["methods"])
    fusion = next(n for n in names if n.startswith("fusion"))
    optical = next(n for n in names if n.startswith("optical"))
    claims = verdicts(results, fusion, optical)
    images = scene_images(out / "scene" / "s2_cloudy.tif", out / "prediction" / "cloud_free.tif", out / "scene" / "s2.tif")
    picture, scene_scores = scene_panel(images)
    with atomic_output(out / "before_after.png") as tmp:
        tmp.write_bytes(picture)
    sureness_section: list[tuple[str, object]] = []
    if (out / "prediction" / "uncertainty.tif").is_file():  # not in --quick: its 32 px U-Net has no dropout
        sureness, sure = uncertainty_panel(out / "prediction" / "uncertainty.tif", images["sarclear prediction"],
                                           images["ground truth"])
        with atomic_output(out / "uncertainty.png") as tmp:
            tmp.write_bytes(sureness)
        sureness_section.append(("How sure the model is", [figure_html(sureness, (
            "where the prediction is wrong (left) and where the model says it is unsure (right): the per-pixel "
            "standard deviation of 8 predictions with dropout on, whose mean is the prediction above (zero where "
            "the composite keeps the observation); "
            f"Spearman correlation of the two over the {sure['pixels']:,.0f} px the model filled: {sure['spearman']:.3f} "
            f"(there: mean error {sure['mean_abs_error']:.4f}, mean std {sure['mean_std']:.4f} reflectance; the "
            "spread is a ranking of the errors, not calibrated)"))]))

    metric_tables = []
    for scale, label in SCALE_LABELS.items():
        header, rows = overall_table(results, scale)
        metric_tables.append(table_html(rows, header, caption=label))
    for breakdown in ("by_region", "by_cloud_cover", "by_season"):
        header, rows = breakdown_table(results, breakdown)
        metric_tables.append(table_html(rows, header))
    plot = out / "evaluation" / "psnr_vs_cloud_cover.png"
    if plot.is_file():
        metric_tables.append(figure_html(plot, "reflectance PSNR of every test tile against its cloud cover", width=760))

    scene_rows = [[name] + [f"{s[m]:.3f}" for m in ("psnr", "ssim", "sam", "mae")] for name, s in scene_scores.items()]
    sections: list[tuple[str, object]] = [
        ("What the numbers say", [_verdict_table(claims), paragraph(
            f"Synthetic data: {budget.tile} px tiles; each model trained {budget.epochs} epochs, lr constant then "
            "decaying linearly to 0 over the last half "
            f"(batch {budget.batch_size}, ngf {budget.ngf}) on CPU. These figures show the method works on data "
            "whose answer is known; they are not SEN12MS-CR results.", note=True)]),
        ("Whole scene", [figure_html(picture, "predict --composite on a larger synthetic scene: cloudy input, "
                                     "prediction (observed pixels where clear, the model under the detected clouds and "
                                     "shadows; overlapping windows, blended, written as a georeferenced COG), ground truth"),
                         table_html(scene_rows, ["image vs ground truth", "PSNR (dB)", "SSIM", "SAM (°)", "MAE"])]),
        *sureness_section,
        ("Metrics (test split)", [*metric_tables, Html(
            '<p>Gallery of best / median / worst tiles: <a href="evaluation/report.html">evaluation/report.html</a></p>')]),
        ("Training", [figure_html(training_curves(runs), "both models, same data, budget and seed"),
                      Html('<p>Sample grids: <a href="runs/fusion/samples/">runs/fusion/samples/</a></p>')]),
        ("Curation", _curation_section(out)),
        ("Run time", table_html([[escape(step), f"{seconds:.0f} s"] for step, seconds in timings], ["step", "time"])),
    ]
    page = html_page("sarclear demo", sections, subtitle="cloud removal by SAR-optical fusion, end to end")
    report = out / "report.html"
    with atomic_output(report) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return report
