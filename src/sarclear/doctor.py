"""What this installation can do, checked: `sarclear doctor`.

Why a command: the installs people report as broken elsewhere fail far from their cause. A CPU
build of torch on a GPU machine trains for days without saying so; a PROJ database from another
install (conda's `PROJ_DATA`) makes reprojection fail deep inside `predict`; a GDAL without its
JPEG 2000 driver cannot read a SAFE product's bands; without a C compiler the cloud detection runs
10x slower. Each check here asks the same functions the commands use (the device and precision
`auto` picks, the GDAL drivers the readers need, the compiled cloud booster's status), so what it
says is what a command would do.

A check is `ok`, `warn` (works, with a limit or a slower path) or `fail` (a command that needs it
cannot run); each non-ok check carries its fix. Every import is made inside its check, so a broken
package shows as one failed line, not a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata

from sarclear import __version__
from sarclear.cores import usable_cores

STATUSES = ("ok", "warn", "fail")


@dataclass(frozen=True)
class Check:
    """One line of the report: `name`, `status` (ok / warn / fail), what was found, and the fix."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    return Check("python", "ok", f"{platform.python_version()} ({platform.machine()}, {platform.system()}); sarclear {__version__}")


def check_torch() -> list[Check]:
    """torch's build, the device the commands pick by default, and what `--precision auto` means there."""
    import torch

    from sarclear.native_bf16 import has_native_bf16
    from sarclear.predict.engine import default_device
    from sarclear.predict.engine import resolve_precision as predict_precision
    from sarclear.train.precision import resolve_precision as train_precision

    cudnn = f", cuDNN {torch.backends.cudnn.version()}" if torch.version.cuda and torch.backends.cudnn.is_available() else ""
    build = f"CUDA {torch.version.cuda}{cudnn}" if torch.version.cuda else "CPU-only"
    checks = [Check("torch", "ok", f"{torch.__version__} ({build} build)")]
    device = default_device()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        major, minor = torch.cuda.get_device_capability(device)
        detail = (f"cuda: {torch.cuda.device_count()} x {props.name}, compute capability {major}.{minor}, "
                  f"{props.total_memory / 2**30:.0f} GiB")  # fmt: skip
        checks.append(Check("device", "ok", detail))
    elif torch.version.cuda:
        checks.append(Check("device", "warn", "cpu: this torch is a CUDA build but sees no GPU",
                            "check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES"))  # fmt: skip
    elif shutil.which("nvidia-smi"):
        checks.append(Check("device", "warn", "cpu: nvidia-smi is here but torch is the CPU-only build, so the GPU is unused",
                            "install the CUDA build of torch for your driver (pytorch.org), then reinstall sarclear "
                            "without -c constraints-cpu.txt"))  # fmt: skip
    else:
        checks.append(Check("device", "ok", "cpu (no GPU found)"))
    native = "native" if has_native_bf16(device) else "not native (emulated, so not chosen)"
    train = train_precision("auto", device).name
    checks.append(Check("precision", "ok", f"bf16 on {device.type}: {native}; --precision auto: train {train}, "
                                           f"predict {predict_precision('auto', device)}"))  # fmt: skip
    return checks


def check_threads() -> Check:
    import torch

    cores = usable_cores()
    detail = f"{cores} usable cores, torch uses {torch.get_num_threads()} threads"
    asked = os.environ.get("OMP_NUM_THREADS")
    if asked and asked.isdigit() and int(asked) > cores:
        return Check("threads", "warn", f"{detail}; OMP_NUM_THREADS={asked} is more than the cores",
                     f"set OMP_NUM_THREADS={cores} or less (or `sarclear --threads N`)")  # fmt: skip
    return Check("threads", "ok", detail + (f" (OMP_NUM_THREADS={asked})" if asked else ""))


