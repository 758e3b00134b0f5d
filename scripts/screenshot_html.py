#!/usr/bin/env python3
"""Screenshot a local HTML file with headless Chromium: proof that a report renders in a real browser.

    python scripts/screenshot_html.py report.html report.png [--width 1400] [--height 2400]

Install the browser on Debian/Ubuntu with `apt-get install -y chromium`. The flags keep the run
hermetic: a fresh profile in a temporary folder, no network calls of its own (background
networking, component updates, sync, QUIC off), no sandbox (containers run as root), no GPU.
Exit codes: 0 written, 2 no browser or bad input, 1 the browser failed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The first Chromium-family executable on PATH, or None."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def screenshot(html: Path, png: Path, *, width: int = 1400, height: int = 2400, timeout: float = 120.0) -> Path:
    """Render `html` at `width` x `height` CSS px into `png`; raises on a missing browser or no output."""
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError(f"no Chromium found on PATH (tried {', '.join(BROWSERS)}); apt-get install -y chromium")
    html, png = Path(html).resolve(), Path(png).resolve()
    if not html.is_file():
        raise FileNotFoundError(f"{html}: no such HTML file")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}",
            f"--window-size={width},{height}", html.as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"{browser} wrote no screenshot (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)
    try:
        print(screenshot(args.html, args.png, width=args.width, height=args.height))
    except FileNotFoundError as exc:
        print(f"screenshot_html: error: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"screenshot_html: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
