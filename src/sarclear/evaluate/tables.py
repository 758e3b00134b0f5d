"""The report's tables as plain rows of strings, shared by the Markdown and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sarclear.evaluate.metrics import METRICS

Table = tuple[list[str], list[list[str]]]

METRIC_LABELS: dict[str, str] = {"psnr": "PSNR (dB)", "ssim": "SSIM", "sam": "SAM (°)", "mae": "MAE", "rmse": "RMSE"}
SCALE_LABELS: dict[str, str] = {"reflectance": "reflectance [0, 1]", "display": "8-bit display [0, 255]"}
BREAKDOWN_LABELS: dict[str, str] = {
    "by_season": "season",
    "by_cloud_cover": "cloud cover (%)",
    "by_region": "region",
}
BREAKDOWN_TITLES: dict[str, str] = {
    "by_season": "Per season",
    "by_cloud_cover": "Per cloud-cover bin",
    "by_region": "Inside vs outside the cloud mask",
}
REGION_NOTE = (
    "cloud: pixels inside the cloud mask of the cloudy input; clear: outside it. "
    "n counts the tiles that have such pixels; the identity baseline's clear-region score shows how much "
    "of the tile the mask missed (thin cloud, haze)."
)
_DECIMALS: dict[tuple[str, str], int] = {("reflectance", "mae"): 4, ("reflectance", "rmse"): 4}
_DEFAULT_DECIMALS: dict[str, int] = {"psnr": 2, "ssim": 3, "sam": 2, "mae": 2, "rmse": 2}


def format_stat(stats: Mapping[str, Any] | None, scale: str, metric: str, *, with_std: bool = True) -> str:
    """`27.18 ± 2.10`, or `—` when there is no value."""
    if not stats or stats.get("mean") is None:
        return "—"
    digits = _DECIMALS.get((scale, metric), _DEFAULT_DECIMALS[metric])
    text = f"{stats['mean']:.{digits}f}"
    return f"{text} ± {stats['std']:.{digits}f}" if with_std and stats.get("n", 0) > 1 else text


def overall_table(results: Mapping[str, Any], scale: str) -> Table:
    """One row per method: n and mean ± std of every metric on one scale."""
    header = ["method", "n"] + [METRIC_LABELS[m] for m in METRICS]
    rows = []
    for method, breakdowns in results.items():
        group = breakdowns["overall"]
        rows.append([method, str(group.get("n", 0))] + [format_stat(group.get(scale, {}).get(m), scale, m) for m in METRICS])
    return header, rows


#: Columns of the breakdown tables: the headline metrics on both scales.
BREAKDOWN_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("reflectance", "psnr", "PSNR"),
    ("reflectance", "ssim", "SSIM"),
    ("reflectance", "sam", "SAM (°)"),
    ("display", "psnr", "PSNR 8-bit"),
    ("display", "ssim", "SSIM 8-bit"),
)


def breakdown_table(results: Mapping[str, Any], breakdown: str) -> Table:
    """One row per (group, method): a season, cloud-cover bin or region, with its n and means."""
    header = [BREAKDOWN_LABELS[breakdown], "method", "n"] + [label for _, _, label in BREAKDOWN_COLUMNS]
    groups: list[str] = []
    for breakdowns in results.values():
        groups.extend(g for g in breakdowns[breakdown] if g not in groups)
    rows = []
    for group_name in groups:
        for method, breakdowns in results.items():
            group = breakdowns[breakdown].get(group_name)
            if not group:
                continue
            cells = [format_stat(group.get(s, {}).get(m), s, m, with_std=False) for s, m, _ in BREAKDOWN_COLUMNS]
            rows.append([group_name, method, str(group.get("n", 0))] + cells)
    return header, rows


def protocol_notes(summary: Mapping[str, Any]) -> list[str]:
    """Sentences stating how the numbers were made, for the top of both reports."""
    protocol = summary["protocol"]
    mask = protocol["cloud_mask"]
    cover = protocol["cloud_cover"]
    return [
        f"Split '{summary['split']}' of {summary['manifest']}: {summary['n_tiles']} tiles, bands {protocol['bands']}.",
        "Metrics are computed per tile, then averaged over tiles (± is the standard deviation over tiles).",
        "Scales: reflectance = DN / 10000 clipped to [0, 1] (data range 1, as the published SEN12MS-CR tables); "
        "8-bit display = DN [0, 3000] -> [0, 255] (data range 255, the curation stretch).",
        "SSIM: Gaussian window 11 px, sigma 1.5, K1 0.01, K2 0.03, population covariance, 5 px border excluded "
        "(= scikit-image gaussian_weights=True, use_sample_covariance=False).",
        f"Cloud mask of the cloudy input: {', '.join(f'{k} ({v} tiles)' for k, v in mask['methods'].items())}; "
        f"threshold {mask['threshold']}, average over {mask['average_over']} px, dilation {mask['dilation_size']} px.",
        f"Cloud cover: {', '.join(f'{k} ({v} tiles)' for k, v in cover['sources'].items())}.",
        f"Generators in eval mode (BatchNorm running statistics, no dropout), run on {summary['device']}.",
        *adapt_notes(summary),
    ]


def adapt_notes(summary: Mapping[str, Any]) -> list[str]:
    """How the adapt methods were fitted, which tiles were skipped and why, and each method's time."""
    notes = []
    for name, method in summary["methods"].items():
        if method.get("kind") == "adapt":
            a = method["adapt"]
            notes.append(
                f"{name}: sarclear adapt fitted to each tile's own clear pixels ({'SAR + optical' if a['use_sar'] else 'optical only'}, "
                f"{a['steps']} steps, seed {a['seed']}, {a['start']}), inside evaluate's cloud mask; outputs in {a['outputs']}."
            )
    if summary.get("n_skipped"):
        skipped = "; ".join(f"{row['sample_id']} ({', '.join(row['reasons'])}: {next(iter(row['reasons'].values()))})"
                            for row in summary["skipped"])  # fmt: skip
        notes.append(f"{summary['n_skipped']} of {summary['n_tiles']} tiles skipped, left out of every method's score: {skipped}.")
    if "seconds" in next(iter(summary["methods"].values()), {}):
        times = ", ".join(f"{name} {method['seconds']:.1f} s" for name, method in summary["methods"].items())
        notes.append(f"Prediction time over the scoring pass (fits included): {times}.")
    return notes
