"""s2cloudless's own LightGBM booster, compiled to native code: the same probabilities, faster.

Why: LightGBM's per-pixel prediction is almost all of the cost of `curate` (and of `evaluate`'s
cloud masks). The booster that ships in the s2cloudless wheel has 170 trees of 770 leaves over 10
bands, walked pixel by pixel. `s2cloudless_codegen` writes those trees out as C over binned inputs
(why that, and not a library's compiler: its docstring and docs/curate.md), and this module builds,
caches, loads and runs that code.

* **In blocks of `TREES_PER_BLOCK` trees**, one small library each. Each block runs over all pixels
  of the call before the next block starts, so its code can stay in the core's cache (the whole
  forest is several MB of branches); every pixel keeps one running sum across the blocks, in the
  model's tree order, so the raw scores are LightGBM's bit for bit. The model's sigmoid is then
  applied as LightGBM applies it.
* **Inputs as bins**: one byte per feature, found for integer DN through a lookup table of all
  65,536 values (built by the same reflectance conversion and comparison as the float path), for
  other input by a binary search in each feature's thresholds.
* **At -O1**: the code is all branches and constants; -O1, -O2 and -Os ran within about 10 % of
  each other and -O1 builds fastest (docs/curate.md).

Where the compiled libraries live: built at first use (a C compiler is needed: `cc`, or `$CC`), in
the user's cache folder (`$SARCLEAR_CACHE_DIR`, else `$XDG_CACHE_HOME/sarclear`, else
`~/.cache/sarclear`), in one folder named by the SHA-256 of the booster file, the generator's
version, the build layout and the machine, so a new s2cloudless model, generator or layout gets its
own build, and a folder shared by cluster nodes of one architecture is built once. A file lock
makes concurrent first uses (shards, workers) wait for one build instead of compiling twice, and
the folder is built under a temporary name and renamed when complete, so no process ever loads
half of it.

When LightGBM (which reads the model for the build), the model or a compiler is missing, or the
build fails, `unavailable_reason()` says why and `sarclear.data.clouds` runs s2cloudless itself
(same probabilities, slower).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sarclear.cores import usable_cores
from sarclear.data import s2cloudless_codegen as codegen
from sarclear.data.normalize import toa_reflectance
from sarclear.io.atomic import atomic_directory
from sarclear.io.digest import file_sha256

#: The booster file inside the s2cloudless wheel (s2cloudless/cloud_detector.py, MODEL_FILENAME).
MODEL_FILENAME = "pixel_s2_cloud_detector_lightGBM_v0.1.txt"
#: Trees per compiled block (see the module docstring): 17 blocks of the 170 trees. 6 to 34 trees
#: per block ran within 10 % of each other; the whole forest in one block is much slower with
#: compiled branches (docs/curate.md has the figures).
TREES_PER_BLOCK = 10
#: Optimisation level for the generated C (see the module docstring).
COMPILE_OPTIONS = ("-O1",)
#: Names the build layout in the cache folder's name: a change here gets a new build.
LAYOUT = f"gen{codegen.GENERATOR_VERSION}-blocks{TREES_PER_BLOCK}{''.join(COMPILE_OPTIONS)}"
#: Written last into a built folder: the blocks in order, the sigmoid, each feature's thresholds.
LAYOUT_FILENAME = "layout.json"
#: Every integer DN a 16-bit band can hold (the lookup table's domain).
DN_VALUES = 1 << 16
#: Rows per thread when a call is split over threads (below twice this, one thread runs it all).
ROWS_PER_THREAD = 1 << 16


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


def compiler() -> list[str] | None:
    """The C compiler command: `$CC` if set (it may hold words, e.g. 'ccache gcc'), else the first of
    cc, gcc, clang on PATH; None when there is none."""
    if os.environ.get("CC"):
        words = shlex.split(os.environ["CC"])
        return words if words and shutil.which(words[0]) else None
    return next(([name] for name in ("cc", "gcc", "clang") if shutil.which(name)), None)


@functools.lru_cache(maxsize=4)
def _sha256(path: Path) -> str:
    """`file_sha256`, once per process: `library_dir` is asked at every cloud-mask call."""
    return file_sha256(path)


def library_dir(model: Path) -> Path:
    """The folder of compiled blocks for `model` (it may not exist yet)."""
    tag = f"{_sha256(model)[:16]}-{LAYOUT}-{platform.system().lower()}-{platform.machine()}"
    return cache_dir() / "s2cloudless" / f"booster-{tag}"


#: Why a build failed in this process (then `clouds` falls back to the reference for the rest of it).
_build_failure: list[str] = []


def unavailable_reason() -> str | None:
    """None when the compiled path can run (built, or buildable), else why not, in words."""
    if _build_failure:
        return _build_failure[0]
    if os.name != "posix":
        return "the compiled path is built on Linux and macOS only (file locks, shared libraries)"
    model = model_file()
    if model is None:
        return "the s2cloudless package (which ships the model) is not installed"
    if library_dir(model).is_dir():
        return None
    if importlib.util.find_spec("lightgbm") is None:
        return "the lightgbm package (which reads the model for the build) is not installed"
    if compiler() is None:
        return "no C compiler (cc, gcc or clang) to build it once; install one or set CC"
    return None


@contextlib.contextmanager
def _lock(path: Path):  # noqa: ANN202 (a context manager)
    import fcntl  # POSIX only: imported here so that sarclear imports on Windows (and falls back)

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _compile(source: Path) -> str:
    """Compile one generated block into a shared library beside it; the library's file name."""
    library = source.with_suffix(".so")
    command = [*(compiler() or ["cc"]), *COMPILE_OPTIONS, "-shared", "-fPIC", "-o", str(library), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"{command[0]} exited with {done.returncode}" + (f": {said[0]}" if said else ""))
    source.unlink()
    return library.name


