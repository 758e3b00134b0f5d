"""`sarclear prepare-s1 PRODUCT --like S2 --out s1.tif`: a Sentinel-1 GRD product as the S1 input sarclear reads.

The product (the `.SAFE` folder or the `.zip` as downloaded) is calibrated to sigma0, its thermal
noise removed (and in products made before IPF 2.90 its border noise masked), placed on the S2
scene's grid by its geolocation grid and written as a float32 COG of VV, VH in dB, the file
`predict --s1`, `adapt --s1` and manifests take. With `--dem`, pixels are placed by their
height (geometric terrain correction); without, by the product's tie points only, which is good
on plains: docs/sentinel1.md says where it matters.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("product", type=Path, nargs="+",
                        help="Sentinel-1 Level-1 GRD product: the .SAFE folder or its .zip (IW, VV+VH); "
                             "consecutive slices of one pass when the S2 scene straddles them")
    parser.add_argument("--out", required=True, help="output GeoTIFF (COG): VV, VH sigma0 in dB, float32, NaN = no data")
    parser.add_argument("--like", type=Path, default=None,
                        help="the S2 scene the radar is for (any S2 input sarclear reads: GeoTIFF, band folder, SAFE); "
                             "the output takes its grid. Default: the product's whole footprint in its UTM zone")
    parser.add_argument("--resolution", type=float, default=10.0, help="pixel size in metres without --like (default 10, SEN12MS-CR's)")
    parser.add_argument("--dem", type=Path, default=None,
                        help="a DEM of the scene (any raster in metres, any CRS: Copernicus DEM GLO-30, SRTM) for terrain "
                             "correction; without it pixels in hills land dh / tan(incidence) off in range")
    parser.add_argument("--dem-heights", choices=("egm2008", "egm96", "ellipsoid"), default="egm2008",
                        help="what the DEM's heights are above: egm2008 (Copernicus DEM, the default), egm96 (SRTM), or "
                             "the WGS 84 ellipsoid; a geoid needs PROJ's grid for it (docs/sentinel1.md)")
    parser.add_argument("--keep-noise", action="store_true", help="do not subtract the product's thermal noise (not what the models learnt)")
    parser.add_argument("--border-noise", choices=("auto", "remove", "keep"), default="auto",
                        help="the noisy strip along the edges of products processed before IPF 2.90 (2018): auto masks it in "
                             "those products (manifest.safe says which), remove in any product, keep in none")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from sarclear.errors import ConfigError
    from sarclear.io.acquisition import date_from_names, gap_report, iso_date
    from sarclear.io.dem import Dem
    from sarclear.io.outputs import check_outputs, input_files, output_file, product_folders
    from sarclear.io.s1_geocode import geocode_s1, grid_of, one_acquisition, utm_grid
    from sarclear.io.s1_grd import read_s1_product
    from sarclear.progress import progress_bar

    args.out = output_file(args.out)
    if args.out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {args.out}: the output is a GeoTIFF; give a name ending in .tif")
    if args.resolution <= 0:
        raise ConfigError(f"--resolution {args.resolution:g}: must be a positive number of metres")
    inputs = [*args.product, args.like, args.dem]
    check_outputs([args.out], input_files(inputs), product_folders(inputs))
    start = time.perf_counter()
    products = one_acquisition([read_s1_product(path) for path in args.product])
    if args.like is None and len(products) > 1:
        raise ConfigError("several products need --like: the grid to put them on (an S2 scene)")
    grid = grid_of(args.like) if args.like is not None else utm_grid(products[0], args.resolution)
    dem = Dem(args.dem, args.dem_heights) if args.dem is not None else None
    try:
        with progress_bar(total=grid.height, unit="row", desc="prepare-s1", disable=args.quiet) as bar:
            result = geocode_s1(products, grid, args.out, remove_noise=not args.keep_noise, dem=dem,
                                border_noise=args.border_noise, tick=bar.update)
    finally:
        if dem is not None:
            dem.close()
    covered = result["covered"]
    names = " + ".join(product.name for product in products)
    terrain = "no terrain correction" if dem is None else f"terrain corrected with {args.dem.name} ({dem.describe_heights()})"
    print(f"wrote {args.out}: VV, VH sigma0 dB of {names} ({products[0].pass_direction}) on {grid.width} x {grid.height} px "
          f"({grid.crs.to_string()}), {covered:.1%} covered, thermal noise {'removed' if result['noise_removed'] else 'kept'}, "
          f"{result['border']}, {terrain}, in {time.perf_counter() - start:.1f} s")  # fmt: skip
    if covered < 0.99:
        print(f"note: {1 - covered:.1%} of the grid lies outside the product (NaN there, and predict writes no data there)")
    optical = date_from_names(args.like) if args.like is not None else None
    radar = iso_date(products[0].start_time)
    if optical is not None and radar is not None:  # said now, while another Sentinel-1 pass can still be chosen
        line, warning = gap_report(optical, radar)
        print(line)
        if warning:
            print(warning, file=sys.stderr)
    if result["layover"] + result["shadow"] > 0:
        print(f"note: {result['layover']:.2%} of the grid is in layover and {result['shadow']:.2%} in radar shadow (slopes steeper than "
              "the radar's incidence, facing it or turned away); those pixels hold the radar's value at their position, not "
              "their own: in steep mountains SNAP or Earth Engine may serve better (docs/sentinel1.md)")
    if result["dem_missing"] > 0:
        print(f"note: the DEM has no height for {result['dem_missing']:.1%} of the grid; those pixels are placed by the "
              "product's tie points, as without --dem")
    return 0
