"""Sentinel-2 L1C top-of-atmosphere digital numbers (reflectance x 10000) of a land-cover map.

Surface reflectance spectra per class are typical library values (USGS Spectral Library v7 style
shapes: vegetation with low red, red edge and high NIR B8; water low everywhere and lowest in the
NIR/SWIR; soil rising with wavelength; concrete grey-bright). Top of atmosphere adds the path
radiance that makes L1C B1/B2 of dark targets ~1000-1500 DN (as in the genuine fixtures in
tests/data/sen12mscr-real), and B9/B10 are absorption bands: B9 (water vapour) keeps ~35 % of the
surface signal, B10 (cirrus, 1375 nm) sees almost no surface, only high cloud.

Seasons mix a growing-season and a dormant table and dim the illumination (low winter sun), which
is why winter tiles are brown/grey and low in contrast, as in SEN12MS-CR.
"""

from __future__ import annotations

import numpy as np

from sarclear.data.synthetic.landcover import LandCover, LandcoverMap

#: Band order B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B10 B11 B12 (SEN12MS-CR); surface reflectance x 10000.
_GROWING = np.array(
    [
        [350, 400, 500, 300, 250, 200, 180, 150, 130, 100, 0, 60, 40],  # water
        [200, 250, 450, 250, 700, 2200, 2700, 2900, 3000, 3000, 0, 1400, 600],  # forest
        [250, 300, 650, 300, 1100, 3300, 4000, 4300, 4400, 4400, 0, 2100, 900],  # green crop
        [500, 600, 900, 1100, 1500, 2000, 2300, 2500, 2600, 2600, 0, 3200, 2300],  # ripe cereal
        [350, 400, 800, 500, 1300, 2600, 3000, 3200, 3300, 3300, 0, 2300, 1200],  # grass
        [700, 850, 1200, 1500, 1800, 2000, 2200, 2300, 2400, 2400, 0, 3300, 2700],  # bare soil
        [1100, 1300, 1500, 1700, 1800, 1900, 2000, 2100, 2150, 2150, 0, 2500, 2200],  # built-up
        [700, 800, 900, 1000, 1050, 1100, 1150, 1200, 1200, 1200, 0, 1400, 1300],  # road
    ],
    np.float32,
)
#: Dormant season: fields harvested to soil/stubble, forest and grass brown, all closer together.
_DORMANT = np.array(
    [
        [350, 400, 450, 300, 250, 200, 180, 150, 130, 100, 0, 60, 40],
        [300, 350, 450, 500, 650, 1000, 1150, 1250, 1300, 1300, 0, 1500, 1000],
        [600, 700, 850, 950, 1150, 1350, 1450, 1550, 1600, 1600, 0, 2300, 1900],
        [650, 750, 900, 1000, 1200, 1400, 1500, 1600, 1650, 1650, 0, 2400, 2000],
        [500, 550, 700, 750, 950, 1300, 1450, 1550, 1600, 1600, 0, 2000, 1500],
        [650, 750, 950, 1100, 1300, 1450, 1550, 1650, 1700, 1700, 0, 2500, 2100],
        [900, 1000, 1100, 1200, 1300, 1350, 1400, 1450, 1500, 1500, 0, 1900, 1700],
        [650, 750, 800, 850, 900, 950, 1000, 1050, 1050, 1050, 0, 1200, 1100],
    ],
    np.float32,
)
#: Fresh snow: bright in the visible and NIR, dark in the SWIR (which is how s2cloudless and
#: Sen2Cor tell it from cloud).
_SNOW = np.array([9000, 9000, 9000, 8800, 8600, 8200, 8000, 7800, 7500, 7000, 0, 1000, 700], np.float32)
#: Atmospheric path radiance (DN) and transmittance per band, tuned so the dark targets of the
#: genuine fixtures are reproduced (B1 ~1300-1600 DN, B10 ~10-50 DN).
PATH_DN = np.array([1200, 900, 600, 400, 350, 250, 200, 180, 160, 80, 12, 40, 20], np.float32)
TRANSMITTANCE = np.array([0.85, 0.88, 0.9, 0.92, 0.93, 0.94, 0.95, 0.95, 0.95, 0.35, 0.0, 0.95, 0.95], np.float32)
N_BANDS = 13
#: Per-pixel texture: canopies (forest) are rough, water and roads smooth.
_PIXEL_NOISE = np.array([0.01, 0.08, 0.03, 0.03, 0.03, 0.03, 0.06, 0.02], np.float32)


#: Per-band response to a field's vigour (+-0.5 around the mean): a denser canopy absorbs more red
#: and blue and reflects more NIR (greener); wetter bare soil is darker in every band. The same
#: vigour raises the field's backscatter (`sar.py`: more biomass, or a higher dielectric constant),
#: so within a class as across classes, brighter radar goes with darker red: the physical link
#: that lets SAR say what colour a field under a cloud has.
_CANOPY_RESPONSE = np.array([-0.6, -0.6, 0.2, -0.8, 0.1, 0.4, 0.5, 0.5, 0.5, 0.5, 0.0, -0.5, -0.6], np.float32)
_SOIL_RESPONSE = np.full(13, -0.6, np.float32)
_CANOPY = (LandCover.FOREST, LandCover.CROP_GREEN, LandCover.CROP_RIPE, LandCover.GRASS)


def vigour_gain(land: LandcoverMap, dormancy: float) -> np.ndarray:
    """`(13, H, W)` multiplicative gain from each field's vigour; 1 for water and built surfaces.
    Dormant canopies respond half as much (less green biomass)."""
    v = (land.vigour - 0.5)[None]
    canopy = np.isin(land.classes, _CANOPY)[None]
    soil = (land.classes == LandCover.BARE)[None]
    response = np.where(canopy, (1.0 - 0.5 * dormancy) * _CANOPY_RESPONSE[:, None, None], 0.0)
    response = np.where(soil, _SOIL_RESPONSE[:, None, None], response)
    return (1.0 + response * v).astype(np.float32)


def render_ground(
    land: LandcoverMap,
    dormancy: float,
    illumination: float,
    texture: np.ndarray,
    rng: np.random.Generator,
    snow: np.ndarray | None = None,
) -> np.ndarray:
    """`(13, H, W)` float32 TOA DN of the cloud-free ground.

    `texture` is a unit-variance field (+-5 % brightness), each field's `vigour` changes its
    spectrum (`vigour_gain`; the SAR renderer uses the same vigour), `snow` is an optional `(H, W)`
    snow fraction.
    """
    table = (1 - dormancy) * _GROWING + dormancy * _DORMANT
    gain = 1.0 + 0.05 * texture
    gain = gain * (1.0 + _PIXEL_NOISE[land.classes] * rng.standard_normal(land.classes.shape, np.float32))
    surface = np.moveaxis(table[land.classes], -1, 0) * gain[None] * vigour_gain(land, dormancy)
    if snow is not None:
        surface = surface * (1.0 - snow[None]) + _SNOW[:, None, None] * snow[None]
    path = PATH_DN * illumination
    return (path[:, None, None] + (TRANSMITTANCE * illumination)[:, None, None] * surface).astype(np.float32)
