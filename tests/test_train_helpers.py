"""Shared by the test_train* files: tiny hand-made runs (no tests here)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from sarclear.config import TrainConfig, config_from_dict
from sarclear.data.manifest import CORE_COLUMNS, write_manifest
from tests.helpers import make_arrays, write_triplet

#: (ROI, scene): summer scene 1 is in the official train split, summer 19 in val, winter 1 in train.
TRAIN = ("ROIs1868_summer", 1)
VAL = ("ROIs1868_summer", 19)
WINTER = ("ROIs2017_winter", 1)


def write_dataset(root: Path, *, train: int = 3, val: int = 2, size: int = 40, winter: int = 0) -> Path:
    """Hand-made triplets in the official layout plus a manifest of kept rows; returns the manifest."""
    rows = []
    plan = [(TRAIN, train), (VAL, val), (WINTER, winter)]
    for (roi, scene), count in plan:
        for patch in range(1, count + 1):
            paths = write_triplet(root, roi, scene, patch, arrays=make_arrays(size, seed=len(rows)))
            rows.append({"sample_id": f"{roi}_{scene}_p{patch}", "scene": scene, "patch": patch, "kept": True,
                         "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"], "s2_path": paths["s2"]})
    return write_manifest(root / "manifest.csv", rows, CORE_COLUMNS)


def tiny_config(manifest: Path, out: Path, **run: object) -> TrainConfig:
    """A model small enough for a step to take milliseconds on one CPU core."""
    return config_from_dict({
        "manifest": str(manifest),
        "out": str(out),
        "model": {"ngf": 4, "ndf": 4},
        "data": {"size": 32, "batch_size": 1, "workers": 0},
        "optim": {"epochs": 20},
        "run": {"precision": "32", "log_every": 1, "sample_tiles": 2, **run},
    })



@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (and OpenMP threads spin badly on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sigterm_after_rows(proc: subprocess.Popen, metrics: Path, rows: int) -> str:
    """Wait (up to 2 min) until `metrics` has `rows` lines, SIGTERM the process group, return stderr."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not metrics.is_file() or len(metrics.read_text().splitlines()) < rows):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    return proc.communicate(timeout=120)[1]
