"""The docs picture of `sarclear prepare-s1 --dem`: a GRD product of hilly ground without and with its DEM.

Genuine Sentinel-1 VV (SSL4EO-S12) packed into a GRD product whose ground has a hill that the
product's tie points do not know (`tests/data/real-scenes/make_s1_grd.py`, `terrain=`), as
`tests/test_s1_terrain.py` builds it. Top: `prepare-s1` without a DEM, with the hill as DEM,
and the genuine backscatter. Bottom: the DEM, and each output's difference to the genuine map.
Run `python benchmarks/s1_terrain_figure.py --genuine shared/data/real-scenes/ssl4eo-s12/s1/0000200/S1A_..._D457
--out docs/images/prepare_s1_terrain.png`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import rasterio
from matplotlib.figure import Figure

from bench_prepare_s1 import load_builder
from s1_grd_figure import NAME, draw_panel, figure_arguments  # benchmarks/ is the script's folder, first on sys.path
from sarclear.io.dem import Dem
from sarclear.io.lattice import pixel_xy
from sarclear.io.s1_geocode import geocode_s1, grid_of
from sarclear.io.s1_grd import read_s1_product
from sarclear.report.images import figure_png

HILL_M, HILL_SIGMA_M = 150.0, 400.0  # as in tests/test_s1_terrain.py


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def main(argv: list[str] | None = None) -> int:
    args = figure_arguments(__doc__, argv)
    builder = load_builder()
    db, transform, (lon0, lat0) = builder.read_map(args.genuine)
    hill = builder.gaussian_hill(lon0, lat0, HILL_M, HILL_SIGMA_M)

    grid = grid_of(args.genuine / "VV.tif")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        geometry = builder.Geometry(lon0, lat0, builder.Layout(builder.LINES, builder.SAMPLES))
        product = read_s1_product(builder.write_from_map(folder / f"{NAME}.SAFE", db, transform, geometry, terrain=hill))
        rows, cols = np.meshgrid(np.arange(grid.height) + 0.5, np.arange(grid.width) + 0.5, indexing="ij")
        lon, lat = pixel_xy(grid.transform, rows, cols)
        heights = hill(lon, lat)
        dem_path = folder / "dem.tif"
        with rasterio.open(dem_path, "w", driver="GTiff", width=grid.width, height=grid.height, count=1, dtype="float32",
                           crs=grid.crs, transform=grid.transform) as dst:  # fmt: skip
            dst.write(heights.astype(np.float32)[None])
        outputs = {}
        for label, dem in (("without", None), ("with", Dem(dem_path, "ellipsoid"))):
            geocode_s1(product, grid, folder / f"{label}.tif", dem=dem)
            with rasterio.open(folder / f"{label}.tif") as src:
                outputs[label] = src.read(1)
    with rasterio.open(args.genuine / "VV.tif") as src:
        genuine = src.read(1)
    figure = Figure(figsize=(11, 7.4), dpi=80)
    axes = figure.subplots(2, 3)
    panels = (
        (outputs["without"], f"prepare-s1, no DEM (r = {correlation(outputs['without'], genuine):.2f})", (-25, 0), "gray"),
        (outputs["with"], f"prepare-s1 --dem (r = {correlation(outputs['with'], genuine):.3f})", (-25, 0), "gray"),
        (genuine, "genuine VV (SSL4EO-S12), dB", (-25, 0), "gray"),
        (heights - builder.HEIGHT_M, f"DEM: a {HILL_M:.0f} m hill the tie points do not know (m)", (0, HILL_M), "terrain"),
        (outputs["without"] - genuine, "no DEM - genuine (dB)", (-6, 6), "RdBu_r"),
        (outputs["with"] - genuine, "--dem - genuine (dB)", (-6, 6), "RdBu_r"),
    )
    for ax, (image, title, limits, cmap) in zip(axes.ravel(), panels):
        draw_panel(figure, ax, image, title, limits, cmap, colorbar=cmap != "gray")
    figure.suptitle("Terrain correction: genuine Sentinel-1 VV over a hill, through prepare-s1 without and with a DEM", fontsize=11)
    args.out.write_bytes(figure_png(figure))
    print(f"wrote {args.out}: r without {correlation(outputs['without'], genuine):.3f}, with {correlation(outputs['with'], genuine):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
