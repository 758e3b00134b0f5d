"""s2cloudless's own LightGBM booster, compiled to native code: the same probabilities, faster.

Why: LightGBM's per-pixel prediction is almost all of the cost of `curate` (and of `evaluate`'s
cloud masks). The booster that ships in the s2cloudless wheel has 170 trees of 770 leaves over 10
bands; LightGBM walks them row by row through its generic tree structure. Treelite
(dmlc/treelite) reads the same model file, and TL2cgen (dmlc/tl2cgen, its code generator) turns it
into C with the thresholds of every split kept as the model's doubles, so a pixel takes the same
branch as in LightGBM and the probability is the same sigmoid of the same sum of leaf values (the
agreement tests compare them on genuine tiles).

Where the compiled library lives: it is built at first use (a C compiler is needed: `cc`, or
`$CC`), in the user's cache folder (`$SARCLEAR_CACHE_DIR`, else `$XDG_CACHE_HOME/sarclear`, else
`~/.cache/sarclear`), named by the SHA-256 of the booster file, the TL2cgen version and the machine,
so a new s2cloudless model or a new compiler front end gets its own build, and a folder shared by
cluster nodes of one architecture is built once. A file lock makes concurrent first uses (shards,
workers) wait for one build instead of compiling twice, and the library is written under a
temporary name and renamed when complete, so no process ever loads half of one. Trees are split
into `SOURCE_FILES` C files so the build is parallel and each file stays small enough for the
compiler's optimiser (one 35 MB function is impractically slow to compile).

When TL2cgen, Treelite or a compiler is missing, `unavailable_reason()` says why and
`sarclear.data.clouds` runs s2cloudless itself (same probabilities, slower).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: The booster file inside the s2cloudless wheel (s2cloudless/cloud_detector.py, MODEL_FILENAME).
MODEL_FILENAME = "pixel_s2_cloud_detector_lightGBM_v0.1.txt"
#: C files the 170 trees are split into (TL2cgen's `parallel_comp`): compiled in parallel, each small.
SOURCE_FILES = 34
#: Optimisation level for the generated C. -O2 gives the fast code; -O3 only lengthens the build.
COMPILE_OPTIONS = ("-O2",)


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


@functools.lru_cache(maxsize=4)
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def library_path(model: Path) -> Path:
    """The compiled library's path for `model` (it may not exist yet)."""
    import tl2cgen

    tag = f"{_sha256(model)[:16]}-tl2cgen{tl2cgen.__version__}-{platform.system().lower()}-{platform.machine()}"
    return cache_dir() / "s2cloudless" / f"booster-{tag}.so"


#: Why a build failed in this process (then `clouds` falls back to the reference for the rest of it).
_build_failure: list[str] = []


def unavailable_reason() -> str | None:
    """None when the compiled path can run (built, or buildable), else why not, in words."""
    if _build_failure:
        return _build_failure[0]
    for module in ("treelite", "tl2cgen"):
        if importlib.util.find_spec(module) is None:
            return f"the {module} package is not installed (pip install sarclear's dependencies again)"
    model = model_file()
    if model is None:
        return "the s2cloudless package (which ships the model) is not installed"
    if not library_path(model).is_file() and compiler() is None:
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


def build(model: Path, target: Path, log: Callable[[str], None] = lambda _: None) -> Path:
    """Compile `model` to `target` unless it is there (another process may be building it: wait)."""
    import tl2cgen
    import treelite

    with _lock(target.with_suffix(".lock")):
        if target.is_file():
            return target
        log(f"compiling s2cloudless's booster once into {target} (a minute or a few, then cached)")
        forest = treelite.frontend.load_lightgbm_model(str(model))
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
            built = Path(tmp) / target.name
            tl2cgen.export_lib(
                forest,
                toolchain=compiler() or "cc",
                libpath=str(built),
                params={"parallel_comp": SOURCE_FILES, "quantize": 1},
                nthread=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                options=list(COMPILE_OPTIONS),
            )
            os.replace(built, target)
    return target


@functools.lru_cache(maxsize=4)
def _predictor(nthread: int = 1) -> Any:
    import tl2cgen

    model = model_file()
    if model is None:
        raise RuntimeError("s2cloudless is not installed: its model file is missing")
    return tl2cgen.Predictor(str(build(model, library_path(model))), nthread=nthread)


def prepare(log: Callable[[str], None] = lambda _: None) -> bool:
    """Build and load the library now (before a process pool starts, so workers only load it).

    False, with the reason kept for `unavailable_reason`, when that fails (a compiler error, a full
    disk): the run goes on with s2cloudless itself rather than stopping.
    """
    if unavailable_reason() is not None:
        return False
    try:
        build(model_file(), library_path(model_file()), log)  # type: ignore[arg-type]
        _predictor()
    except Exception as exc:  # noqa: BLE001 (any build failure means: use the reference)
        _build_failure.append(f"building it failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
        return False
    return True


def predict(features: np.ndarray, num_threads: int | None = None) -> np.ndarray:
    """Cloud probabilities, float64 `(M,)`, of `(M, 10)` rows of the booster's bands (reflectance).

    Rows go in as float64: LightGBM widens its float32 input to double before comparing it with the
    model's double thresholds, and so does this.
    """
    import tl2cgen

    rows = np.ascontiguousarray(features, dtype=np.float64)
    out = _predictor(num_threads or 1).predict(tl2cgen.DMatrix(rows))
    return np.asarray(out, dtype=np.float64).reshape(-1)
