"""Incremental statistics cache: one SQLite file in the output folder, keyed by file identity.

A triplet's key hashes, for each of its three files, the absolute path, size and modification
time (ns), plus the measurement settings (`MeasureSettings.key()`: display stretch, cloud method,
statistics version). A re-run on the same ROOT therefore re-measures only files that changed (or
all of them if a measurement setting changed) and re-applies the rules to everything else; the
thresholds are not part of the key, so trying new ones costs no pixel reads.

SQLite because it is in the standard library, safe against interrupted writes (a transaction is
committed per batch or not at all) and queried in batches, so memory stays flat at any size.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

CACHE_FILENAME = "stats_cache.sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, record TEXT NOT NULL)"
_BATCH = 500  # SQLite's default limit on bound variables is 999 (older builds)


def file_fingerprint(path: Path | None) -> str:
    """`path|size|mtime_ns` of a file, or a marker for a missing one (so adding a file changes the key)."""
    if path is None:
        return "-"
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}|unstatable"
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


def triplet_key(paths: Mapping[str, Path | None], settings_key: Mapping[str, Any]) -> str:
    """Cache key of one triplet's statistics under given measurement settings."""
    parts = [file_fingerprint(paths.get(m)) for m in ("s1", "s2_cloudy", "s2")]
    blob = json.dumps({"files": parts, "settings": settings_key}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class StatsCache:
    """Key -> statistics record (JSON). `path=None` gives a cache that remembers nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = self._connect(path)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path)
        try:
            db.execute(_SCHEMA)
        except sqlite3.DatabaseError:
            # A damaged cache (e.g. a disk that filled up) is only a lost speed-up: start afresh.
            db.close()
            path.unlink(missing_ok=True)
            db = sqlite3.connect(path)
            db.execute(_SCHEMA)
        db.commit()
        return db

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The cached records among `keys` (missing keys are simply absent)."""
        if self._db is None or not keys:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), _BATCH):
            chunk = list(keys[start : start + _BATCH])
            marks = ",".join("?" * len(chunk))
            for key, record in self._db.execute(f"SELECT key, record FROM stats WHERE key IN ({marks})", chunk):
                found[key] = json.loads(record)
        return found

    def put_many(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Store records and commit (one transaction per call)."""
        if self._db is None:
            return
        rows = [(key, json.dumps(record, allow_nan=True)) for key, record in items]
        if rows:
            self._db.executemany("INSERT OR REPLACE INTO stats (key, record) VALUES (?, ?)", rows)
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> StatsCache:  # noqa: PYI034 (Python 3.10 has no typing.Self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
