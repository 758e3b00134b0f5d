"""Tiny hand-made triplets for tests: exact control over every pixel, in the official layout."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from rasterio.transform import from_origin

from sarclear.data.layout import official_paths
from sarclear.io.geotiff import write_raster

CRS = "EPSG:32631"


def transform_for(origin_x: float = 500000.0, origin_y: float = 5000000.0, pixel: float = 10.0):
    return from_origin(origin_x, origin_y, pixel, pixel)


def make_arrays(size: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    """A plausible triplet: textured SAR in dB, textured 13-band S2, the cloudy one brighter."""
    rng = np.random.default_rng(seed)
    s1 = np.stack([rng.normal(-10, 3, (size, size)), rng.normal(-17, 3, (size, size))]).astype(np.float32)
    clear = rng.integers(300, 2500, (13, size, size)).astype(np.uint16)
    cloudy = np.clip(clear.astype(np.int32) + 3000, 0, 10000).astype(np.uint16)
    return {"s1": s1, "s2_cloudy": cloudy, "s2": clear}


def write_triplet(
    root: Path,
    roi: str = "ROIs1868_summer",
    scene: int = 1,
    patch: int = 1,
    arrays: dict[str, np.ndarray] | None = None,
    transforms: dict[str, object] | None = None,
    crs: str = CRS,
) -> dict[str, Path]:
    """Write a triplet in the official layout and return its three paths (keys s1, s2_cloudy, s2)."""
    arrays = arrays if arrays is not None else make_arrays()
    paths = official_paths(root, roi, scene, patch)
    for modality, path in paths.items():
        transform = (transforms or {}).get(modality, transform_for())
        write_raster(path, arrays[modality], crs=crs, transform=transform)
    return paths


def s1_grd_builder() -> ModuleType:
    """tests/data/real-scenes/make_s1_grd.py, which packs dB maps into GRD products (a script, not a package)."""
    path = Path(__file__).parent / "data" / "real-scenes" / "make_s1_grd.py"
    if "make_s1_grd" in sys.modules:
        return sys.modules["make_s1_grd"]
    spec = importlib.util.spec_from_file_location("make_s1_grd", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_s1_grd"] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def s1_cut_short(folder: Path, out: Path, columns: int) -> Path:
    """A copy of the S1 folder `folder` (VV.tif, VH.tif) without its last `columns` columns: an S1
    scene that stops short of the S2's eastern edge."""
    import rasterio

    out.mkdir(parents=True)
    for name in ("VV.tif", "VH.tif"):
        with rasterio.open(folder / name) as src:
            data, profile = src.read(), src.profile
        with rasterio.open(out / name, "w", **{**profile, "width": profile["width"] - columns}) as dst:
            dst.write(data[:, :, :-columns])
    return out
