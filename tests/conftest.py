"""Shared fixtures: the two genuine SEN12MS-CR triplets and a writer for tiny hand-made ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep test runs on 2 cores predictable: torch would otherwise spawn a thread per core per worker.
os.environ.setdefault("OMP_NUM_THREADS", "2")

REAL_ROOT = Path(__file__).parent / "data" / "sen12mscr-real"


@pytest.fixture(scope="session")
def real_root() -> Path:
    """Two genuine SEN12MS-CR triplets (fall 139 p839: test split; winter 112 p797: train split)."""
    return REAL_ROOT
