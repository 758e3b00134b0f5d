"""`sarclear adapt`: fit a model to one scene's own clear pixels (with its SAR) and inpaint its clouds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sarclear.data.clouds import DEFAULT_THRESHOLD

#: Default wall-clock budget: a few minutes on 2 CPU cores for a 256 x 256 tile (docs/adapt.md).
DEFAULT_MINUTES = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--s1", type=Path, nargs="+", metavar="S1",
                        help="Sentinel-1 VV, VH in dB: a 2-band file, a folder with VV and VH files, or the two files (reprojected onto the S2 grid if needed)")
    parser.add_argument("--s2", required=True, type=Path,
                        help="cloudy Sentinel-2 scene (DN): a 13-band or RGB GeoTIFF, a folder of per-band files, or a SAFE product (.SAFE or .zip)")
    parser.add_argument("--s2-offset", type=float, metavar="DN",
                        help="radiometric offset to remove (1000 for baseline 04.00 and later); default: from the SAFE metadata or product name")
    parser.add_argument("--out", required=True, help="output Cloud-Optimized GeoTIFF (RGB uint16 DN, B4 B3 B2), on the S2 grid")
    parser.add_argument("--checkpoint", type=Path, help="start from this trained model (fine-tune) instead of a fresh small one")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help=f"wall-clock fitting budget (default {DEFAULT_MINUTES:g})")
    budget.add_argument("--steps", type=int, help="fixed number of training steps instead of a time budget (reproducible)")
    parser.add_argument("--no-sar", action="store_true", help="fit an optical-only model (no --s1): the comparison that shows SAR's worth")
    parser.add_argument("--mask", type=Path, help="cloud mask on the S2 grid (nonzero = cloud) instead of detecting clouds")
    parser.add_argument("--reference", type=Path, metavar="S2", nargs="+", action="extend",
                        help="a clearer Sentinel-2 image of the same place on another date (any --s2 form, any level or grid), "
                             "or several: their clear pixels, matched to this scene's colours window by window, fill the clouds "
                             "before the fit corrects them with the SAR, each date if it fills holes cut into this scene's clear "
                             "ground at least as well as the plain fill; nearest date first (docs/adapt.md)")  # fmt: skip
    parser.add_argument("--force-reference", action="store_true", help="use every --reference even where that check finds it fills worse")
    parser.add_argument("--reference-mask", type=Path, metavar="MASK", nargs="+", action="extend",
                        help="the reference's cloud mask on its own grid (nonzero = cloud) instead of detecting its clouds; "
                             "with several references, one mask each, in the same order")  # fmt: skip
    parser.add_argument("--fill-only", action="store_true",
                        help="fit no model: write the fill the model would start from (graded in from the clear pixels, or from "
                             "--reference) under the clouds, in seconds; for a scene too cloudy to fit (under 10%% clear), or as the baseline")  # fmt: skip
    parser.add_argument("--format", choices=("png", "jpeg"), dest="quicklook", help="also write an 8-bit quick-look beside OUT")
    parser.add_argument("--keep-model", type=Path, metavar="DIR", help="keep the fitted checkpoint, its input and mask in DIR (for predict / evaluate)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, steps and threads give the same output (default 0)")
    parser.add_argument("--ngf", type=int, help="width of a fresh model (default 16)")
    parser.add_argument("--crop", type=int, help="training crop of a fresh model in px, a power of two >= 32 (default 64)")
    parser.add_argument("--batch-size", type=int, help="crops per step (default 8)")
    parser.add_argument("--lr", type=float, help="Adam learning rate, decayed to 5 %% of it (default 1e-3)")
    parser.add_argument("--ssim-weight", type=float, help="weight of a 1 - SSIM term beside L1 (default 0: off)")
    parser.add_argument("--dilate", type=int, help="extra cloud-mask dilation in px, to cover shadow and halo (default 6 for a detected mask, 0 with --mask)")
    parser.add_argument("--no-shadows", dest="shadows", action="store_false", help="do not add detected cloud shadows to a detected mask")
    parser.add_argument("--no-scl", dest="use_scl", action="store_false",
                        help="detect clouds even when an L2A product has its own scene classification (SCL), which is used by default")
    parser.add_argument("--cloud-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="P",
                        help=f"cloud probability above which a pixel is cloud in a detected mask (default {DEFAULT_THRESHOLD:g}, "
                             "s2cloudless's; higher keeps more observed pixels where haze raises it)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sarclear.adapt import adapt_scene
    from sarclear.commands.predict import check_out_name
    from sarclear.errors import ConfigError
    from sarclear.io.outputs import output_file

    def say(message: str) -> None:
        if not args.quiet:
            tqdm.write(f"sarclear adapt: {message}", file=sys.stderr)

    args.out = output_file(args.out)
    check_out_name(args.out)
    if args.no_sar and args.s1 is not None:
        say("--no-sar: ignoring --s1")
    if args.fill_only and args.s1 is None:
        args.no_sar = True  # the fill needs no radar
    if not args.no_sar and args.s1 is None:
        raise ConfigError("--s1 is required (the fit uses SAR as guidance); give --no-sar for an optical-only fit")
    if args.crop is not None and (args.crop < 32 or args.crop & (args.crop - 1)):
        raise ConfigError(f"--crop {args.crop}: must be a power of two >= 32")
    optional = {"ngf": args.ngf, "crop": args.crop, "batch_size": args.batch_size, "lr": args.lr, "ssim_weight": args.ssim_weight,
                "shadow_dilation": args.dilate}
    minutes = args.minutes if args.minutes is not None or args.steps is not None else DEFAULT_MINUTES
    result = adapt_scene(
        args.s2, None if args.no_sar else args.s1, args.out, checkpoint=args.checkpoint, steps=args.steps, minutes=minutes,
        use_sar=not args.no_sar, mask=args.mask, reference=args.reference, force_reference=args.force_reference, reference_mask=args.reference_mask,
        fill_only=args.fill_only, quicklook=args.quicklook,
        keep_model=args.keep_model, seed=args.seed, s2_offset=args.s2_offset, shadows=args.shadows,
        cloud_threshold=args.cloud_threshold, use_scl=args.use_scl, progress=not args.quiet, log=say,
        **{k: v for k, v in optional.items() if v is not None},
    )  # fmt: skip
    from sarclear.predict.writer import quicklook_path

    wrote = f"{result.out}" + (f" and {quicklook_path(result.out, args.quicklook)}" if args.quicklook else "")
    say(f"no model fitted (--fill-only); wrote {wrote}" if args.fill_only else f"{result.fit.steps} steps in {result.fit.seconds:.0f} s; wrote {wrote}")
    return 0
