"""Read full-width strips of rows from the checked inputs: S2 bands, S1 on the S2 grid, a mask.

The files stay open for the whole run; S1 on another grid is read through a `WarpedVRT` onto the
S2 grid (bilinear), so reprojection is done strip by strip and never holds the whole scene.
Values come back in physical units (S2 DN, S1 dB with NaN where there is no data).
"""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from sarclear.data.valid import valid_pixels
from sarclear.errors import RasterError
from sarclear.io.geotiff import read_averaged
from sarclear.predict.scene import SceneInputs


class SceneReader:
    """`with SceneReader(inputs) as reader: reader.s2(r0, r1, bands)` and so on, rows `r0 <= r < r1`."""

    def __init__(self, inputs: SceneInputs) -> None:
        self.inputs = inputs
        self._stack = contextlib.ExitStack()
        self._s2 = self._s1 = self._mask = self._scl = None
        # Reads and the closing of the datasets take this lock, and no read starts once closed: a
        # read-ahead thread caught by Ctrl-C / SIGTERM must never call GDAL on a closed dataset
        # (that crashed the process). Reads never overlap by design, so it is never contended.
        self._io = threading.Lock()
        self._closed = False

    def __enter__(self) -> SceneReader:  # noqa: PYI034 (Self needs Python 3.11)
        inputs = self.inputs
        self._s2 = self._stack.enter_context(rasterio.open(inputs.s2.dataset))
        if inputs.s1 is not None:
            s1 = self._stack.enter_context(rasterio.open(inputs.s1.dataset))
            if inputs.s1_warp:
                s1 = self._stack.enter_context(
                    WarpedVRT(
                        s1,
                        crs=inputs.s2.crs,
                        transform=inputs.s2.transform,
                        width=inputs.s2.width,
                        height=inputs.s2.height,
                        resampling=Resampling.bilinear,
                        dtype="float32",
                        nodata=np.nan,
                    )
                )
            self._s1 = s1
        if inputs.mask is not None:
            self._mask = self._stack.enter_context(rasterio.open(inputs.mask.dataset))
        if inputs.scl is not None:  # classes, so nearest: 20 m onto the 10 m grid, one class per 2 x 2
            scl = self._stack.enter_context(rasterio.open(inputs.scl))
            self._scl = self._stack.enter_context(WarpedVRT(scl, crs=inputs.s2.crs, transform=inputs.s2.transform,
                                                            width=inputs.s2.width, height=inputs.s2.height,
                                                            resampling=Resampling.nearest, nodata=0))  # fmt: skip
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with self._io:
            self._closed = True
            self._stack.close()

    def _read(
        self, src: rasterio.DatasetReader, path: object, bands: tuple[int, ...], r0: int, r1: int, cols: tuple[int, int] | None = None
    ) -> np.ndarray:
        c0, c1 = cols if cols is not None else (0, self.inputs.s2.width)
        try:
            with self._io:
                if self._closed:
                    raise RuntimeError(f"{path}: read after the scene reader was closed")
                return src.read(list(bands), window=Window(c0, r0, c1 - c0, r1 - r0))
        except RasterioError as exc:
            raise RasterError(str(path), f"corrupt or truncated TIFF, pixels unreadable: {str(exc).splitlines()[0]}") from exc

    def s2(self, r0: int, r1: int, bands: tuple[int, ...], cols: tuple[int, int] | None = None) -> np.ndarray:
        """`(len(bands), r1 - r0, width)` S2 digital numbers as stored (usually uint16); `cols` = (c0, c1) narrows it."""
        return self._read(self._s2, self.inputs.s2.path, bands, r0, r1, cols)

    def s2_decimated(self, bands: tuple[int, ...], max_px: int) -> np.ndarray:
        """The whole scene's `bands`, block-averaged to at most `max_px` on the longer side (for scene statistics)."""
        height, width = self.inputs.shape
        factor = max(1, -(-max(height, width) // max_px))
        with self._io:
            return read_averaged(self._s2, self.inputs.s2.path, bands, (-(-height // factor), -(-width // factor)))

    def s1(self, r0: int, r1: int) -> np.ndarray:
        """`(2, r1 - r0, width)` float32 VV, VH in dB, NaN where S1 has no data (or does not reach).

        No data is `sarclear.data.valid`'s rule: a pixel whose two bands are both the declared
        nodata or both exactly 0 dB; one band at 0 dB is SEN12MS-CR's clipping and stays.
        """
        if self._s1 is None or self.inputs.s1 is None:
            raise RuntimeError("this scene was opened without S1")
        values = self._read(self._s1, self.inputs.s1.path, self.inputs.s1_bands, r0, r1).astype(np.float32)
        values[:, ~valid_pixels(s1=values, s1_nodata=self.inputs.s1.nodata)] = np.nan  # both bands, not one
        return values

    def scl(self, r0: int, r1: int, cols: tuple[int, int] | None = None) -> np.ndarray:
        """`(r1 - r0, width)` uint8 Scene Classification classes on the S2 grid (0 where it has none)."""
        if self._scl is None or self.inputs.scl is None:
            raise RuntimeError("this scene has no scene classification layer")
        return self._read(self._scl, self.inputs.scl, (1,), r0, r1, cols)[0]

    def mask(self, r0: int, r1: int, cols: tuple[int, int] | None = None) -> np.ndarray:
        """`(r1 - r0, width)` bool cloud mask from the `--mask` file (nonzero = cloud)."""
        if self._mask is None or self.inputs.mask is None:
            raise RuntimeError("this scene was opened without a mask file")
        return self._read(self._mask, self.inputs.mask.path, (1,), r0, r1, cols)[0] != 0
