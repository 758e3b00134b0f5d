"""s2cloudless's own LightGBM booster, compiled to native code: the same probabilities, faster.

Why: LightGBM's per-pixel prediction is almost all of the cost of `curate` (and of `evaluate`'s
cloud masks). The booster that ships in the s2cloudless wheel has 170 trees of 770 leaves over 10
bands; LightGBM walks them row by row through its generic tree structure. Treelite
(dmlc/treelite) reads the same model file, and TL2cgen (dmlc/tl2cgen, its code generator) turns it
into C with the thresholds of every split kept as the model's doubles, so a pixel takes the same
branch as in LightGBM and gets the same leaf values.

How it is compiled, and why (the measurements are in docs/curate.md):

* **In blocks of `TREES_PER_BLOCK` trees**, one small library each (the sub-models are cut from
  the booster by LightGBM's own `model_to_string(start_iteration=, num_iteration=)`). Each block
  runs over all pixels of the call before the next block starts, so its code can stay in the
  core's cache; the whole forest as one library is several MB of branches, larger than the core's
  cache, walked anew for every pixel, and runs measurably slower. The blocks' raw sums are added in block order and the model's own
  sigmoid (read from its header) is applied once, so a probability differs from LightGBM's only in
  the rounding of that sum (below 1e-15; the float32 probabilities sarclear returns were identical
  on the genuine test images, which the agreement tests check).
* **Without TL2cgen's `quantize`**: quantizing first maps each of the ten features to a bin by a
  binary search per row per call, which costs more than it saves when a row goes through the 17
  trees of a block; the comparisons stay on doubles.
* **At -Os**: this code is all branches and constants, and the smaller machine code of -Os runs
  faster than -O1's or -O2's (measured; likely less code to fetch per block), and builds quicker than
  -O2's.

Where the compiled libraries live: built at first use (a C compiler is needed: `cc`, or `$CC`), in
the user's cache folder (`$SARCLEAR_CACHE_DIR`, else `$XDG_CACHE_HOME/sarclear`, else
`~/.cache/sarclear`), in one folder named by the SHA-256 of the booster file, the TL2cgen version,
the build layout and the machine, so a new s2cloudless model, TL2cgen version or layout gets its
own build, and a folder shared by cluster nodes of one architecture is built once. A file lock
makes concurrent first uses (shards, workers) wait for one build instead of compiling twice, and
the folder is built under a temporary name and renamed when complete, so no process ever loads
half of it.

When TL2cgen, Treelite or a compiler is missing, `unavailable_reason()` says why and
`sarclear.data.clouds` runs s2cloudless itself (same probabilities, slower).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

#: The booster file inside the s2cloudless wheel (s2cloudless/cloud_detector.py, MODEL_FILENAME).
MODEL_FILENAME = "pixel_s2_cloud_detector_lightGBM_v0.1.txt"
#: Trees per compiled block (see the module docstring): 10 blocks of the 170 trees. Smaller blocks
#: were no faster, the whole forest in one block much slower (docs/curate.md has the figures).
TREES_PER_BLOCK = 17
#: C files per block (TL2cgen's `parallel_comp`), so a block's build is split across cores too.
SOURCE_FILES_PER_BLOCK = 3
#: Optimisation level for the generated C (see the module docstring).
COMPILE_OPTIONS = ("-Os",)
#: Names the build layout in the cache folder's name: a change here gets a new build.
LAYOUT = f"blocks{TREES_PER_BLOCK}-noquant{''.join(COMPILE_OPTIONS)}"
#: Written last into a built folder: the blocks, in order, and the sigmoid that follows their sum.
LAYOUT_FILENAME = "layout.json"


def model_file() -> Path | None:
    """The booster shipped with s2cloudless, found without importing s2cloudless (OpenCV, LightGBM)."""
    spec = importlib.util.find_spec("s2cloudless")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILENAME
    return path if path.is_file() else None


def cache_dir() -> Path:
    """Where compiled boosters are kept (see the module docstring)."""
    if os.environ.get("SARCLEAR_CACHE_DIR"):
        return Path(os.environ["SARCLEAR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sarclear"


def compiler() -> str | None:
    """The C compiler TL2cgen will call: `$CC` if set, else the first of cc, gcc, clang on PATH."""
    if os.environ.get("CC"):
        return os.environ["CC"] if shutil.which(os.environ["CC"].split()[0]) else None
    return next((name for name in ("cc", "gcc", "clang") if shutil.which(name)), None)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.lru_cache(maxsize=4)
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def library_dir(model: Path) -> Path:
    """The folder of compiled blocks for `model` (it may not exist yet)."""
    import tl2cgen

    tag = (f"{_sha256(model)[:16]}-tl2cgen{tl2cgen.__version__}-{LAYOUT}-"
           f"{platform.system().lower()}-{platform.machine()}")
    return cache_dir() / "s2cloudless" / f"booster-{tag}"


#: Why a build failed in this process (then `clouds` falls back to the reference for the rest of it).
_build_failure: list[str] = []


def unavailable_reason() -> str | None:
    """None when the compiled path can run (built, or buildable), else why not, in words."""
    if _build_failure:
        return _build_failure[0]
    for module in ("treelite", "tl2cgen", "lightgbm"):
        if importlib.util.find_spec(module) is None:
            return f"the {module} package is not installed (pip install sarclear's dependencies again)"
    model = model_file()
    if model is None:
        return "the s2cloudless package (which ships the model) is not installed"
    if not library_dir(model).is_dir() and compiler() is None:
        return "no C compiler (cc, gcc or clang) to build it once; install one or set CC"
    return None


@contextlib.contextmanager
def _lock(path: Path):  # noqa: ANN202 (a context manager)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sigmoid_alpha(forest: Any) -> float:
    """The booster's output transform, checked to be what `predict` applies: sigmoid(alpha * sum)."""
    header = forest.get_header_accessor()
    kind = header.get_field("postprocessor")
    base = np.asarray(header.get_field("base_scores"), dtype=np.float64)
    if kind != "sigmoid" or np.any(base != 0) or np.any(header.get_field("average_tree_output")):
        raise RuntimeError(f"unexpected booster output ({kind}, base scores {base.tolist()}): not s2cloudless's")
    return float(np.asarray(header.get_field("sigmoid_alpha")).reshape(-1)[0])