def build(model: Path, target: Path, log: Callable[[str], None] = lambda _: None) -> Path:
    """Compile `model` into the folder `target` unless it is there (another process may be building
    it: wait). The blocks are compiled in parallel, one per core."""
    import lightgbm

    with _lock(target.parent / f"{target.name}.lock"):
        if (target / LAYOUT_FILENAME).is_file():
            return target
        log(f"compiling s2cloudless's booster once into {target} (about 20 CPU-seconds, then cached)")
        forest = codegen.forest_of(lightgbm.Booster(model_file=str(model)).dump_model())
        with atomic_directory(target) as built:  # swapped onto `target` only when complete
            sources = []
            for start in range(0, len(forest.trees), TREES_PER_BLOCK):
                sources.append(built / f"block-{start:04d}.c")
                sources[-1].write_text(codegen.block_source(forest, start, TREES_PER_BLOCK))
            with ThreadPoolExecutor(max_workers=min(usable_cores(), len(sources))) as pool:
                libraries = list(pool.map(_compile, sources))
            layout = {
                "blocks": libraries,
                "sigmoid_alpha": forest.sigmoid_alpha,
                "trees": len(forest.trees),
                "bin_type": forest.bin_type,
                "thresholds": [list(t) for t in forest.thresholds],  # floats round-trip exactly in JSON
            }
            (built / LAYOUT_FILENAME).write_text(json.dumps(layout, indent=1))
    return target


