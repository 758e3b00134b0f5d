"""The docs picture of border noise: a pre-2018 GRD product's noisy edges, kept and masked by `prepare-s1`.

Genuine SSL4EO-S12 backscatter packed into a 200 x 200 px product (tests/data/real-scenes/make_s1_grd.py)
whose manifest names IPF 2.72 and whose edges hold border-noise strips (`BorderNoise`: 20-60 px
at near range, 15-45 at far range, 8-23 lines at the start; DN at the noise level). Panels: the
product's VV DN as stored (radar geometry), `prepare-s1 --border-noise keep`, the default (the
strips masked), and the same product made without strips. Run
`python benchmarks/s1_border_figure.py --genuine shared/data/real-scenes/ssl4eo-s12/s1/0000200/S1A_..._D457
--out docs/images/prepare_s1_border.png`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import rasterio
from matplotlib.figure import Figure

from bench_prepare_s1 import load_builder
from s1_grd_figure import NAME, draw_panel, figure_arguments  # benchmarks/ is the script's folder, first on sys.path
from sarclear.io.s1_geocode import geocode_s1, grid_of
from sarclear.io.s1_grd import read_s1_product
from sarclear.report.images import figure_png

SIZE = 200  # radar pixels: inside the whole 264 px genuine map at every edge


def main(argv: list[str] | None = None) -> int:
    args = figure_arguments(__doc__, argv, genuine_help="give the whole 264 px map in shared/data: the default test crop "
                                                        "is smaller than this picture's 200 px product")
    builder = load_builder()
    db, transform, (lon, lat) = builder.read_map(args.genuine)
    geometry = builder.Geometry(lon, lat, builder.Layout(SIZE, SIZE))
    grid = grid_of(args.genuine / "VV.tif")
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        noisy = builder.write_from_map(folder / "noisy" / f"{NAME}.SAFE", db, transform, geometry,
                                       border=builder.BorderNoise(), ipf="002.72")
        clean = builder.write_from_map(folder / "clean" / f"{NAME}.SAFE", db, transform, geometry, ipf="002.72")
        for label, product, mode in (("kept", noisy, "keep"), ("masked", noisy, "auto"), ("clean", clean, "keep")):
            result = geocode_s1(read_s1_product(product), grid, folder / f"{label}.tif", border_noise=mode)
            with rasterio.open(folder / f"{label}.tif") as src:
                outputs[label] = src.read(1)
            print(f"{label}: {result['border']}")
        with rasterio.open(read_s1_product(noisy).polarisations["VV"].image) as src:
            dn = src.read(1).astype(np.float32)
    figure = Figure(figsize=(12, 3.6), dpi=80)
    axes = figure.subplots(1, 4)
    panels = (
        (np.where(dn > 0, 20 * np.log10(np.maximum(dn, 1)), np.nan), "product VV DN (dB), radar geometry", None),
        (outputs["kept"], "--border-noise keep: sigma0 dB", (-25, 0)),
        (outputs["masked"], "default: strips masked (no data)", (-25, 0)),
        (outputs["clean"], "the same product without strips", (-25, 0)),
    )
    for ax, (image, title, limits) in zip(axes, panels):
        draw_panel(figure, ax, image, title, limits, "gray")
    figure.suptitle("Border noise of a GRD product processed before IPF 2.90 (made strips, genuine backscatter)", fontsize=11)
    args.out.write_bytes(figure_png(figure))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
