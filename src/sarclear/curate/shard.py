"""Sharded curation: which triplets shard I of N measures, and the record file a shard leaves behind.

`sarclear curate ROOT --out DIR_I --shard I/N` measures one N-th of the triplets, so N cluster jobs
(a Slurm job array, see docs/curate.md) curate the dataset together; `sarclear curate --merge
DIR_0 ... --out DIR` then writes the one manifest, summary and figures (`curate/merge.py`).

The assignment hashes the sample id (`ROIs1868_summer_73_p30`), not the triplet's position in the
listing, so it does not depend on which other files exist, on the file system's order or on the
Python version (`hash()` is salted per process; SHA-256 is not): a triplet added later lands in the
same shard on every machine, and re-running one failed shard measures exactly the same triplets.

Besides its own outputs, a shard writes `shard_records.jsonl`: one line per triplet, in listing
order, with the triplet's identity, its full-precision statistics record and whether it came from
the cache. The merge rebuilds every row from these records with the same code a single run uses,
so its outputs are those of one run, without re-reading a pixel or listing ROOT again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarclear.data.layout import Triplet
from sarclear.errors import ConfigError, LayoutError
from sarclear.io.atomic import atomic_output

RECORDS_FILENAME = "shard_records.jsonl"


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0 <= index < count), as Slurm's `$SLURM_ARRAY_TASK_ID` of `--array=0-(N-1)`."""

    index: int
    count: int

    def holds(self, sample_id: str) -> bool:
        return shard_of(sample_id, self.count) == self.index

    def as_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


def parse_shard(text: str) -> Shard:
    """`'3/8'` -> Shard(3, 8); anything else is a one-line `ConfigError` that shows the form."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise ConfigError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. --shard 0/8")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {text!r}: expected I/N with 0 <= I < N (shards are numbered from 0), e.g. --shard 0/{max(count, 1)}")
    return Shard(index, count)


def shard_of(sample_id: str, count: int) -> int:
    """The shard (0 ... count - 1) a sample id belongs to: the first 8 bytes of its SHA-256, modulo count."""
    digest = hashlib.sha256(sample_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def sort_key(t: Triplet) -> tuple[str, int, int]:
    """The order `find_triplets` lists triplets in, so merged shards come out in single-run order."""
    return (t.roi, int(t.scene), t.patch)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _encode(t: Triplet, record: dict[str, Any], cached: bool) -> str:
    line = {
        "roi": t.roi,
        "scene": t.scene,
        "patch": t.patch,
        "s1": str(t.s1_path) if t.s1_path else None,
        "s2_cloudy": str(t.s2_cloudy_path) if t.s2_cloudy_path else None,
        "s2": str(t.s2_path) if t.s2_path else None,
        "cached": cached,
        "record": record,
    }
    return json.dumps(line, allow_nan=True)


def write_records(path: Path, pairs: Iterable[tuple[Triplet, dict[str, Any], bool]]) -> Iterator[tuple[Triplet, dict[str, Any], bool]]:
    """Pass `(triplet, record, cached)` through unchanged while writing each one to `path` (atomically:
    the file appears only once the whole shard is done, so a merge never reads a half-finished one)."""
    with atomic_output(path) as tmp, tmp.open("w") as handle:
        for t, record, cached in pairs:
            handle.write(_encode(t, record, cached) + "\n")
            yield t, record, cached


def read_records(path: Path) -> Iterator[tuple[Triplet, dict[str, Any], bool]]:
    """The `(triplet, record, cached)` of a shard's record file, in its (listing) order."""
    if not path.is_file():
        raise LayoutError(f"{path}: shard record file not found; was this folder made by `sarclear curate ... --shard I/N` and did it finish?")
    with path.open() as handle:
        for number, text in enumerate(handle, start=1):
            try:
                line = json.loads(text)
                t = Triplet(line["roi"], line["scene"], int(line["patch"]), _path(line["s1"]), _path(line["s2_cloudy"]), _path(line["s2"]))
                yield t, line["record"], bool(line["cached"])
            except (ValueError, KeyError, TypeError) as exc:
                raise LayoutError(f"{path}: line {number} is not a shard record ({exc}); re-run that shard") from exc