#: GDAL drivers the readers and writers use: name -> (required, what needs it).
DRIVERS: dict[str, tuple[bool, str]] = {
    "GTiff": (True, "every GeoTIFF read and written"),
    "COG": (True, "predict's and adapt's Cloud-Optimized output"),
    "VRT": (True, "per-band folders and SAFE products, stacked on the 10 m grid"),
    "JP2OpenJPEG": (False, "the band files of a SAFE product (.jp2)"),
    "SENTINEL2": (False, "a SAFE product's metadata"),
    "PNG": (False, "predict --format png"),
}


def check_gdal() -> list[Check]:
    """rasterio imports, the drivers it needs are there, and PROJ transforms a coordinate."""
    try:
        import rasterio
        from rasterio.warp import transform
    except Exception as exc:  # noqa: BLE001 (any import failure is the finding)
        return [Check("rasterio", "fail", f"does not import: {exc}", "pip install rasterio (its wheel bundles GDAL)")]
    checks = [Check("rasterio", "ok", f"{rasterio.__version__}, GDAL {rasterio.__gdal_version__}")]
    with rasterio.Env() as env:
        drivers = env.drivers()
    for name, (required, use) in DRIVERS.items():
        if name in drivers:
            checks.append(Check(f"gdal {name}", "ok", use))
        else:
            checks.append(Check(f"gdal {name}", "fail" if required else "warn", f"driver missing: {use} will not work",
                                "install rasterio's own wheel (pip install --force-reinstall rasterio), whose GDAL has it"))  # fmt: skip
    try:  # Paris in UTM 31N: about (452,000 E, 5,411,000 N)
        xs, ys = transform("EPSG:4326", "EPSG:32631", [2.3522], [48.8566])
        good = abs(xs[0] - 452_000) < 2_000 and abs(ys[0] - 5_411_000) < 2_000
        detail = f"EPSG:4326 -> EPSG:32631 gives ({xs[0]:.0f}, {ys[0]:.0f})"
    except Exception as exc:  # noqa: BLE001
        good, detail = False, f"a coordinate transform failed: {str(exc).splitlines()[0]}"
    fix = "" if good else ("PROJ's database is not the one rasterio's GDAL expects: unset PROJ_DATA / PROJ_LIB "
                           "(often set by another install, e.g. conda) or reinstall rasterio")  # fmt: skip
    checks.append(Check("proj", "ok" if good else "fail", detail, fix))
    if good:
        checks.append(check_geoid_grids())
    return checks


def check_geoid_grids() -> Check:
    """Which geoid grids PROJ has: `prepare-s1 --dem` needs one for a DEM of geoid heights (Copernicus DEM, SRTM)."""
    from sarclear.io.dem import GEOID_GRIDS, geoid_grid_found, proj_data_folder

    found = {name: geoid_grid_found(name) for name in GEOID_GRIDS}
    detail = ", ".join(f"{name.upper()} {'found' if ok else 'missing'}" for name, ok in found.items())
    if all(found.values()):
        return Check("geoid grids", "ok", f"{detail}: prepare-s1 --dem converts geoid heights")
    missing = " / ".join(GEOID_GRIDS[name] for name, ok in found.items() if not ok)
    return Check("geoid grids", "ok", f"{detail}: only prepare-s1 --dem with a DEM of geoid heights needs one "
                                      f"(put {missing} from https://cdn.proj.org in {proj_data_folder()}, or set PROJ_NETWORK=ON)")


