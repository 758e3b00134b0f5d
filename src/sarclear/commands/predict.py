"""`sarclear predict`: whole S1 + cloudy S2 scenes in, a georeferenced cloud-free COG out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sarclear.data.clouds import DEFAULT_THRESHOLD
from sarclear.errors import ConfigError
from sarclear.inference.defaults import DEFAULT_NORM_MODE, DEFAULT_SAMPLES, NORM_MODES
from sarclear.predict.defaults import DEFAULT_BATCH_SIZE, SHADOW_DILATION_PX


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="run folder, generator.safetensors, or an .onnx export")
    parser.add_argument(
        "--s1", type=Path, nargs="+", metavar="S1",
        help="Sentinel-1 VV, VH in dB: a 2-band file, a folder holding VV and VH files, or the two files (reprojected onto the S2 grid if needed)",
    )  # fmt: skip
    parser.add_argument(
        "--s2", required=True, type=Path,
        help="cloudy Sentinel-2 scene (DN): a 13-band or RGB GeoTIFF, a folder of per-band files (B04.tif ...), or a SAFE product (.SAFE folder or .zip)",
    )  # fmt: skip
    parser.add_argument(
        "--s2-offset", type=float, metavar="DN",
        help="radiometric offset to remove (1000 for products of processing baseline 04.00 and later, since 25 Jan 2022); "
        "default: read from the SAFE metadata or the product name",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="output Cloud-Optimized GeoTIFF (RGB uint16 DN, B4 B3 B2)")
    parser.add_argument("--composite", action="store_true", help="keep observed pixels under clear sky, the model only under cloud")
    parser.add_argument("--mask", type=Path, help="cloud mask on the S2 grid (nonzero = cloud) instead of detecting clouds")
    parser.add_argument("--write-mask", metavar="MASK.tif", help="also write the mask used (1 cloud, 2 cloud shadow, 0 clear, 255 nodata)")
    parser.add_argument(
        "--no-shadows", dest="shadows", action="store_false",
        help="do not add cloud shadows (dark pixels near clouds) to a detected mask (a --mask file never gets them)",
    )  # fmt: skip
    parser.add_argument(
        "--shadow-dilation", type=int, default=SHADOW_DILATION_PX, metavar="PX",
        help=f"dilation of the cloud-shadow mask in px (default {SHADOW_DILATION_PX}, 50 m)",
    )  # fmt: skip
    parser.add_argument(
        "--uncertainty", metavar="STD.tif",
        help="also write the per-pixel standard deviation (DN, float32, B4 B3 B2) of --samples stochastic passes "
        "(dropout on); the prediction is then their mean. Zero where --composite keeps the observed pixel",
    )  # fmt: skip
    parser.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
        help=f"stochastic passes per window with --uncertainty (default {DEFAULT_SAMPLES}; N times the model's cost)",
    )  # fmt: skip
    parser.add_argument("--cloud-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="P",
                        help=f"cloud probability above which a pixel is cloud in a detected mask (default {DEFAULT_THRESHOLD:g}, "
                             "s2cloudless's; higher keeps more observed pixels where haze raises it)")  # fmt: skip
    parser.add_argument("--no-scl", dest="use_scl", action="store_false",
                        help="detect clouds even when an L2A product has its own scene classification (SCL), which is used by default")
    parser.add_argument("--seed", type=int, default=0, help="seed of the dropout masks with --uncertainty (default 0)")
    parser.add_argument(
        "--norm-mode", choices=NORM_MODES,
        help=f"batch norm at inference: each window's own statistics (window), the running ones, or (default {DEFAULT_NORM_MODE}) "
        "window for a model trained at batch 1 and running otherwise; an .onnx file keeps the mode it was exported with",
    )  # fmt: skip
    parser.add_argument("--format", choices=("png", "jpeg"), dest="quicklook", help="also write an 8-bit quick-look beside OUT")
    parser.add_argument("--tile", type=int, help="window size in px (default: the checkpoint's training tile size)")
    parser.add_argument("--overlap", type=int, help="overlap between windows in px (default: an eighth of the tile, at least 16 and at most a quarter: 16 at 64, 32 at 256)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=f"windows per forward pass (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--backend", choices=("torch", "onnx"), help="default: onnx for an .onnx checkpoint, else torch")
    parser.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when present)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto", help="bf16 autocast (auto: where the hardware runs it natively)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")


#: Suffixes of picture formats: `--out` is always a GeoTIFF, a picture is asked for with `--format`.
PICTURE_SUFFIXES: dict[str, str] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


def check_out_name(out: Path) -> None:
    """Refuse `--out x.png`: the output is a georeferenced GeoTIFF, the 8-bit quick-look is `--format`.

    Without this, GDAL would write a GeoTIFF under a .png name that no picture viewer opens.
    (Other names not ending in .tif: `io.outputs.check_geotiff_name`, after the input checks.)
    """
    from sarclear.predict.writer import quicklook_path

    fmt = PICTURE_SUFFIXES.get(out.suffix.lower())
    if fmt is not None:
        tif = out.with_suffix(".tif")
        raise ConfigError(
            f"{out}: --out is the GeoTIFF output; for a {fmt.upper()} picture give --out {tif.name} --format {fmt} "
            f"(it writes {quicklook_path(tif, fmt).name} beside the GeoTIFF)"
        )



def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sarclear.io.outputs import output_file
    from sarclear.predict import predict_scene

    def say(message: str) -> None:
        if not args.quiet:  # tqdm.write keeps a message from landing inside the progress bar's line
            tqdm.write(f"sarclear predict: {message}", file=sys.stderr)

    args.out = output_file(args.out)
    args.write_mask = None if args.write_mask is None else output_file(args.write_mask)
    args.uncertainty = None if args.uncertainty is None else output_file(args.uncertainty)
    check_out_name(args.out)
    predict_scene(
        args.checkpoint, args.s1, args.s2, args.out,
        composite=args.composite, mask=args.mask, write_mask=args.write_mask, quicklook=args.quicklook,
        uncertainty=args.uncertainty, samples=args.samples, seed=args.seed, norm=args.norm_mode,
        tile=args.tile, overlap=args.overlap, batch_size=args.batch_size, backend=args.backend,
        device=args.device, precision=args.precision, s2_offset=args.s2_offset, shadows=args.shadows,
        shadow_dilation=args.shadow_dilation, cloud_threshold=args.cloud_threshold, use_scl=args.use_scl, progress=not args.quiet, log=say,
    )  # fmt: skip
    return 0
