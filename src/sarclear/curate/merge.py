"""`sarclear curate --merge DIR_0 ... DIR_N-1 --out DIR`: the shards' records -> one run's outputs.

Checks first, because a merge of mismatched shards would be silently wrong: every folder is a
finished shard of the same N (each index exactly once), of the same dataset root, measured with
the same settings and decided with the same thresholds. Then the shards' record files, each in
listing order, are merged by `heapq.merge` (streaming: memory does not grow with the dataset) and
go through `run.write_outputs`, the code a single run uses, so manifest, summary and figures are
those of one run over all triplets. The shards' statistics caches are copied into `DIR`'s cache,
so a later `sarclear curate ROOT --out DIR` with new thresholds measures nothing.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sarclear.curate.cache import CACHE_FILENAME, StatsCache
from sarclear.curate.measure import MeasureSettings
from sarclear.curate.rules import Thresholds
from sarclear.curate.run import CurateResult, measurement_info, run_metadata, write_outputs
from sarclear.curate.shard import RECORDS_FILENAME, read_records, sort_key
from sarclear.errors import LayoutError

_COPY_BATCH = 2000


def _metadata(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise LayoutError(f"{folder}: no manifest.json; pass the --out folders of finished `sarclear curate ... --shard I/N` runs")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise LayoutError(f"{path}: unreadable ({exc}); re-run that shard") from exc


def check_shards(folders: Sequence[Path], out: Path) -> list[dict[str, Any]]:
    """The shards' metadata, in folder order, after checking they make one complete run."""
    if not folders:
        raise LayoutError("--merge needs the --out folders of the shards (DIR_0 DIR_1 ...)")
    metas = [_metadata(f) for f in folders]
    for folder, meta in zip(folders, metas):
        if "shard" not in meta:
            raise LayoutError(f"{folder}: not a shard (its manifest.json has no 'shard'); it was curated without --shard I/N")
        if Path(folder).resolve() == out.resolve():
            raise LayoutError(f"{out}: the merge output is one of the shard folders; choose a new folder")
    first, where = metas[0], folders[0]
    count = first["shard"]["count"]
    for key, words in (("root", "dataset root"), ("measurement", "measurement settings"), ("thresholds", "thresholds")):
        for folder, meta in zip(folders[1:], metas[1:]):
            if meta.get(key) != first.get(key):
                raise LayoutError(f"{folder}: its {words} differ from {where}'s; every shard must be curated with the same flags")
    indexes = sorted(meta["shard"]["index"] for meta in metas)
    if any(meta["shard"]["count"] != count for meta in metas):
        raise LayoutError(f"{folders}: shards of different N (--shard I/N); merge the shards of one run")
    if indexes != list(range(count)):
        missing = sorted(set(range(count)) - set(indexes))
        doubled = sorted({i for i in indexes if indexes.count(i) > 1})
        problem = (f"shard(s) {missing} missing" if missing else "") + ("; " if missing and doubled else "") + (
            f"shard(s) {doubled} given twice" if doubled else ""
        )
        raise LayoutError(f"--merge: {problem} of {count}; pass each shard's folder exactly once")
    return metas


def _settings(measurement: dict[str, Any]) -> MeasureSettings:
    return MeasureSettings(display_max_dn=float(measurement["display_max_dn"]), cloud_method=measurement["cloud_method"])


def _copy_caches(folders: Sequence[Path], out: Path) -> None:
    """Every shard's cached statistics into `out`'s cache (a missing or damaged one is skipped)."""
    with StatsCache(out / CACHE_FILENAME) as target:
        for folder in folders:
            path = folder / CACHE_FILENAME
            if not path.is_file():
                continue
            try:
                source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                cursor = source.execute("SELECT key, record FROM stats")
                while chunk := cursor.fetchmany(_COPY_BATCH):
                    target.put_many((key, json.loads(record)) for key, record in chunk)
                source.close()
            except sqlite3.DatabaseError:
                continue


def merge(folders: Sequence[str | Path], out: str | Path, *, per_reason_sample: int = 6) -> CurateResult:
    """Merge finished shard folders into `out`: manifest, summary and figures as one run would write."""
    folders, out = [Path(f) for f in folders], Path(out)
    metas = check_shards(folders, out)
    first = metas[0]
    settings = _settings(first["measurement"])
    thresholds = Thresholds.from_dict(first["thresholds"])
    measurement = measurement_info(settings)  # in the order a run writes it (manifest.json sorts keys)
    if measurement != first["measurement"]:
        raise LayoutError(f"{folders[0]}: made by another sarclear version (measurement settings differ); re-run the shards")
    out.mkdir(parents=True, exist_ok=True)
    streams = [read_records(f / RECORDS_FILENAME) for f in folders]
    pairs = heapq.merge(*streams, key=lambda item: sort_key(item[0]))
    metadata = run_metadata(
        Path(first["root"]), thresholds, measurement, merged_from=[str(f.resolve()) for f in folders]
    )
    result = write_outputs(
        out, pairs, root=Path(first["root"]), thresholds=thresholds, settings=settings,
        metadata=metadata, per_reason_sample=per_reason_sample,
    )
    _copy_caches(folders, out)
    return result
