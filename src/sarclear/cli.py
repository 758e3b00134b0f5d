"""sarclear: remove clouds from Sentinel-2 images with Sentinel-1 radar. `sarclear COMMAND --help` for each command.

The `sarclear` command: parse, dispatch to one function per subcommand, print one-line errors.

Each subcommand lives in `sarclear/commands/<name>.py` with two functions, `add_arguments(parser)`
and `run(args) -> int`; they are imported only when chosen, so `sarclear --help` does not pay for
importing torch. This is the only module that decides exit codes: 0 success, 2 bad input or usage
(one line on stderr naming the file), also a write the file system refused (read-only, full, no
permission, a file in the way: `sarclear.storage_errors`), 1 a bug (traceback), 130 Ctrl-C, 143
SIGTERM (all clean up their temporary files first: `sarclear.signals`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from sarclear import __version__
from sarclear.errors import SarclearInputError
from sarclear.signals import EXIT_TERMINATED, Terminated, terminate_on_sigterm
from sarclear.storage_errors import storage_problem

#: subcommand -> one-line help. The module is `sarclear.commands.<name with - as _>`.
COMMANDS: dict[str, str] = {
    "synth": "write a synthetic SEN12MS-CR-like dataset (real GeoTIFFs, official layout)",
    "curate": "scan a SEN12MS-CR root, reject bad triplets, write manifest.csv and a summary",
    "pack": "store a manifest's kept tiles as memory-mapped arrays, for training faster than GeoTIFFs allow",
    "train": "train the SAR-optical Pix2Pix model on a manifest (torchrun for multi-GPU)",
    "evaluate": "PSNR/SSIM/SAM/MAE/RMSE of a checkpoint or baseline, per season and cloud cover",
    "prepare-s1": "a Sentinel-1 GRD product (.SAFE or .zip) to calibrated, denoised VV, VH dB on the S2 scene's grid",
    "predict": "remove clouds from a whole S2 scene with its S1 scene: georeferenced GeoTIFF out",
    "adapt": "fit a model to one scene's own clear pixels (SAR-guided) and inpaint its clouds: no pretrained model",
    "check": "validate an S1 / cloudy S2 / clear S2 triplet (bands, dtype, grid, every pixel), or an S1 + S2 pair as predict reads it",
    "export-onnx": "export a checkpoint's generator to ONNX",
    "demo": "the whole method on built-in synthetic data, end to end, in minutes on a CPU",
    "doctor": "check this installation: torch build and device, precision, GDAL drivers and PROJ, the cloud detector",
}


def _module_name(command: str) -> str:
    return "sarclear.commands." + command.replace("-", "_")


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sarclear", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"sarclear {__version__}")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch, OpenMP and BLAS in this command and its worker processes "
                             "(default: all cores); on a machine shared with other jobs, 1 is often faster")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # the first word naming a command (an option's value, such as --threads', never does)
    chosen = next((word for word in argv if word in COMMANDS), None)
    for name, help_text in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(_module_name(name)).add_arguments(sub_parser)
    return parser


#: The variables that size the thread pools of OpenMP (torch, LightGBM), MKL and OpenBLAS.
THREAD_VARIABLES: tuple[str, ...] = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def limit_threads(count: int) -> None:
    """Cap CPU threads at `count` for this process and every process it starts.

    Through the environment, before torch is imported, so the OpenMP runtime starts with that many
    and worker processes (DataLoader, curate's pool, evaluate's) inherit it. Why it matters: on 2
    cores shared with other jobs, two OpenMP threads that wait for each other ran a demo training
    step 6x slower than one (README, "Quick start")."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(count)
    if "torch" in sys.modules:  # already imported (a library user calling main twice): resize now
        sys.modules["torch"].set_num_threads(count)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1 (got {args.threads})")
        limit_threads(args.threads)
    module = importlib.import_module(_module_name(args.command))
    if args.threads is not None:
        limit_threads(args.threads)  # again: torch, imported with the command, is resized if it ignored the environment
    try:
        with terminate_on_sigterm(), warnings.catch_warnings():
            # rasterio's two-line notice on opening a raster without georeferencing: where a command needs one
            # it says so itself, in one line naming the file and the fix
            warnings.filterwarnings("ignore", message="Dataset has no geotransform, gcps, or rpcs")
            return int(module.run(args) or 0)
    except SarclearInputError as exc:
        print(f"sarclear: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as `Terminated`
        return _stopped(exc)
    except Exception as exc:  # a bug, or a broken library: the traceback, then where to look first
        if (stop := _interruption_behind(exc)) is not None:
            return _stopped(stop)  # a library's error while unwinding from the signal is still the signal
        if (problem := storage_problem(exc)) is not None:  # read-only, full, no permission: the user's to fix
            print(f"sarclear: error: {problem}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print("sarclear: unexpected error (a bug, or a broken installation: `sarclear doctor` checks torch, GDAL, PROJ "
              "and the cloud detector)", file=sys.stderr)  # fmt: skip
        return 1


#: Set by `main` when a command was stopped by Ctrl-C or SIGTERM (after its clean-up ran).
_interrupted: list[int] = []


def _stopped(exc: KeyboardInterrupt) -> int:
    code = EXIT_TERMINATED if isinstance(exc, Terminated) else 130
    _interrupted.append(code)
    print("sarclear: terminated (SIGTERM); no partial output kept" if code == EXIT_TERMINATED else "sarclear: interrupted",
          file=sys.stderr)  # fmt: skip
    return code


def _interruption_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C / SIGTERM this error was raised while handling, if any. The signal lands between
    any two bytecodes, also inside a library's own clean-up (rasterio's environment stack once
    raised `EnvError: No GDAL environment exists` on the way out), which then hides it."""
    seen: set[int] = set()
    current: BaseException | None = exc.__context__
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__context__
    return None


def entry() -> None:
    """The `sarclear` executable and `python -m sarclear`: `main`, then exit with its code.

    After Ctrl-C or SIGTERM the clean-up has run (work files removed, message printed) when `main`
    returns, so the process ends at once (`os._exit`) instead of through the interpreter's
    shutdown: that shutdown, with GDAL datasets, torch's threads and a read-ahead thread caught
    mid-call, crashed one stopped `predict` in 10 to 50 on a loaded machine (SIGSEGV or a
    glibc heap abort, exit -11 / -6 instead of 143), which a scheduler reports as a crash.
    """
    code = main()
    if _interrupted:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
