"""`sarclear --threads N`: one cap for torch and for the processes a command starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sarclear.cli import THREAD_VARIABLES, main


def test_threads_caps_torch_and_the_environment_workers_inherit(tmp_path) -> None:
    code = (
        "import os, sys; from sarclear.cli import main; "
        "rc = main(['--threads', '1', 'check', sys.argv[1], sys.argv[1], sys.argv[1]]); "
        "import torch; "  # imported after the flag, as a command (or a worker process) imports it
        "print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "missing")], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.split() == ["1", "1", "1"], done.stderr


def test_zero_threads_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--threads", "0", "check", "x", "y", "z"])
    assert exit_info.value.code == 2
    assert "--threads must be at least 1" in capsys.readouterr().err