def _build_block(text: Path, folder: Path) -> str:
    """Compile the sub-model in the LightGBM file `text` into `folder`; the library's file name."""
    import tl2cgen
    import treelite

    forest = treelite.frontend.load_lightgbm_model(str(text))
    library = folder / f"{text.stem}.so"
    tl2cgen.export_lib(
        forest,
        toolchain=compiler() or "cc",
        libpath=str(library),
        params={"parallel_comp": SOURCE_FILES_PER_BLOCK, "quantize": 0},
        nthread=1,
        options=list(COMPILE_OPTIONS),
    )
    text.unlink()
    return library.name


def build(model: Path, target: Path, log: Callable[[str], None] = lambda _: None) -> Path:
    """Compile `model` into the folder `target` unless it is there (another process may be building
    it: wait). The blocks are compiled in parallel, one per core."""
    import lightgbm
    import treelite

    with _lock(target.parent / f"{target.name}.lock"):
        if (target / LAYOUT_FILENAME).is_file():
            return target
        log(f"compiling s2cloudless's booster once into {target} (a few CPU-minutes, then cached)")
        alpha = _sigmoid_alpha(treelite.frontend.load_lightgbm_model(str(model)))
        booster = lightgbm.Booster(model_file=str(model))
        starts = range(0, booster.num_trees(), TREES_PER_BLOCK)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
            built = Path(tmp) / target.name
            built.mkdir()
            texts = []
            for start in starts:  # cut in this thread: LightGBM's Booster is not shared across threads
                texts.append(built / f"block-{start:04d}.txt")
                texts[-1].write_text(booster.model_to_string(start_iteration=start, num_iteration=TREES_PER_BLOCK))
            with ThreadPoolExecutor(max_workers=min(_cores(), len(texts))) as pool:
                libraries = list(pool.map(lambda text: _build_block(text, built), texts))
            layout = {"blocks": libraries, "sigmoid_alpha": alpha, "trees": booster.num_trees()}
            (built / LAYOUT_FILENAME).write_text(json.dumps(layout, indent=1))
            if target.exists():  # a folder left by an interrupted rename: never loaded, replace it
                shutil.rmtree(target)
            os.replace(built, target)
    return target


@functools.lru_cache(maxsize=4)
def _blocks(nthread: int = 1) -> tuple[list[Any], float]:
    """The loaded block predictors, in order, and the sigmoid's alpha."""
    import tl2cgen

    model = model_file()
    if model is None:
        raise RuntimeError("s2cloudless is not installed: its model file is missing")
    folder = build(model, library_dir(model))
    layout = json.loads((folder / LAYOUT_FILENAME).read_text())
    return [tl2cgen.Predictor(str(folder / name), nthread=nthread) for name in layout["blocks"]], layout["sigmoid_alpha"]


def prepare(log: Callable[[str], None] = lambda _: None) -> bool:
    """Build and load the libraries now (before a process pool starts, so workers only load them).

    False, with the reason kept for `unavailable_reason`, when that fails (a compiler error, a full
    disk): the run goes on with s2cloudless itself rather than stopping.
    """
    if unavailable_reason() is not None:
        return False
    try:
        build(model_file(), library_dir(model_file()), log)  # type: ignore[arg-type]
        _blocks()
    except Exception as exc:  # noqa: BLE001 (any build failure means: use the reference)
        _build_failure.append(f"building it failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
        return False
    return True


def predict(features: np.ndarray, num_threads: int | None = None) -> np.ndarray:
    """Cloud probabilities, float64 `(M,)`, of `(M, 10)` rows of the booster's bands (reflectance).

    Rows go in as float64: LightGBM widens its float32 input to double before comparing it with the
    model's double thresholds, and so does this. Every block runs over all rows, then the next.
    """
    import tl2cgen

    rows = np.ascontiguousarray(features, dtype=np.float64)
    matrix = tl2cgen.DMatrix(rows)
    blocks, alpha = _blocks(num_threads or 1)
    margin = np.zeros(rows.shape[0], dtype=np.float64)
    for block in blocks:
        margin += np.asarray(block.predict(matrix, pred_margin=True), dtype=np.float64).reshape(-1)
    return 1.0 / (1.0 + np.exp(-alpha * margin))
