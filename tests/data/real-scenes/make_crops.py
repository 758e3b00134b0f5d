"""Cut the small genuine crops under tests/data/real-scenes/ from ../shared/data/real-scenes/.

Run from the repository root: `python tests/data/real-scenes/make_crops.py [SHARED_REAL_SCENES]`.
Every band file is cropped on its OWN grid (whole native pixels covering the 10 m crop, plus one
pixel of margin), so the fractional offsets between the 10, 20 and 60 m grids of the originals are
kept exactly: that is what the product readers must handle. Pixel values, CRS, names and folder
layout are untouched. Deterministic.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import rasterio
from rasterio.windows import Window, from_bounds

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2].parent / "shared" / "data" / "real-scenes"

_SSL4EO_B4 = "ssl4eo-s12/s2c/0000200/20200823T054639_20200823T055618_T43RCP/B4.tif"
#: (source folder relative to the shared root, 10 m reference band file (relative to the shared root),
#: crop as (col, row, size) in the reference's pixels). S1 is cut to the S2 crop's bounds (plus margin).
CROPS: list[tuple[str, str, tuple[int, int, int]]] = [
    ("ssl4eo-s12/s2c/0000200/20200823T054639_20200823T055618_T43RCP", _SSL4EO_B4, (96, 96, 96)),
    ("ssl4eo-s12/s2c/0000200/20200604T054639_20200604T054831_T43RCP", _SSL4EO_B4, (96, 96, 96)),
    ("ssl4eo-s12/s2a/0000200/20200813T054639_20200813T054952_T43RCP", _SSL4EO_B4, (96, 96, 96)),
    ("ssl4eo-s12/s1/0000200/S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457", _SSL4EO_B4, (92, 92, 104)),
    (
        "major-tom-l2a/0U/0U_199R/S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419",
        "major-tom-l2a/0U/0U_199R/S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419/B04.tif",
        (480, 480, 96),
    ),
    (
        "major-tom-l2a/199U/199U_1099R/S2B_MSIL2A_20200223T032739_N9999_R018_T48QUE_20230924T183543",
        "major-tom-l2a/199U/199U_1099R/S2B_MSIL2A_20200223T032739_N9999_R018_T48QUE_20230924T183543/B04.tif",
        (480, 480, 96),
    ),
]
#: Copied whole (already small): one BigEarthNet S1 + S2 pair in the archive's own layout.
WHOLE: list[str] = [
    "bigearthnet-v1/BigEarthNet-S1-Example/S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48",
    "bigearthnet-v1/BigEarthNet-S2-Example/S2A_MSIL2A_20170613T101031_87_48",
    "bigearthnet-v1/BigEarthNet-S2-Example/S2B_MSIL2A_20180204T94161_57_38",
]


def crop_folder(src_dir: Path, dst_dir: Path, reference: Path, crop: tuple[int, int, int]) -> None:
    col, row, size = crop
    with rasterio.open(reference) as ref:
        bounds = rasterio.windows.bounds(Window(col, row, size, size), ref.transform)
    dst_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(src_dir.glob("*.tif")):
        with rasterio.open(path) as src:
            win = from_bounds(*bounds, transform=src.transform)
            c0, r0 = max(0, math.floor(win.col_off) - 1), max(0, math.floor(win.row_off) - 1)
            c1 = min(src.width, math.ceil(win.col_off + win.width) + 1)
            r1 = min(src.height, math.ceil(win.row_off + win.height) + 1)
            window = Window(c0, r0, c1 - c0, r1 - r0)
            data = src.read(window=window)
            profile = src.profile.copy()
            profile.update(width=window.width, height=window.height, transform=src.window_transform(window), compress="deflate")
            for key in ("blockxsize", "blockysize", "tiled"):
                profile.pop(key, None)
        with rasterio.open(dst_dir / path.name, "w", **profile) as dst:
            dst.write(data)


def main(source: Path) -> None:
    for rel, reference, crop in CROPS:
        crop_folder(source / rel, HERE / rel, source / reference, crop)
    for rel in WHOLE:
        target = HERE / rel
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source / rel, target)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
