"""Progress bars redraw a few times a second in a terminal, and rarely when written to a log file."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from sarclear.progress import LOG_INTERVAL_S, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_written_to_a_file_redraws_every_log_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    log = io.StringIO()
    with progress_bar(total=5000, file=log, desc="fit") as bar:
        assert bar.mininterval == LOG_INTERVAL_S
        for _ in range(5000):
            bar.update(1)
            bar.set_postfix(loss="0.1", refresh=False)
    assert log.getvalue().count("\r") <= 3 and "5000/5000" in log.getvalue()  # the start, the end
    with progress_bar(total=1, file=Terminal()) as bar:
        assert bar.mininterval == 0.1  # tqdm's own default in a terminal


def test_tqdm_mininterval_in_the_environment_wins() -> None:
    """tqdm reads TQDM_* when it is imported, hence a fresh interpreter."""
    code = "import io; from sarclear.progress import progress_bar; print(progress_bar(total=1, file=io.StringIO()).mininterval)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TQDM_MININTERVAL": "2.5"}, check=True)  # fmt: skip
    assert done.stdout.strip() == "2.5"