class Compiled:
    """The loaded blocks of one build, with what turns inputs into their bins."""

    def __init__(self, folder: Path) -> None:
        layout = json.loads((folder / LAYOUT_FILENAME).read_text())
        self.alpha = float(layout["sigmoid_alpha"])
        self.thresholds = [np.asarray(t, dtype=np.float64) for t in layout["thresholds"]]
        self.dtype = np.dtype(np.uint8 if layout["bin_type"] == "uint8_t" else np.uint16)
        self.blocks = []
        for name in layout["blocks"]:
            function = getattr(ctypes.CDLL(str(folder / name)), codegen.ENTRY_POINT)
            function.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
            function.restype = None
            self.blocks.append(function)

    @property
    def features(self) -> int:
        return len(self.thresholds)

    def bins(self, values: np.ndarray) -> np.ndarray:
        """`(M, features)` bins of `(M, features)` feature values (reflectance)."""
        out = np.empty(values.shape, dtype=self.dtype)
        for f, thresholds in enumerate(self.thresholds):
            out[:, f] = codegen.bins_of(values[:, f], thresholds, self.dtype)
        return out

    @functools.cached_property
    def dn_table(self) -> np.ndarray:
        """`(features, 65536)`: the bin of every 16-bit DN, through `toa_reflectance` (the conversion
        the float path's callers use, so the table gives exactly the bins of the values they see)."""
        values = toa_reflectance(np.arange(DN_VALUES, dtype=np.uint16))
        return np.stack([codegen.bins_of(values, t, self.dtype) for t in self.thresholds])

    def dn_bins(self, planes: np.ndarray) -> np.ndarray:
        """`(M, features)` bins of integer DN `planes` `(features, ...)` (M: a plane's pixels, in order)."""
        table = self.dn_table
        bins = np.empty((*planes.shape[1:], self.features), dtype=self.dtype)
        for f in range(self.features):
            bins[..., f] = table[f][planes[f]]
        return bins.reshape(-1, self.features)

    def margins(self, bins: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """LightGBM's raw scores of `(M, features)` bins: every block over all rows, then the next,
        each row's sum carried through them in tree order. Rows are split over `num_threads`
        threads (the C code runs without the GIL)."""
        bins = np.ascontiguousarray(bins, dtype=self.dtype)
        if bins.ndim != 2 or bins.shape[1] != self.features:
            raise ValueError(f"expected (rows, {self.features}) bins, got {bins.shape}")
        margin = np.zeros(bins.shape[0], dtype=np.float64)

        def run(rows: slice) -> None:
            part, out = bins[rows], margin[rows]
            for block in self.blocks:
                block(part.ctypes.data, part.shape[0], out.ctypes.data)

        chunks = max(1, min(num_threads, bins.shape[0] // ROWS_PER_THREAD))
        if chunks == 1:
            run(slice(None))
        else:
            edges = np.linspace(0, bins.shape[0], chunks + 1).astype(int)
            with ThreadPoolExecutor(max_workers=chunks) as pool:
                list(pool.map(run, [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]))
        return margin

    def probabilities(self, margin: np.ndarray) -> np.ndarray:
        """The model's sigmoid, as LightGBM's binary objective applies it."""
        return 1.0 / (1.0 + np.exp(-self.alpha * margin))


@functools.lru_cache(maxsize=4)
def _load(folder: Path) -> Compiled:
    return Compiled(folder)


def compiled(log: Callable[[str], None] = lambda _: None) -> Compiled:
    """The loaded build of s2cloudless's booster (built first if needed), loaded once per process."""
    model = model_file()
    if model is None:
        raise RuntimeError("s2cloudless is not installed: its model file is missing")
    folder = library_dir(model)
    if not (folder / LAYOUT_FILENAME).is_file():
        build(model, folder, log)
    return _load(folder)


def prepare(log: Callable[[str], None] = lambda _: None) -> bool:
    """Build and load the libraries now (before a process pool starts, so workers only load them).

    False, with the reason kept for `unavailable_reason`, when that fails (a compiler error, a full
    disk, a booster the generator does not write, a damaged cached build): the run goes on with
    s2cloudless itself, and the reason names the cache folder, whose removal forces a rebuild.
    """
    if unavailable_reason() is not None:
        return False
    try:
        compiled(log)
    except Exception as exc:  # noqa: BLE001 (any build failure means: use the reference)
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        folder = library_dir(model_file())  # type: ignore[arg-type]
        _build_failure.append(f"building it failed: {said} (delete {folder} to build it again)")
        return False
    return True


def predict(features: np.ndarray, num_threads: int | None = None) -> np.ndarray:
    """Cloud probabilities, float64 `(M,)`, of `(M, 10)` rows of the booster's bands (reflectance)."""
    model = compiled()
    return model.probabilities(model.margins(model.bins(np.asarray(features)), num_threads or 1))


def predict_dn(planes: np.ndarray, num_threads: int | None = None) -> np.ndarray:
    """Cloud probabilities, float64, of integer DN `planes` `(10, ...)` (the booster's bands in its
    order, each 0 to 65535), shaped like one plane: each DN's bin comes from a table of all 16-bit
    values, the same as `predict` of their `toa_reflectance` (tested), faster."""
    model = compiled()
    margin = model.margins(model.dn_bins(planes), num_threads or 1)
    return model.probabilities(margin).reshape(planes.shape[1:])
