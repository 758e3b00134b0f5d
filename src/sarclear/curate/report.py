"""What a curation run found, accumulated row by row, and its `summary.md`.

`Tally` sees every manifest row as it streams past and keeps only counts, one float per triplet
(the contrast sigma, for the histogram) and a fixed-size random sample of rejected triplets per
reason (for the contact sheet), so memory does not grow with image count.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarclear.curate.rules import REASON_DESCRIPTIONS, REASONS, Thresholds
from sarclear.io.atomic import atomic_output
from sarclear.report.markdown import markdown_table


@dataclass
class Tally:
    """Counts per season, split and reason; sigma per season; a reservoir of rejected rows per reason."""

    per_reason_sample: int = 6
    seed: int = 0
    total: int = 0
    kept: int = 0
    measured: int = 0
    cached: int = 0
    season_total: Counter = field(default_factory=Counter)
    season_kept: Counter = field(default_factory=Counter)
    split_total: Counter = field(default_factory=Counter)
    split_kept: Counter = field(default_factory=Counter)
    reason_season: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    cloud_methods: Counter = field(default_factory=Counter)
    sigma: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    _seen: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def rejected(self) -> int:
        return self.total - self.kept

    def add(self, row: Mapping[str, Any]) -> None:
        season, split = row["season"], row["split"]
        self.total += 1
        self.season_total[season] += 1
        self.split_total[split] += 1
        if row["kept"]:
            self.kept += 1
            self.season_kept[season] += 1
            self.split_kept[split] += 1
        if row.get("contrast_sigma") is not None:
            self.sigma[season].append(float(row["contrast_sigma"]))
        if row.get("cloud_method"):
            self.cloud_methods[row["cloud_method"]] += 1
        for reason in row["reasons"]:
            self.reason_season[reason][season] += 1
            self._reservoir(reason, row)

    def _reservoir(self, reason: str, row: Mapping[str, Any]) -> None:
        """Algorithm R: each rejected row of a reason ends up in the sample with equal probability."""
        self._seen[reason] += 1
        keep = {k: row.get(k) for k in ("sample_id", "s2_path", "s2_cloudy_path", "reasons")}
        bucket = self.samples[reason]
        if len(bucket) < self.per_reason_sample:
            bucket.append(keep)
            return
        slot = self._rng.randrange(self._seen[reason])
        if slot < self.per_reason_sample:
            bucket[slot] = keep


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return markdown_table(header, rows).splitlines()


def summary_markdown(tally: Tally, thresholds: Thresholds, measurement: Mapping[str, Any], root: Path) -> str:
    """The human-readable account of a run: counts, reasons, thresholds, measurement settings."""
    seasons = sorted(tally.season_total)
    lines = [
        "# sarclear curate: summary",
        "",
        f"Dataset root: `{root}`. Manifest: `manifest.csv` (one row per triplet, kept or not; metadata in `manifest.json`).",
        "",
        (
            f"**{tally.total} triplets: {tally.kept} kept, {tally.rejected} rejected.** "
            f"Statistics measured for {tally.measured}, reused from the cache for {tally.cached}."
        ),
        "",
        "## Per season",
        "",
    ]
    lines += _table(
        ["season", "triplets", "kept", "rejected", "contrast sigma threshold"],
        [
            [s, tally.season_total[s], tally.season_kept[s], tally.season_total[s] - tally.season_kept[s], thresholds.sigma_for(s)]
            for s in seasons
        ],
    )
    lines += ["", "## Per split", ""]
    lines += _table(
        ["split", "triplets", "kept"], [[s, tally.split_total[s], tally.split_kept[s]] for s in sorted(tally.split_total)]
    )
    lines += ["", "## Per reason (a triplet can have several)", ""]
    reason_rows = [
        [f"`{r}`", sum(tally.reason_season[r].values()), *[tally.reason_season[r][s] for s in seasons], REASON_DESCRIPTIONS[r]]
        for r in REASONS
    ]
    lines += _table(["reason", "triplets", *seasons, "meaning"], reason_rows)
    lines += ["", "## Thresholds used", ""]
    lines += [f"- `{k}`: {v}" for k, v in thresholds.as_dict().items()]
    lines += ["", "## Measurement", ""]
    lines += [f"- `{k}`: {v}" for k, v in measurement.items()]
    if tally.cloud_methods:
        used = ", ".join(f"{m} ({n} triplets)" for m, n in sorted(tally.cloud_methods.items()))
        lines += [f"- cloud detector used per triplet: {used}"]
    lines += [
        "",
        "## Figures",
        "",
        "![contrast sigma per season](sigma_histogram.png)",
        "",
        "![a sample of rejected triplets per reason](rejected_contact_sheet.png)",
        "",
    ]
    return "\n".join(lines)


def write_summary(path: Path, text: str) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(text)
    return path
