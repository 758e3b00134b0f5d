"""SHA-256 of a file's bytes: what ties a training pack to its manifest, and a compiled cloud
detector to the booster file it was built from."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (a manifest of 100,000 rows is tens of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
