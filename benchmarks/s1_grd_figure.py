"""The docs picture of `sarclear prepare-s1`: a GRD product's radar geometry, what comes out, the genuine map.

Columns for VV and VH: the product's amplitude DN as stored (radar geometry: a descending pass,
mirrored east-west and turned against the map), `prepare-s1`'s sigma0 dB on SSL4EO-S12's own
grid, the genuine SSL4EO-S12 sigma0 dB the product was packed from, and their difference. Run
`python benchmarks/s1_grd_figure.py --out docs/images/prepare_s1.png`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from matplotlib.figure import Figure

from sarclear.io.s1_geocode import geocode_s1, grid_of
from sarclear.io.s1_grd import read_s1_product
from sarclear.report.images import figure_png

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real-scenes"
NAME = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
#: Display ranges in dB (VV, VH), SEN12MS-CR's clip ranges.
DB_RANGE = {"VV": (-25.0, 0.0), "VH": (-32.5, 0.0)}


def draw_panel(figure: Figure, ax, image: np.ndarray, title: str, limits: tuple[float, float] | None, cmap: str,
               colorbar: bool = False) -> None:
    """One picture of a panel grid: fixed limits, or the 2-98 percentiles when `limits` is None; no ticks."""
    low, high = limits if limits else (np.nanpercentile(image, 2), np.nanpercentile(image, 98))
    shown = ax.imshow(image, cmap=cmap, interpolation="nearest", vmin=low, vmax=high)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        figure.colorbar(shown, ax=ax, fraction=0.046)


def figure_arguments(doc: str, argv: list[str] | None,
                     genuine_help: str = "default: the test crop; the whole 264 px is in shared/data") -> argparse.Namespace:
    """`--genuine FOLDER` (SSL4EO-S12's VV.tif / VH.tif, the test crop by default) and `--out PNG`: what every S1 figure script takes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--genuine", type=Path, default=REAL / "ssl4eo-s12" / "s1" / "0000200" / NAME,
                        help=f"folder with the genuine VV.tif / VH.tif ({genuine_help})")
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = figure_arguments(__doc__, argv)
    product = read_s1_product(REAL / "s1-grd" / f"{NAME}.SAFE")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s1.tif"
        geocode_s1(product, grid_of(args.genuine / "VV.tif"), out)
        with rasterio.open(out) as src:
            prepared = src.read()
    figure = Figure(figsize=(12, 6.2), dpi=80)
    axes = figure.subplots(2, 4)
    for row, pol in enumerate(("VV", "VH")):
        with rasterio.open(product.polarisations[pol].image) as src:
            dn = src.read(1).astype(np.float32)
        with rasterio.open(args.genuine / f"{pol}.tif") as src:
            genuine = src.read(1)
        low, high = DB_RANGE[pol]
        shown = np.where(dn > 0, 20 * np.log10(np.maximum(dn, 1)), np.nan)
        panels = (
            (shown, f"{pol}: product DN (dB), radar geometry", None, "gray"),
            (prepared[row], f"{pol}: prepare-s1, sigma0 dB", (low, high), "gray"),
            (genuine, f"{pol}: genuine (SSL4EO-S12) dB", (low, high), "gray"),
            (prepared[row] - genuine, f"{pol}: difference (dB)", (-3, 3), "RdBu_r"),
        )
        for ax, (image, title, limits, cmap) in zip(axes[row], panels):
            draw_panel(figure, ax, image, title, limits, cmap, colorbar=cmap == "RdBu_r")
    figure.suptitle("A Sentinel-1 GRD product (packed from genuine backscatter) through prepare-s1, against the genuine map", fontsize=11)
    args.out.write_bytes(figure_png(figure))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
