"""RUN/metrics.csv (always) and TensorBoard event files (when `tensorboard` is installed).

One CSV with fixed columns, one row per logging interval or validation: training rows leave the
validation columns empty and vice versa, so `pandas.read_csv` or a spreadsheet plots it directly.
Rows are appended and flushed at once, so a crash loses nothing that was logged. On `--resume`
rows past the resumed step are dropped first: they were logged by the interrupted run after its
last checkpoint and will be logged again.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

COLUMNS: tuple[str, ...] = (
    "step", "epoch", "G_gan", "G_l1", "D", "lr", "images_per_s",
    "val_psnr", "val_ssim", "val_identity_psnr", "val_identity_ssim", "elapsed_s",
)


def _format(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class MetricsLog:
    """Append-only metrics.csv plus an optional TensorBoard writer, used by rank 0 only."""

    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        if resume_step is not None and self.path.is_file():
            self._truncate_after(resume_step)
        new = not self.path.is_file()
        self._handle = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            self._writer.writeheader()
            self._handle.flush()
        self._tb = _tensorboard_writer(Path(run_dir) / "tensorboard") if tensorboard else None

    def _truncate_after(self, step: int) -> None:
        with self.path.open(newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= step]
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def log(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({key: _format(row.get(key)) for key in COLUMNS})
        self._handle.flush()
        if self._tb is not None:
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)) and not math.isnan(value):
                    self._tb.add_scalar(key, value, global_step=int(row["step"]))

    def close(self) -> None:
        self._handle.close()
        if self._tb is not None:
            self._tb.close()


def _tensorboard_writer(folder: Path) -> Any:
    """A SummaryWriter, or None when the optional `tensorboard` package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder))
