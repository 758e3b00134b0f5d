"""The manifest: one CSV row per triplet, the contract between `curate` and everything after it.

`curate` writes it; `train`, `evaluate` and the dataset read it. A user can also write one by hand
(only the required columns are needed; `kept` defaults to true, `split` to the official split of
the row's scene, which is the `scene` column or is read from SEN12MS-CR sample ids and file names;
a row whose split cannot be known is an error, never a silent `train`).
Paths may be absolute or relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarclear.data.layout import name_parts, official_split, season_of
from sarclear.errors import LayoutError
from sarclear.io.atomic import atomic_output

REQUIRED_COLUMNS: tuple[str, ...] = ("sample_id", "s1_path", "s2_cloudy_path", "s2_path")
CORE_COLUMNS: tuple[str, ...] = (
    "sample_id", "season", "scene", "patch", "split", "s1_path", "s2_cloudy_path", "s2_path", "kept", "reasons",
)
#: Cloud cover of the cloudy input in percent; evaluation bins its results by it.
CLOUD_COVER_COLUMN = "cloud_cover_pct"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Sample:
    """One manifest row with typed fields; `stats` keeps every other column as text."""

    sample_id: str
    season: str
    scene: str
    patch: str
    split: str
    s1_path: Path
    s2_cloudy_path: Path
    s2_path: Path
    kept: bool
    reasons: tuple[str, ...]
    stats: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def cloud_cover_pct(self) -> float | None:
        value = self.stats.get(CLOUD_COVER_COLUMN, "")
        try:
            return float(value)
        except ValueError:
            return None


def _truthy(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "y", "kept"}


def _parse_row(row: dict[str, str], base: Path, line: int, path: Path) -> Sample:
    def resolve(column: str) -> Path:
        value = (row.get(column) or "").strip()
        if not value:
            return Path("")
        p = Path(value)
        return p if p.is_absolute() else base / p

    sample_id = row["sample_id"].strip()
    named = _name_parts(sample_id, row)
    roi = named[0] if named else ""
    season = (row.get("season") or "").strip() or (season_of(roi) if roi else "unknown")
    scene = (row.get("scene") or "").strip() or (named[1] if named else "")
    split = (row.get("split") or "").strip()
    if not split:
        if not scene.isdigit():
            raise LayoutError(
                f"{path}: line {line}: no split for {sample_id!r}: the manifest has no split or scene value for it and its "
                "file names are not SEN12MS-CR's; add a split column (train, val or test) or a scene column (official split)"
            )
        split = official_split(season, scene)
    if split not in SPLITS:
        raise LayoutError(f"{path}: line {line}: split {split!r} is not one of {', '.join(SPLITS)}")
    reasons = tuple(r for r in (row.get("reasons") or "").split(";") if r)
    kept_text = row.get("kept")
    kept = _truthy(kept_text) if kept_text not in (None, "") else not reasons
    core = set(CORE_COLUMNS)
    stats = {k: v for k, v in row.items() if k not in core and k is not None}
    return Sample(
        sample_id=sample_id,
        season=season,
        scene=scene,
        patch=(row.get("patch") or "").strip(),
        split=split,
        s1_path=resolve("s1_path"),
        s2_cloudy_path=resolve("s2_cloudy_path"),
        s2_path=resolve("s2_path"),
        kept=kept,
        reasons=reasons,
        stats=stats,
    )


def _name_parts(sample_id: str, row: dict[str, str]) -> tuple[str, str, int] | None:
    """(roi, scene, patch) from the sample id or, failing that, any of the row's file names."""
    for name in (sample_id, *(Path((row.get(c) or "").strip()).name for c in ("s2_path", "s2_cloudy_path", "s1_path"))):
        parts = name_parts(name) if name else None
        if parts is not None:
            return parts
    return None


def read_manifest(path: str | Path) -> list[Sample]:
    """Every row of a manifest CSV, kept or not, in file order."""
    path = Path(path)
    if not path.is_file():
        raise LayoutError(f"{path}: manifest not found (run `sarclear curate ROOT --out DIR` to make one)")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise LayoutError(f"{path}: not a sarclear manifest, missing column(s) {', '.join(missing)}")
        return [_parse_row(row, path.parent, line, path) for line, row in enumerate(reader, start=2)]


def select(samples: Iterable[Sample], split: str = "all", kept_only: bool = True) -> list[Sample]:
    """Rows of one split (`train`, `val`, `test` or `all`), by default only those curation kept."""
    if split != "all" and split not in SPLITS:
        raise LayoutError(f"split {split!r} is not one of all, {', '.join(SPLITS)}")
    return [s for s in samples if (split == "all" or s.split == split) and (s.kept or not kept_only)]


def write_manifest(
    path: str | Path,
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write rows atomically; `metadata` (thresholds, rendering, version) goes to a JSON sidecar.

    The sidecar (`manifest.json` beside `manifest.csv`) keeps the CSV loadable by any CSV reader
    while still recording how every number in it was made.
    """
    path = Path(path)
    columns = list(columns)
    with atomic_output(path) as tmp:
        with tmp.open("w", newline="") as handle:
            # A plain writer fed the row's cells in column order writes what `csv.DictWriter` with
            # extrasaction="ignore" writes, without its per-row key checks (a manifest has 122,218 rows).
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_format(row.get(c)) for c in columns])
    if metadata is not None:
        with atomic_output(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n")
    return path


def _format(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return "" if value is None else value
