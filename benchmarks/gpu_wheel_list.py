"""Which wheels the offline GPU machine needs: what rasterio and s2cloudless require, less its image.

    .venv/bin/python benchmarks/gpu_wheel_list.py [--image benchmarks/gpu_image_packages.txt]

Prints one line per tier, `TIER NAME==VERSION ...`, for benchmarks/gpu_wheels.sh. The versions
are those installed in the running environment (this checkout's .venv: what CI runs), and the
requirements are read from their installed metadata, so a new dependency (LightGBM 4.7 added
narwhals) is found without editing a list. A package the image has is neither carried nor looked
into: the image brings its own dependencies. A hand-kept list missed click, attrs and certifi
for rasterio, which a bare Python lacks (the image happens to have them).
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

#: Tier name -> the package it is for; a later tier leaves out what an earlier one carries.
TIERS = (("rasterio", "rasterio"), ("clouds", "s2cloudless"))


def canonical(name: str) -> str:
    """PEP 503 name: `Click_Plugins` and `click-plugins` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def image_packages(path: Path) -> set[str]:
    words = (w for line in path.read_text().splitlines() if not line.startswith("#") for w in line.split())
    return {canonical(w) for w in words}


def closure(root: str, image: set[str]) -> dict[str, str]:
    """Every installed distribution `root` needs (markers evaluated, no extras), less the image's."""
    found: dict[str, str] = {}
    todo = [root]
    while todo:
        name = canonical(todo.pop())
        if name in found or name in image:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise SystemExit(
                f"gpu_wheel_list: {name} (needed by {root}) is not installed in {sys.prefix}; install the project there first"
            ) from None
        found[name] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def tiers(image: set[str]) -> list[tuple[str, dict[str, str]]]:
    carried: set[str] = set()
    out = []
    for tier, root in TIERS:
        needed = {n: v for n, v in closure(root, image).items() if n not in carried}
        carried |= needed.keys()
        out.append((tier, needed))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=Path(__file__).with_name("gpu_image_packages.txt"))
    args = parser.parse_args()
    for tier, needed in tiers(image_packages(args.image)):
        print(tier, *(f"{name}=={version}" for name, version in sorted(needed.items())))


if __name__ == "__main__":
    main()
