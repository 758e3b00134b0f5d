"""Rewrite a wheel with LZMA compression, so the GPU machine's wheels fit in what a run carries.

    python benchmarks/gpu_repack_wheel.py WHEEL [WHEEL ...]

A wheel is a zip file; pip extracts it with Python's `zipfile`, which reads LZMA members, and
the RECORD hashes cover the extracted files, not the compressed bytes, so the repacked wheel
installs the very same files. Why: rasterio's wheel bundles GDAL, PROJ and their data, and zip's
deflate leaves it at 35.7 MB for rasterio 1.4.4; LZMA brings it to 27.2 MB, which is what lets the
rasterio and the s2cloudless wheels travel together in the 64 MiB that a run carries.
Each wheel is replaced in place (written to a temporary name, then renamed); one that is already
LZMA throughout is left as it is, so the script can run again over a cache of wheels.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path


def repack(wheel: Path) -> tuple[int, int]:
    """Replace `wheel` by an LZMA-compressed copy; returns (bytes before, bytes after)."""
    before = wheel.stat().st_size
    with zipfile.ZipFile(wheel) as source:
        if all(info.compress_type == zipfile.ZIP_LZMA for info in source.infolist()):
            return before, before
    partial = wheel.with_name(wheel.name + ".partial")
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_LZMA) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, info.date_time)
            member.external_attr = info.external_attr  # keeps the executable bit of bundled tools
            member.compress_type = zipfile.ZIP_LZMA
            target.writestr(member, source.read(info))
    os.replace(partial, wheel)
    return before, wheel.stat().st_size


def main() -> None:
    for name in sys.argv[1:]:
        before, after = repack(Path(name))
        print(f"{Path(name).name}: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB (LZMA)")


if __name__ == "__main__":
    main()
