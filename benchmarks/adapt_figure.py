"""The README / docs picture of `sarclear adapt` on genuine data, from a `bench_adapt.py` work folder.

One row per case: cloudy input, optical-only fit, fusion fit (`sarclear adapt`), truth, each in the
project's 8-bit display stretch (DN [0, 3000] -> [0, 255]), 2x nearest-neighbour upscaled, with the
cloud mask's outline drawn on the filled ones so the inpainted area can be seen. Run
`python benchmarks/bench_adapt.py --work W` first, then
`python benchmarks/adapt_figure.py --work W --cases ssl4eo-0,sen12mscr-fall --out docs/images/adapt_real.png`.
`--columns FILE:TITLE,...` picks other files of the case folders (`bench_adapt_reference.py`
writes `reference.tif`, `pushpull.tif`, `reference_fill.tif`, `fusion_fit_reference.tif`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import rasterio
from matplotlib.figure import Figure

from sarclear.data.normalize import render_8bit
from sarclear.report.images import figure_png

COLUMNS = (("s2_cloudy.tif", "cloudy input"), ("optical_fit.tif", "optical-only fit"), ("fusion_fit.tif", "sarclear adapt (SAR + optical)"), ("truth.tif", "truth"))
#: Columns drawn as they are, without the mask's outline: what was observed.
OBSERVED = ("s2_cloudy.tif", "truth.tif", "reference.tif")


def _rgb(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return render_8bit(src.read()).transpose(1, 2, 0)


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return mask & ~inner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--cases", required=True, help="comma-separated case folders under --work")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--columns", help="comma-separated FILE:TITLE of each column (default: input, both fits, truth)")
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    columns = COLUMNS if args.columns is None else tuple(tuple(c.split(":", 1)) for c in args.columns.split(","))
    figure = Figure(figsize=(len(columns) * 2.4, len(cases) * 2.5))
    for row, case in enumerate(cases):
        folder = args.work / case
        with rasterio.open(folder / "mask.tif") as src:
            edge = _outline(src.read(1) > 0)
        for col, (name, title) in enumerate(columns):
            image = _rgb(folder / name)
            if name not in OBSERVED:
                image = image.copy()
                image[edge] = (255, 220, 0)
            axis = figure.add_subplot(len(cases), len(columns), row * len(columns) + col + 1)
            axis.imshow(image, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9)
            if col == 0:
                axis.set_ylabel(case, fontsize=9)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(figure_png(figure, dpi=100))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
