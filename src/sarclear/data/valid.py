"""Which pixels hold data: the one rule curate, the dataset, the L1 loss, the metrics and predict share.

A pixel is **invalid** when any image given for it says so. The test is one formula for both
sensors (not every band 0, not every band the declared nodata, every band finite); why it is the
right one for each:

* **S2 (optical), `(bands, H, W)` DN**
  - every band is 0: the fill value of SEN12MS-CR and of Level-1C/2A products outside the
    swath (the product metadata's `Special_Values`: NODATA = 0; SEN12MS-CR keeps those pixels as
    they are). A genuine surface is not 0 in every band at once, so all-zero is fill, whatever
    the file declares;
  - every band equals the file's declared nodata (GDAL's nodata tag), when one is set. "Every
    band" rather than GDAL's per-band reading, because a genuine pixel can reach the value in one
    band (a saturated band at 65535, the product's SATURATED value, in a file declaring 65535 as
    nodata) and is still a measurement in the others;
  - any band is NaN or infinite: float exports (reflectance 0..1, resampled VRTs) mark holes so.
* **S1 (SAR), `(2, H, W)` VV, VH in dB**
  - **both** polarisations exactly 0.0: the GRD border fill (0 in linear power) as it appears in
    the dB files we see. One band at exactly 0.0 dB is *not* fill: SEN12MS-CR clips strong
    reflectors at 0 dB, and genuine patches have up to 1.3 % of pixels at exactly 0 in one band
    (checked on the project's real scenes, `shared/data/real-scenes/SOURCE.md`);
  - both polarisations equal the declared nodata (same reason: a declared 0 must not drop the
    clipped pixels);
  - either polarisation is NaN or infinite (NaN is what a reprojecting reader writes where S1 does
    not reach; -inf is 10 log10 of a linear 0).

Pure numpy, no files: the callers read the rasters and pass the declared nodata along.
"""

from __future__ import annotations

import numpy as np


def _nodata_value(nodata: float | None) -> float | None:
    """The declared nodata worth testing: a NaN nodata is already caught by the finiteness test."""
    if nodata is None or not np.isfinite(nodata):
        return None
    return float(nodata)


def _finite(stack: np.ndarray) -> np.ndarray:
    if not np.issubdtype(stack.dtype, np.floating):
        return np.ones(stack.shape[1:], dtype=bool)
    return np.all(np.isfinite(stack), axis=0)


def _holds_data(stack: np.ndarray, nodata: float | None) -> np.ndarray:
    """Not every band 0, not every band the declared nodata, every band finite: S1 and S2 alike."""
    valid = np.any(stack != 0, axis=0) & _finite(stack)
    declared = _nodata_value(nodata)
    if declared is not None and declared != 0:
        valid &= np.any(stack != declared, axis=0)
    return valid


def valid_pixels(
    s2: np.ndarray | None = None,
    s1: np.ndarray | None = None,
    *,
    s2_nodata: float | None = None,
    s1_nodata: float | None = None,
) -> np.ndarray:
    """`(H, W)` bool, True where the given S2 `(bands, H, W)` DN and S1 `(2, H, W)` dB both hold data.

    Either image may be left out (curate measures each file on its own); several S2 images of one
    grid (a cloudy input and its target) are combined with `&` by the caller, each with its own
    declared nodata. The rules and their sources are in the module docstring.
    """
    if s2 is None and s1 is None:
        raise ValueError("valid_pixels needs an S2 or an S1 array")
    valid = _holds_data(np.asarray(s2), s2_nodata) if s2 is not None else None
    if s1 is not None:
        s1 = np.asarray(s1)
        if s1.ndim != 3 or s1.shape[0] != 2:
            raise ValueError(f"S1 must be (2, H, W) VV, VH; got shape {s1.shape}")
        sar = _holds_data(s1, s1_nodata)
        if valid is not None and valid.shape != sar.shape:
            raise ValueError(f"S2 and S1 grids differ: {valid.shape} and {sar.shape}")
        valid = sar if valid is None else valid & sar
    return valid
