"""Run the parts of a check as child processes, each under its own time limit, and record them.

Used by `gpu_check.py`. Why child processes: a hang, a crash in a CUDA kernel or an out-of-memory
kill ends one part, not the check; each part gets `min(its timeout, what is left of the budget)`
and its whole process group is killed when that runs out. After every part the JSON summary is
rewritten, so a check killed from outside still leaves what it had measured. Standard library
only: it must start before the wheels that the parts need are installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: Bytes of each part's output copied into the combined log (the end, where errors are).
LOG_TAIL_BYTES = 60_000
#: Below this many seconds left in the budget a part is skipped rather than started.
MIN_PART_SECONDS = 5.0

Judge = Callable[[dict[str, Any], str], "str | None"]


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` that is a JSON object (the benchmarks print one per result)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def pytest_counts(text: str) -> dict[str, Any]:
    """Counts from pytest's closing line, and the ids of failed and erroring tests."""
    summary = next((line for line in reversed(text.splitlines()) if re.search(r"\d+ (passed|failed|skipped|error)", line)), "")
    counts = {word.rstrip("s"): int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", summary)}
    failed = sorted({m.group(2) for m in re.finditer(r"^(FAILED|ERROR) (\S+)", text, re.M)})
    return {**counts, "failures": failed}


class Runner:
    """Runs parts in order within `budget_s` seconds, writing `summary` to `json_path` after each."""

    def __init__(self, json_path: Path, log_path: Path, logs: Path, budget_s: float, summary: dict[str, Any],
                 timeout_scale: float = 1.0) -> None:  # fmt: skip
        self.json_path, self.log_path, self.logs = json_path, log_path, logs
        self.timeout_scale = timeout_scale  # every part's limit times this (slow, shared CPU machines)
        self.deadline = time.monotonic() + budget_s
        self.summary = summary
        self.parts: dict[str, dict[str, Any]] = summary.setdefault("parts", {})
        self.have: dict[str, bool] = {}
        self.background: dict[str, tuple[Any, ...]] = {}  # name -> what `_finish` needs
        self.live: dict[int, subprocess.Popen] = {}  # every started part's process group, until it ends
        logs.mkdir(parents=True, exist_ok=True)
        self.write()

    def write(self) -> None:
        partial = self.json_path.with_name(self.json_path.name + ".partial")
        partial.write_text(json.dumps(self.summary, indent=2) + "\n")
        os.replace(partial, self.json_path)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def skip(self, name: str, reason: str, *, informative: bool = False) -> dict[str, Any]:
        record = {"status": "skipped", "reason": reason, "informative": informative}
        self.parts[name] = record
        print(f"[gpu-check] {name}: skipped ({reason})", flush=True)
        self.write()
        return record

    def _blocked(self, name: str, needs: Sequence[str], informative: bool) -> dict[str, Any] | None:
        missing = [n for n in needs if not self.have.get(n, False)]
        if missing:
            return self.skip(name, f"needs {' and '.join(missing)}", informative=informative)
        if self.left() < MIN_PART_SECONDS:
            return self.skip(name, "the check's time budget is spent", informative=informative)
        return None

    def _start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None, cwd: Path) -> tuple[subprocess.Popen, Path]:
        log = self.logs / f"{name}.log"
        handle = log.open("w")
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.Popen(list(argv), stdout=handle, stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                start_new_session=True, text=True)  # fmt: skip
        handle.close()
        self.live[proc.pid] = proc
        return proc, log

    def close(self) -> None:
        """Kill what still runs (a check stopped from outside must not leave parts on the GPU):
        each part runs in its own session, so nothing else would end it."""
        for pid in list(self.live):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.live.pop(pid).wait()

    def run(self, name: str, argv: Sequence[str], *, timeout: float, needs: Sequence[str] = (), env: Mapping[str, str] | None = None,
            cwd: Path = Path.cwd(), judge: Judge | None = None, informative: bool = False) -> dict[str, Any]:  # fmt: skip
        """Run one part to its end (or its limit); `judge(record, output)` returns a problem or None."""
        if (blocked := self._blocked(name, needs, informative)) is not None:
            return blocked
        limit = min(timeout * self.timeout_scale, self.left())
        print(f"[gpu-check] {name}: running (limit {limit:.0f} s): {shlex.join(argv)}", flush=True)
        proc, log = self._start(name, argv, env, cwd)
        return self._finish(name, proc, time.monotonic(), limit, log, judge, informative, argv)

    def start(self, name: str, argv: Sequence[str], *, timeout: float, needs: Sequence[str] = (), env: Mapping[str, str] | None = None,
              cwd: Path = Path.cwd(), judge: Judge | None = None, informative: bool = False) -> None:  # fmt: skip
        """Start a part in the background (CPU work beside GPU parts that are not timed); `join` ends it."""
        if self._blocked(name, needs, informative) is not None:
            return
        limit = min(timeout * self.timeout_scale, self.left())
        print(f"[gpu-check] {name}: started in the background (limit {limit:.0f} s): {shlex.join(argv)}", flush=True)
        proc, log = self._start(name, argv, env, cwd)
        self.background[name] = (proc, time.monotonic(), limit, log, judge, informative, list(argv))

    def join(self, name: str) -> dict[str, Any] | None:
        if name not in self.background:
            return self.parts.get(name)
        proc, started, limit, log, judge, informative, argv = self.background.pop(name)
        return self._finish(name, proc, started, limit, log, judge, informative, argv)

    def _finish(self, name: str, proc: subprocess.Popen, started: float, limit: float, log: Path, judge: Judge | None,
                informative: bool, argv: Sequence[str]) -> dict[str, Any]:  # fmt: skip
        timed_out = False
        try:
            proc.wait(timeout=max(0.0, limit - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.live.pop(proc.pid, None)
        seconds = time.monotonic() - started
        output = log.read_text(errors="replace")
        record: dict[str, Any] = {"status": "passed", "seconds": round(seconds, 1), "rc": proc.returncode, "timeout_s": round(limit),
                                  "command": shlex.join(argv), "informative": informative, "results": json_lines(output)}  # fmt: skip
        if timed_out:
            record["status"], record["problem"] = "timeout", f"killed after {limit:.0f} s"
        elif proc.returncode != 0:
            record["status"], record["problem"] = "failed", f"exit code {proc.returncode}"
        if judge is not None and not timed_out:
            problem = judge(record, output)
            if problem:
                record["status"], record["problem"] = "failed", problem
        self.parts[name] = record
        with self.log_path.open("a") as combined:
            tail = output[-LOG_TAIL_BYTES:]
            combined.write(f"\n===== {name}: {record['status']} in {seconds:.1f} s: {record['command']}\n")
            combined.write(("[... earlier output cut ...]\n" if len(output) > len(tail) else "") + tail)
        print(f"[gpu-check] {name}: {record['status']} in {seconds:.1f} s" + (f" ({record['problem']})" if "problem" in record else ""),
              flush=True)  # fmt: skip
        self.write()
        return record
