"""GitHub-flavoured Markdown tables: the one writer of the curation summary's and evaluation report's tables.

Why its own module: both reports are read on GitHub and in editors, and a cell holding a `|`
(a file path, a reason list) would otherwise break its row; escaping it in one place keeps every
table of the project well-formed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A header row, the `---` separator and one line per row; cells are `str()`-ed, pipes escaped."""

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "| " + " | ".join("---" for _ in header) + " |"] + [line(r) for r in rows])
