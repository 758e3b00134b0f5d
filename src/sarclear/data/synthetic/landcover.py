"""A procedural landscape: fields, forest, water, roads and built-up blocks, as a class map.

The class map is the hidden truth both sensors see: the SAR and optical renderers turn each class
into backscatter and reflectance. That shared cause is what makes SAR-optical fusion learnable on
synthetic data: under an opaque cloud only the SAR still shows where the river or the town is,
and the class seen in SAR determines the clear colour.

Scales are in pixels of 10 m (SEN12MS-CR's grid): fields 15-60 px (150-600 m), roads 2 px,
rivers 3-8 px, lakes and forests hundreds of metres, towns a few city blocks of 20 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from sarclear.data.synthetic.noise import fractal, hash_uniform, sub_seed


class LandCover(IntEnum):
    """Land-cover classes; the value indexes the SAR and optical signature tables."""

    WATER = 0
    FOREST = 1
    CROP_GREEN = 2  # leafy crop (maize, beet): dense green canopy in summer
    CROP_RIPE = 3  # cereal near harvest: yellow, drier
    GRASS = 4
    BARE = 5  # ploughed soil
    BUILT = 6
    ROAD = 7


N_CLASSES = len(LandCover)
_FIELD_CLASSES = np.array([LandCover.CROP_GREEN, LandCover.CROP_RIPE, LandCover.GRASS, LandCover.BARE], np.uint8)
#: Street grid of built-up areas in px (a 200 m block, a 20 m street).
_BLOCK_PX, _STREET_PX = 20.0, 2.0
_ROAD_PX = 2.0


@dataclass(frozen=True)
class LandscapeParams:
    """Everything random about a landscape; the map itself is evaluated lazily on any window."""

    seed: int
    angle: float  # orientation of the field grid, radians
    parcel_w: float  # field size across / along, px
    parcel_h: float
    road_every: int  # a road runs along every n-th field boundary
    field_probs: tuple[float, float, float, float]  # shares of CROP_GREEN, CROP_RIPE, GRASS, BARE
    forest_level: float  # thresholds on unit-variance fractal fields (higher = rarer)
    urban_level: float
    lake_level: float
    river: bool
    river_angle: float
    river_offset: float  # px from the origin, across the river's direction
    river_amp: float
    river_wavelength: float
    river_phase: float
    river_width: float


@dataclass(frozen=True)
class LandcoverMap:
    """`classes` `(H, W)` uint8 LandCover values; `vigour` `(H, W)` float32 in [0, 1], per field."""

    classes: np.ndarray
    vigour: np.ndarray


def draw_landscape(rng: np.random.Generator, extent: tuple[int, int]) -> LandscapeParams:
    """Random landscape parameters; a river, when present, crosses the `(height, width)` extent."""
    height, width = extent
    angle = rng.uniform(0, math.pi)
    river_angle = rng.uniform(0, math.pi)
    centre = height / 2 * math.cos(river_angle) - width / 2 * math.sin(river_angle)  # `across` of the middle
    probs = rng.dirichlet([3.0, 2.0, 2.0, 1.5])
    return LandscapeParams(
        seed=int(rng.integers(2**62)),
        angle=angle,
        parcel_w=rng.uniform(15, 60),
        parcel_h=rng.uniform(15, 60),
        road_every=int(rng.integers(3, 7)),
        field_probs=tuple(float(p) for p in probs),  # type: ignore[arg-type]
        forest_level=rng.uniform(0.4, 1.3),
        urban_level=rng.uniform(1.1, 2.2),
        lake_level=rng.uniform(1.5, 2.5),
        river=bool(rng.random() < 0.5),
        river_angle=river_angle,
        river_offset=centre + rng.uniform(-0.3, 0.3) * min(height, width),
        river_amp=rng.uniform(5, 40),
        river_wavelength=rng.uniform(150, 600),
        river_phase=rng.uniform(0, 2 * math.pi),
        river_width=rng.uniform(3, 8),
    )


def _rotate(ys: np.ndarray, xs: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    y, x = ys[:, None], xs[None, :]
    c, s = math.cos(angle), math.sin(angle)
    return x * c + y * s, -x * s + y * c


def _fields(p: LandscapeParams, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Field classes, per-field vigour and the road network of a rotated, staggered field grid."""
    u, v = _rotate(ys, xs, p.angle)
    column = np.floor(u / p.parcel_w)
    stagger = hash_uniform(p.seed, column, -1) * p.parcel_h  # rows do not line up across columns
    row = np.floor((v + stagger) / p.parcel_h)
    draw = hash_uniform(p.seed, column, row)
    classes = _FIELD_CLASSES[np.searchsorted(np.cumsum(p.field_probs)[:-1], draw)]
    vigour = hash_uniform(p.seed + 1, column, row).astype(np.float32)
    roads = (np.mod(column, p.road_every) == 0) & (u - column * p.parcel_w < _ROAD_PX)
    return classes, vigour, roads


def _town(p: LandscapeParams, ys: np.ndarray, xs: np.ndarray, urban: np.ndarray) -> np.ndarray:
    """Inside urban areas: a street grid around built blocks, one block in eight a park."""
    u, v = _rotate(ys, xs, p.angle + 0.2)
    streets = (np.mod(u, _BLOCK_PX) < _STREET_PX) | (np.mod(v, _BLOCK_PX) < _STREET_PX)
    park = hash_uniform(p.seed + 2, np.floor(u / _BLOCK_PX), np.floor(v / _BLOCK_PX)) < 0.125
    town = np.where(streets, LandCover.ROAD, np.where(park, LandCover.GRASS, LandCover.BUILT)).astype(np.uint8)
    return np.where(urban, town, 255).astype(np.uint8)


def _river(p: LandscapeParams, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    along, across = _rotate(ys, xs, p.river_angle)
    phase = 2 * math.pi * along / p.river_wavelength + p.river_phase
    centre = p.river_offset + p.river_amp * (np.sin(phase) + 0.3 * np.sin(2.7 * phase + 1.0))
    return np.abs(across - centre) < p.river_width / 2


def landcover(p: LandscapeParams, ys: np.ndarray, xs: np.ndarray) -> LandcoverMap:
    """The class map on the pixel grid `ys x xs` (layers painted bottom to top: fields, forest,
    town, roads, water)."""
    classes, vigour, roads = _fields(p, ys, xs)
    forest = fractal(sub_seed(p.seed, 1), ys, xs, cell=96, octaves=5) > p.forest_level
    classes = np.where(forest, np.uint8(LandCover.FOREST), classes)
    urban = fractal(sub_seed(p.seed, 2), ys, xs, cell=128, octaves=3) > p.urban_level
    town = _town(p, ys, xs, urban)
    classes = np.where(urban, town, classes)
    classes = np.where(roads & ~urban, np.uint8(LandCover.ROAD), classes)
    water = fractal(sub_seed(p.seed, 3), ys, xs, cell=160, octaves=4) > p.lake_level
    if p.river:
        water |= _river(p, ys, xs)
    classes = np.where(water, np.uint8(LandCover.WATER), classes).astype(np.uint8)
    return LandcoverMap(classes=classes, vigour=vigour)
