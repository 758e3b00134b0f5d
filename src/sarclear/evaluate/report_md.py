"""report.md: the evaluation's tables in Markdown, for a terminal, a pull request or a README."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sarclear.evaluate.tables import (
    BREAKDOWN_TITLES,
    REGION_NOTE,
    SCALE_LABELS,
    breakdown_table,
    overall_table,
    protocol_notes,
)
from sarclear.report.markdown import markdown_table


def overall_markdown(results: Mapping[str, Any]) -> str:
    """The overall tables on both scales (also printed by the CLI)."""
    parts = []
    for scale, label in SCALE_LABELS.items():
        parts.append(f"**Overall, {label}**\n\n" + markdown_table(*overall_table(results, scale)))
    return "\n\n".join(parts)


def render_markdown(summary: Mapping[str, Any], plot_file: str | None = None) -> str:
    """The whole report.md text from a metrics.json-shaped summary."""
    results = summary["results"]
    lines = ["# sarclear evaluation", ""]
    lines += [f"- {note}" for note in protocol_notes(summary)]
    lines += ["", "## Overall", "", overall_markdown(results), ""]
    for breakdown, title in BREAKDOWN_TITLES.items():
        lines += [f"## {title}", "", markdown_table(*breakdown_table(results, breakdown)), ""]
        if breakdown == "by_region":
            lines += [REGION_NOTE, ""]
    if plot_file:
        lines += ["## PSNR vs cloud cover", "", f"![PSNR vs cloud cover]({plot_file})", ""]
    if "uncertainty" in summary:
        u = summary["uncertainty"]
        lines += [
            "## Error vs uncertainty", "",
            f"{u['method']}, {u['samples']} stochastic passes: Spearman correlation **{u['spearman']:.3f}** between the per-pixel "
            f"standard deviation and the absolute error ({u['pixels']:,} pixels of {u['tiles']} tiles; mean of the per-tile "
            f"correlations {u['spearman_per_tile_mean']:.3f}).", "",
            "![error vs uncertainty](error_vs_uncertainty.png)", "",
        ]  # fmt: skip
    lines += ["The best / median / worst tiles are shown in report.html.", ""]
    return "\n".join(lines)
