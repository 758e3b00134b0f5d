"""Sentinel-1 backscatter of a land-cover map: class signature + texture + gamma speckle, in dB.

Signatures (VV, VH in dB) follow typical C-band values for Sentinel-1 IW GRD: calm open water is
specular (-20 to -25 dB VV), towns are bright from double bounce (0 to -5 dB), forests moderate
from volume scattering, fields in between depending on biomass and roughness; VH is 5.5-6 dB below
VV for dense canopies (volume scattering depolarises) and ~10 dB for bare soil, the cross-polarisation
ratio that radar crop maps rely on. Speckle is fully developed: the linear intensity is multiplied by a unit-mean gamma variate
with L = 4.4 looks, the equivalent number of looks of IW GRD high-resolution products
(ESA Sentinel-1 User Handbook, Table "GRD product characteristics"), then converted to dB and
capped at 0 dB, as the SEN12MS-CR release is (both genuine fixtures peak at exactly 0 dB).
"""

from __future__ import annotations

import numpy as np

from sarclear.data.synthetic.landcover import LandCover, LandcoverMap

#: Backscatter range (dB) over a field's vigour 0..1, for vegetation and bare soil.
VIGOUR_DB = 3.0
VIGOUR_CLASSES = (LandCover.FOREST, LandCover.CROP_GREEN, LandCover.CROP_RIPE, LandCover.GRASS, LandCover.BARE)
#: ENL of Sentinel-1 IW GRD-HR (ESA Sentinel-1 User Handbook).
LOOKS = 4.4

#: (VV, VH) dB per LandCover value, for a growing season (summer) ...
_SIGNATURE_GROWING = np.array(
    [
        (-22.0, -29.0),  # water
        (-7.5, -13.0),  # forest
        (-8.5, -14.5),  # green crop
        (-11.0, -18.5),  # ripe cereal
        (-12.0, -20.0),  # grass
        (-13.5, -24.0),  # bare soil
        (-3.0, -9.5),  # built-up
        (-17.0, -24.5),  # road (smooth asphalt: little return)
    ],
    np.float32,
)
#: ... and for dormant vegetation (winter): harvested fields look like soil, leafless forest dims.
_SIGNATURE_DORMANT = np.array(
    [
        (-21.5, -28.5),
        (-8.5, -15.0),
        (-13.0, -22.0),
        (-13.5, -22.0),
        (-12.5, -20.5),
        (-13.0, -23.5),
        (-3.0, -9.5),
        (-17.0, -24.5),
    ],
    np.float32,
)


def signature_db(dormancy: float) -> np.ndarray:
    """`(N_CLASSES, 2)` VV, VH dB for a season, `dormancy` 0 (summer) .. 1 (deep winter)."""
    return (1 - dormancy) * _SIGNATURE_GROWING + dormancy * _SIGNATURE_DORMANT


def render_s1(land: LandcoverMap, dormancy: float, texture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`(2, H, W)` float32 VV, VH in dB.

    `texture` is a unit-variance field (within-class variation, +-0.5 dB); each field's vigour
    adds up to +-1.5 dB (more biomass, more volume scattering; wetter soil), the same vigour that
    makes it greener (or, for soil, darker) in the optical image (`optical.vigour_gain`).
    """
    mean_db = signature_db(dormancy)[land.classes]  # (H, W, 2)
    responds = np.isin(land.classes, VIGOUR_CLASSES)  # water, roads and roofs have no vigour
    vigour_db = np.where(responds, VIGOUR_DB * (land.vigour - 0.5), 0.0)
    mean_db = np.moveaxis(mean_db, -1, 0) + (vigour_db + 0.5 * texture)[None]
    speckle = rng.gamma(LOOKS, 1.0 / LOOKS, size=mean_db.shape).astype(np.float32)
    intensity = np.power(np.float32(10.0), mean_db / 10.0) * speckle
    return np.minimum(10.0 * np.log10(np.maximum(intensity, 1e-6)), 0.0).astype(np.float32)
