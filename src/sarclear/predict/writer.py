"""The files a prediction writes: the RGB COG, optionally the mask COG, the uncertainty COG and an 8-bit quick-look.

All of them appear together at the very end or not at all: rows stream into hidden work GeoTIFFs,
which become COGs under temporary names, which are renamed onto the requested names only when the
whole run has succeeded (`atomic_output`). A failure at any point leaves no output file behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sarclear.data.bands import RGB_NAMES
from sarclear.io.atomic import atomic_output
from sarclear.io.cog import BlockRowWriter, gtiff_to_cog, open_work_gtiff, work_path
from sarclear.io.geotiff import RasterInfo, read_decimated
from sarclear.report.render import optical_rgb

#: Output nodata: 0 DN, the fill value of Sentinel-2 L1C products and SEN12MS-CR.
OUTPUT_NODATA: int = 0
#: Mask values: 1 cloud, 2 cloud shadow (model used for both), 0 clear (observed kept), 255 no data.
MASK_CLOUD, MASK_SHADOW, MASK_CLEAR, MASK_NODATA = 1, 2, 0, 255
#: Longest side of the quick-look in pixels; larger scenes are read from the COG's overviews.
QUICKLOOK_MAX_PX: int = 4096
#: Uncertainty nodata: NaN (a standard deviation is never negative, but NaN is what GDAL tools expect of floats).
STD_NODATA: float = float("nan")
STD_NAMES: tuple[str, ...] = tuple(f"{name}_std" for name in RGB_NAMES)
QUICKLOOK_FORMATS: dict[str, tuple[str, str]] = {"png": (".png", "PNG"), "jpeg": (".jpg", "JPEG"), "jpg": (".jpg", "JPEG")}


def output_dn(dn: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Float DN -> uint16 with nodata 0 outside `valid`; valid pixels are kept >= 1 so none reads as nodata."""
    out = np.clip(np.rint(dn), 1, np.iinfo(np.uint16).max).astype(np.uint16)
    out[:, ~valid] = OUTPUT_NODATA
    return out


def std_values(std: np.ndarray, valid: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """`(3, H, W)` float32 standard deviation in DN, NaN outside `valid`; scaled by the composite's
    `alpha` when given (0 where the observed pixel is kept: `alpha * model + (1 - alpha) * observed`
    has `alpha` times the model's spread)."""
    out = std.astype(np.float32) if alpha is None else (std * alpha[None]).astype(np.float32)
    out[:, ~valid] = STD_NODATA
    return out


def mask_values(mask: np.ndarray, valid: np.ndarray, shadow: np.ndarray | None = None) -> np.ndarray:
    """`(1, H, W)` uint8: 1 cloud, 2 cloud shadow, 0 clear, 255 where the input has no data."""
    out = np.where(mask, MASK_CLOUD, MASK_CLEAR).astype(np.uint8)
    if shadow is not None:
        out[shadow & ~mask] = MASK_SHADOW
    out[~valid] = MASK_NODATA
    return out[None]


def quicklook_path(out: str | Path, fmt: str) -> Path:
    """`OUT.png` / `OUT.jpg` beside `OUT.tif`."""
    return Path(out).with_suffix(QUICKLOOK_FORMATS[fmt.lower()][0])


@dataclass
class Writers:
    out: BlockRowWriter
    mask: BlockRowWriter | None
    std: BlockRowWriter | None = None

    def add_tags(self, tags: dict[str, str]) -> None:
        """Tags known only once every row is written (the mask's shares), into every output."""
        for writer in (self.out, self.mask, self.std):
            if writer is not None:
                writer.dst.update_tags(**tags)


@contextlib.contextmanager
def scene_outputs(
    out: Path,
    grid: RasterInfo,
    *,
    mask_out: Path | None = None,
    std_out: Path | None = None,
    quicklook: str | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[Writers]:
    """Writers for the output rows (and mask and uncertainty rows) on `grid`'s CRS, transform and size;
    see module doc. `tags` (provenance: source, level, offset, model, engine) go into the output's and
    the uncertainty's GeoTIFF metadata."""
    geo = {"height": grid.height, "width": grid.width, "crs": grid.crs, "transform": grid.transform}
    works = [work_path(out)] + ([work_path(mask_out)] if mask_out else []) + ([work_path(std_out)] if std_out else [])
    with contextlib.ExitStack() as finals:
        tmp_out = finals.enter_context(atomic_output(out))
        tmp_mask = finals.enter_context(atomic_output(mask_out)) if mask_out else None
        tmp_std = finals.enter_context(atomic_output(std_out)) if std_out else None
        tmp_look = finals.enter_context(atomic_output(quicklook_path(out, quicklook))) if quicklook else None
        try:
            with contextlib.ExitStack() as open_works:
                rgb = open_works.enter_context(
                    open_work_gtiff(works[0], count=3, dtype="uint16", nodata=OUTPUT_NODATA, descriptions=RGB_NAMES, tags=tags, **geo)
                )
                mask = (
                    open_works.enter_context(open_work_gtiff(works[1], count=1, dtype="uint8", nodata=MASK_NODATA, descriptions=("cloud_shadow",), **geo))
                    if mask_out
                    else None
                )
                std = (
                    open_works.enter_context(
                        open_work_gtiff(works[-1], count=3, dtype="float32", nodata=STD_NODATA, descriptions=STD_NAMES, tags=tags, **geo)
                    )
                    if std_out
                    else None
                )
                yield Writers(rgb, mask, std)
            gtiff_to_cog(works[0], tmp_out)
            if tmp_mask is not None:
                gtiff_to_cog(works[1], tmp_mask, resampling="nearest")
            if tmp_std is not None:
                gtiff_to_cog(works[-1], tmp_std)
            if tmp_look is not None and quicklook is not None:
                write_quicklook(tmp_out, tmp_look, QUICKLOOK_FORMATS[quicklook.lower()][1])
        finally:
            for work in works:
                with contextlib.suppress(FileNotFoundError):
                    work.unlink()


def write_quicklook(cog: Path, path: Path, image_format: str, max_px: int = QUICKLOOK_MAX_PX) -> Path:
    """An 8-bit RGB picture of a DN COG (`report/render.py`, as every picture), at most `max_px` on a side."""
    Image.fromarray(optical_rgb(read_decimated(cog, max_px))).save(path, format=image_format)
    return path
