"""report.html: the evaluation as one self-contained page (tables, plot, gallery; opens from disk)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sarclear.evaluate.figures import ERROR_VMAX
from sarclear.evaluate.gallery import GalleryTile
from sarclear.evaluate.tables import (
    BREAKDOWN_TITLES,
    REGION_NOTE,
    SCALE_LABELS,
    breakdown_table,
    overall_table,
    protocol_notes,
)
from sarclear.report.html import Html, escape, figure_html, html_page, img_tag, paragraph, table_html


def gallery_html(tiles: Sequence[GalleryTile], primary: str) -> Html:
    """One captioned row of pictures per tile."""
    if not tiles:
        return paragraph("No tile to show.")
    parts = [
        paragraph(
            f"Tiles ranked by the reflectance PSNR of {primary}. Optical images use the 8-bit display stretch "
            f"(DN 0-3000); the error map is the mean absolute reflectance error over the bands, black 0 to "
            f"light yellow >= {ERROR_VMAX:g}.",
            note=True,
        )
    ]
    for tile in tiles:
        scores = ", ".join(f"{name} {value:.2f} dB" for name, value in tile.psnr.items())
        parts.append(
            paragraph(
                Html(
                    f"<b>{tile.category}</b> · {escape(tile.sample_id)} · {escape(tile.season)} · "
                    f"cloud cover {tile.cloud_cover_pct:.0f}% · PSNR {escape(scores)}"
                )
            )
        )
        header = [label for label, _ in tile.images]
        row = [img_tag(data, f"{tile.sample_id} {label}") for label, data in tile.images]
        parts.append(table_html([row], header, css_class="images"))
    return Html("".join(parts))


def render_html(
    summary: Mapping[str, Any], plot_png: bytes | None, tiles: Sequence[GalleryTile], uncertainty_png: bytes | None = None
) -> str:
    """The whole report.html from a metrics.json-shaped summary, the plots and the gallery tiles."""
    results = summary["results"]
    notes = Html("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in protocol_notes(summary)) + "</ul>")
    overall = []
    for scale, label in SCALE_LABELS.items():
        header, rows = overall_table(results, scale)
        overall.append(table_html(rows, header, caption=label))
    sections: list[tuple[str, object]] = [("Overall", [notes, *overall])]
    for breakdown, title in BREAKDOWN_TITLES.items():
        header, rows = breakdown_table(results, breakdown)
        body: list[object] = [table_html(rows, header)]
        if breakdown == "by_region":
            body.append(paragraph(REGION_NOTE, note=True))
        sections.append((title, body))
    if plot_png is not None:
        sections.append(("PSNR vs cloud cover", figure_html(plot_png, "reflectance PSNR of every tile against the "
                                                           "cloud cover of its cloudy input", width=760)))
    if uncertainty_png is not None and "uncertainty" in summary:
        u = summary["uncertainty"]
        caption = (
            f"{u['method']}, {u['samples']} stochastic passes: Spearman correlation {u['spearman']:.3f} between the "
            f"per-pixel standard deviation and the absolute error ({u['pixels']:,} pixels of {u['tiles']} tiles); "
            "mean absolute error per uncertainty decile"
        )
        sections.append(("Error vs uncertainty", figure_html(uncertainty_png, caption, width=560)))
    sections.append(("Gallery", gallery_html(tiles, summary["primary_method"])))
    methods = ", ".join(summary["methods"])
    return html_page("sarclear evaluation", sections, subtitle=f"{methods} · split {summary['split']} · "
                                                               f"{summary['n_tiles']} tiles")