def check_clouds(build: bool, log: Callable[[str], None]) -> list[Check]:
    """s2cloudless is installed, and whether its booster runs compiled (10x faster) or not."""
    from sarclear.data import s2cloudless_fast as fast

    if fast.model_file() is None:
        return [Check("s2cloudless", "fail", "not installed: curate, evaluate and predict --composite need it",
                      "pip install s2cloudless")]  # fmt: skip
    checks = [Check("s2cloudless", "ok", f"{version_of('s2cloudless')}, LightGBM {version_of('lightgbm') or 'missing'}")]
    if build:
        fast.prepare(log)
    reason = fast.unavailable_reason()
    folder = fast.library_dir(fast.model_file())  # type: ignore[arg-type]
    if reason is not None:
        checks.append(Check("cloud booster", "warn", f"not compiled ({reason}): s2cloudless itself runs, about 10x slower",
                            "install a C compiler (e.g. gcc) or set CC; then `sarclear doctor --build`"))  # fmt: skip
    elif (folder / fast.LAYOUT_FILENAME).is_file():
        checks.append(Check("cloud booster", "ok", f"compiled, cached in {folder}"))
    else:
        compiler = " ".join(fast.compiler() or [])
        checks.append(Check("cloud booster", "ok", f"not built yet: built at first use with `{compiler}` (about 20 CPU-s, once; "
                                                   f"`sarclear doctor --build` does it now), into {folder}"))
    others = [p for p in folder.parent.glob("booster-*") if p.is_dir() and p != folder]
    if others:
        size = sum(f.stat().st_size for p in others for f in p.rglob("*") if f.is_file())
        checks.append(Check("old boosters", "ok", f"{len(others)} other build folder(s) beside it, {size / 2**20:.1f} MiB "
                                                  "(older sarclear versions, other machines sharing the cache), never loaded by "
                                                  "this install; delete them if nothing else uses this cache"))  # fmt: skip
    return checks


def check_cache() -> Check:
    from sarclear.data.s2cloudless_fast import cache_dir

    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("cache", "warn", f"{folder} is not writable ({exc.strerror}): nothing compiled can be kept",
                     "set SARCLEAR_CACHE_DIR to a writable folder")  # fmt: skip
    return Check("cache", "ok", f"{folder} is writable")


def check_distributed() -> Check:
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        return Check("distributed", "warn", "torch.distributed is not in this torch build: no torchrun training",
                     "install a torch build with distributed support")  # fmt: skip
    backends = [name for name, present in (("gloo", dist.is_gloo_available()), ("nccl", dist.is_nccl_available())) if present]
    if torch.cuda.is_available() and "nccl" not in backends:
        return Check("distributed", "warn", f"backends {', '.join(backends)}: no NCCL, so multi-GPU runs use gloo (slow)",
                     "install torch's CUDA build from pytorch.org (it bundles NCCL)")  # fmt: skip
    return Check("distributed", "ok", f"torchrun backends: {', '.join(backends) or 'none'}")


def check_optional() -> list[Check]:
    """Extras: not needed by the main commands, each named with what it enables."""
    extras = (("onnxruntime", "onnx", "predict with an .onnx export (--backend onnx)"), ("onnx", "onnx", "export-onnx"),
              ("tensorboard", "tensorboard", "TensorBoard event files beside train's metrics.csv"))  # fmt: skip
    checks = []
    for module, extra, use in extras:
        found = importlib.util.find_spec(module) is not None
        version = version_of(module) if found else None
        checks.append(Check(module, "ok" if found else "warn", f"{version}: {use}" if found else f"not installed: {use} unavailable",
                            "" if found else f'pip install -e ".[{extra}]" (optional)'))  # fmt: skip
    return checks


def diagnose(build: bool = False, log: Callable[[str], None] = lambda _: None) -> list[Check]:
    """Every check, in the order of the report; `build` compiles the cloud booster now if it can."""
    steps: list[tuple[str, Callable[[], Check | list[Check]]]] = [
        ("python", check_python), ("torch", check_torch), ("threads", check_threads), ("rasterio", check_gdal),
        ("s2cloudless", lambda: check_clouds(build, log)), ("cache", check_cache), ("distributed", check_distributed),
        ("optional", check_optional),
    ]  # fmt: skip
    checks: list[Check] = []
    for name, step in steps:
        try:
            found = step()
        except Exception as exc:  # noqa: BLE001 (a broken package is a finding, not a crash)
            found = Check(name, "fail", f"the check itself failed: {type(exc).__name__}: {exc}", f"reinstall {name}")
        checks += found if isinstance(found, list) else [found]
    return checks


def render(checks: list[Check]) -> str:
    """The report as aligned text: status, name, what was found; the fix on the next line."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
    return "\n".join(lines)
