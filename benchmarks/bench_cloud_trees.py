"""s2cloudless's trees, side by side: LightGBM, sarclear's generated C, and TL2cgen if installed.

Prints one JSON line. The rows are the booster's ten bands of the four genuine SEN12MS-CR images in
`tests/data/sen12mscr-real` (4 x 65,536 pixels). Everything runs on one thread, in this process,
in alternating rounds (the machines are shared and noisy: compare within a run), and CPU
milliseconds per 256 x 256 image are reported, minimum and median over the rounds:

* `lightgbm`: `Booster.predict` on the reflectance (what s2cloudless calls), all 170 trees;
* `generated`: sarclear's build (`s2cloudless_fast`), all 170 trees, from 16-bit DN (table bins)
  and from reflectance (binary-search bins);
* with `--tl2cgen` (needs `pip install treelite tl2cgen`; not a dependency of sarclear): the
  first `--block` trees compiled by TL2cgen as sarclear used to (-Os, no quantisation, 3 C files)
  beside the same trees from sarclear's generator at its own options, and LightGBM on those trees.

Each candidate's raw scores are compared with LightGBM's (`identical`: bit for bit).

Usage: .venv/bin/python benchmarks/bench_cloud_trees.py [--rounds 5] [--tl2cgen] [--block 17]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

from sarclear.data import clouds, s2cloudless_codegen, s2cloudless_fast  # noqa: E402
from sarclear.data.normalize import toa_reflectance  # noqa: E402
from sarclear.io.geotiff import read_raster  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
IMAGES = sorted((REPO / "tests" / "data" / "sen12mscr-real").glob("*_s2*/*/*.tif"))


def _cpu_ms(fn: Callable[[], object], images: int) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000 / images


def _cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (the compilers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _generated_block(dump: dict, trees: int, folder: Path) -> Callable[[np.ndarray, np.ndarray], None]:
    """sarclear's generator on the first `trees` trees, compiled as `s2cloudless_fast` compiles."""
    forest = s2cloudless_codegen.forest_of(dump)
    source = folder / "first.c"
    source.write_text(s2cloudless_codegen.block_source(forest, 0, trees))
    function = getattr(ctypes.CDLL(str(folder / s2cloudless_fast._compile(source))), s2cloudless_codegen.ENTRY_POINT)
    function.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    return lambda bins, margin: function(bins.ctypes.data, bins.shape[0], margin.ctypes.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tl2cgen", action="store_true", help="add TL2cgen on the first --block trees")
    parser.add_argument("--block", type=int, default=17)
    args = parser.parse_args()

    import lightgbm

    model_path = s2cloudless_fast.model_file()
    booster = lightgbm.Booster(model_file=str(model_path))
    build = time.perf_counter()
    model = s2cloudless_fast.compiled()
    report: dict[str, object] = {"benchmark": "cloud_trees", "images": len(IMAGES), "rows": 0,
                                 "generated_load_or_build_s": round(time.perf_counter() - build, 1)}
    planes = np.concatenate([read_raster(p)[0][list(clouds.MODEL_BAND_POSITIONS)].reshape(10, -1) for p in IMAGES], axis=1)
    refl = np.ascontiguousarray(toa_reflectance(planes).T)
    report["rows"] = refl.shape[0]
    n = len(IMAGES)
    expected = booster.predict(refl, raw_score=True, num_threads=1)

    candidates: dict[str, Callable[[], np.ndarray]] = {
        "lightgbm": lambda: booster.predict(refl, raw_score=True, num_threads=1),
        "generated_from_dn": lambda: model.margins(model.dn_bins(planes)),
        "generated_from_reflectance": lambda: model.margins(model.bins(refl)),
    }
    identical = {name: bool(np.array_equal(fn(), expected)) for name, fn in candidates.items()}

    with tempfile.TemporaryDirectory() as tmp:
        if args.tl2cgen:
            import tl2cgen
            import treelite

            text = Path(tmp) / "first.txt"
            text.write_text(booster.model_to_string(num_iteration=args.block))
            start = _cpu_with_children()
            tl2cgen.export_lib(treelite.frontend.load_lightgbm_model(str(text)), toolchain="cc", libpath=f"{tmp}/tl2.so",
                               params={"parallel_comp": 3, "quantize": 0}, nthread=1, options=["-Os"])
            report["tl2cgen_block_build_cpu_s"] = round(_cpu_with_children() - start, 1)
            tl2 = tl2cgen.Predictor(f"{tmp}/tl2.so", nthread=1)
            rows = np.ascontiguousarray(refl, dtype=np.float64)
            block_expected = booster.predict(refl, raw_score=True, num_threads=1, num_iteration=args.block)
            start = _cpu_with_children()
            generated = _generated_block(booster.dump_model(), args.block, Path(tmp))
            report["generated_block_build_cpu_s"] = round(_cpu_with_children() - start, 1)
            bins = model.bins(refl)

            def generated_block() -> np.ndarray:
                margin = np.zeros(bins.shape[0])
                generated(bins, margin)
                return margin

            block = {
                f"lightgbm_first_{args.block}": lambda: booster.predict(refl, raw_score=True, num_threads=1, num_iteration=args.block),
                f"tl2cgen_first_{args.block}": lambda: np.asarray(tl2.predict(tl2cgen.DMatrix(rows), pred_margin=True)).reshape(-1),
                f"generated_first_{args.block}": generated_block,
            }
            identical.update({name: bool(np.array_equal(fn(), block_expected)) for name, fn in block.items()})
            candidates.update(block)
        times: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(args.rounds):
            for name, fn in candidates.items():
                times[name].append(_cpu_ms(fn, n))
    report["cpu_ms_per_image"] = {k: {"min": round(min(v), 1), "median": round(statistics.median(v), 1)} for k, v in times.items()}
    report["identical_to_lightgbm"] = identical
    best = {k: min(v) for k, v in times.items()}
    report["generated_speedup_vs_lightgbm"] = round(best["lightgbm"] / best["generated_from_dn"], 1)
    if args.tl2cgen:
        report[f"generated_speedup_vs_tl2cgen_first_{args.block}"] = round(
            best[f"tl2cgen_first_{args.block}"] / best[f"generated_first_{args.block}"], 2)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
