"""Self-contained HTML pages: images embedded as base64, inline CSS, no script, no external asset.

A report must open from disk on a laptop after being copied off a cluster, so nothing is linked.
Text is escaped unless it is wrapped in `Html` (markup produced by these helpers), which keeps
sample ids or file names with `<` or `&` from breaking the page.

    page = html_page("Evaluation", [("Overall", table_html(rows, header)), ("Gallery", gallery)])
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

_MIME = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"), (b"<svg", "image/svg+xml"))

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1360px;margin:0 auto;padding:20px 28px 60px}
header{background:#1d2a3a;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:24px}header p{margin:6px 0 0;color:#c9d3df}
nav{background:#fff;border-bottom:1px solid #dde1e6;padding:8px 28px;font-size:14px}
nav a{margin-right:16px;color:#27548a;text-decoration:none}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 20px 16px;margin:18px 0}
h2{font-size:19px;border-bottom:1px solid #e6e9ed;padding-bottom:6px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:14px}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #d5dae0;padding:4px 9px;vertical-align:top}
th{background:#eef1f5;text-align:left}
tbody tr:nth-child(even){background:#f8f9fb}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.images{width:100%;table-layout:fixed}
table.images td{border:none;padding:2px;text-align:center;font-size:12px;background:#fff}
table.images img{width:100%;max-width:256px;height:auto;border:1px solid #d5dae0;box-sizing:border-box}
table.images th{background:none;border:none;text-align:center;font-size:13px}
img{display:block;margin:0 auto;max-width:100%;height:auto}
figure{margin:8px 0}figcaption{font-size:13px;color:#555}
.note{font-size:13px;color:#555}
code{background:#eef1f5;padding:0 3px;border-radius:3px}
"""


class Html(str):
    """A string of trusted markup: `escape` leaves it unchanged."""


def escape(value: object) -> Html:
    """Markup for any value: `Html` passes through, everything else is escaped text."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value)))


def _mime(data: bytes) -> str:
    for magic, mime in _MIME:
        if data.lstrip()[: len(magic)] == magic:
            return mime
    raise ValueError("unrecognised image data (expected PNG, JPEG, GIF or SVG bytes)")


def img_tag(image: bytes | str | Path, alt: str = "", *, width: int | None = None, title: str | None = None) -> Html:
    """An `<img>` with the picture embedded as a base64 data URI (bytes, or a file to read)."""
    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    src = f"data:{_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"
    attrs = f' width="{int(width)}"' if width else ""
    attrs += f' title="{escape(title)}"' if title else ""
    return Html(f'<img src="{src}" alt="{escape(alt)}"{attrs}>')


_NUMBER = re.compile(r"^[-+]?[\d.,]+( ?± ?[\d.,]+)?%?$|^—$")


def _cell(value: object, tag: str) -> str:
    text = escape(value)
    numeric = tag == "td" and not isinstance(value, Html) and bool(_NUMBER.match(str(value)))
    return f'<{tag} class="num">{text}</{tag}>' if numeric else f"<{tag}>{text}</{tag}>"


def table_html(
    rows: Iterable[Sequence[object]],
    header: Sequence[object] | None = None,
    *,
    caption: str | None = None,
    css_class: str | None = None,
) -> Html:
    """A table; numbers are right-aligned. Cells may be `Html` (an image, a link) or plain values."""
    parts = [f'<table class="{escape(css_class)}">' if css_class else "<table>"]
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    if header:
        parts.append("<thead><tr>" + "".join(_cell(h, "th") for h in header) + "</tr></thead>")
    parts.append("<tbody>")
    parts.extend("<tr>" + "".join(_cell(v, "td") for v in row) + "</tr>" for row in rows)
    parts.append("</tbody></table>")
    return Html("".join(parts))


def paragraph(text: object, *, note: bool = False) -> Html:
    """A `<p>` of escaped text (or `Html`); `note` renders it small and grey."""
    return Html(f'<p class="note">{escape(text)}</p>' if note else f"<p>{escape(text)}</p>")


def figure_html(image: bytes | str | Path, caption: str = "", *, width: int | None = None) -> Html:
    """An embedded image with a caption underneath."""
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return Html(f"<figure>{img_tag(image, caption, width=width)}{cap}</figure>")


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def html_page(title: str, sections: Iterable[tuple[str, object]], *, subtitle: str | None = None) -> str:
    """A whole page: header, a navigation bar to each section, then the sections in order.

    `sections` is a sequence of `(heading, body)` pairs; `body` is `Html` or plain text, or a list
    of them (joined).
    """
    nav, body = [], []
    for heading, content in sections:
        anchor = _anchor(heading)
        parts = content if isinstance(content, (list, tuple)) else [content]
        nav.append(f'<a href="#{anchor}">{escape(heading)}</a>')
        body.append(f'<section id="{anchor}"><h2>{escape(heading)}</h2>{"".join(escape(p) for p in parts)}</section>')
    sub = f"<p>{escape(subtitle)}</p>" if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
        f"<body><header><h1>{escape(title)}</h1>{sub}</header><nav>{''.join(nav)}</nav>"
        f"<main>{''.join(body)}</main></body></html>\n"
    )
