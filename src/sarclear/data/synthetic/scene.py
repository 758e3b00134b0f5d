"""One synthetic acquisition: a landscape seen by S1, by a clear S2 pass and by a cloudy S2 pass.

`render_window` evaluates any window of a scene; every random field is counter-based (see
`noise.py`) and per-pixel randomness comes from a generator the caller seeds per window, so a
tile is a true window of its scene's landscape and a large scene can be rendered strip by strip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarclear.data.synthetic import clouds
from sarclear.data.synthetic.landcover import (
    LandCover,
    LandscapeParams,
    draw_landscape,
    landcover,
)
from sarclear.data.synthetic.noise import fractal, sub_seed
from sarclear.data.synthetic.optical import render_ground
from sarclear.data.synthetic.sar import render_s1
from sarclear.errors import ConfigError

#: Season -> (dormancy 0..1, illumination relative to summer). Dormancy mixes the growing and
#: dormant signature tables; illumination mimics the sun elevation at ~45-50 deg N.
SEASON_LOOK: dict[str, tuple[float, float]] = {
    "spring": (0.35, 0.85),
    "summer": (0.0, 1.0),
    "fall": (0.6, 0.75),
    "winter": (0.9, 0.5),
}
#: Rows rendered at once; also the unit of per-pixel randomness, so results do not depend on
#: whether a scene is rendered whole (`make_scene`) or streamed (`write_scene`).
STRIP_ROWS = 256


@dataclass(frozen=True)
class SceneSpec:
    """Everything random about one scene, drawn once; pixels are rendered from it on demand."""

    season: str
    seed: int
    landscape: LandscapeParams
    clouds: clouds.CloudParams
    snow_level: float | None  # threshold on a unit fractal field; None: no snow
    cloudy_gain: float  # radiometric difference between the clear and the cloudy date


def check_season(season: str) -> str:
    if season not in SEASON_LOOK:
        raise ConfigError(f"unknown season {season!r}; expected one of {', '.join(SEASON_LOOK)}")
    return season


def _coords(start: int, length: int) -> np.ndarray:
    return np.arange(start, start + length, dtype=np.float64)


def _calibration_grid(start: int, length: int) -> np.ndarray:
    """Every pixel up to 512, else a strided sample of ~512 positions (cover exact to ~0.5 %)."""
    step = max(1, length // 512)
    return _coords(start, length)[::step]


def draw_scene_spec(
    season: str,
    seed: int,
    window: tuple[int, int, int, int],
    *,
    cloud_cover: float | None = None,
    landscape: LandscapeParams | None = None,
    snow: bool = False,
) -> SceneSpec:
    """Draw a scene; `window` `(row, col, height, width)` is where the cloud cover is calibrated
    (and the extent of a new landscape). `cloud_cover` in [0, 1]; None draws it uniformly.
    `snow` adds patchy snow to winter scenes; off by default because snow looks like cloud to the
    RGB cloud test, so a snowy clear target would be a curation reject, not a good tile."""
    check_season(season)
    rng = np.random.default_rng(sub_seed(seed, 0x5CE2E))
    row, col, height, width = window
    land = landscape if landscape is not None else draw_landscape(rng, (height, width))
    cover = rng.uniform(0.0, 1.0) if cloud_cover is None else cloud_cover
    cloud = clouds.draw_clouds(rng, cover)
    cloud = clouds.calibrate(cloud, _calibration_grid(row, height), _calibration_grid(col, width))
    snow_level = rng.uniform(1.0, 2.0)  # drawn always, so the flag does not shift later draws
    return SceneSpec(
        season=season,
        seed=seed,
        landscape=land,
        clouds=cloud,
        snow_level=snow_level if snow and season == "winter" else None,
        cloudy_gain=rng.uniform(0.95, 1.05),
    )


def _snow(spec: SceneSpec, ys: np.ndarray, xs: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """Patchy snow fraction on open land (water, roads and roofs stay clear)."""
    if spec.snow_level is None:
        return None
    field = fractal(sub_seed(spec.seed, 7), ys, xs, cell=64, octaves=4)
    fraction = np.clip(0.5 * (field - spec.snow_level), 0.0, 0.3).astype(np.float32)
    open_land = ~np.isin(classes, [LandCover.WATER, LandCover.ROAD, LandCover.BUILT])
    return fraction * open_land


def _to_dn(values: np.ndarray) -> np.ndarray:
    """Float DN -> uint16, never 0 (0 is SEN12MS-CR's no-data value)."""
    return np.clip(np.rint(values), 1, 65535).astype(np.uint16)


def render_window(
    spec: SceneSpec, row: int, col: int, height: int, width: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The arrays of a window: `s1` (2,H,W) float32 dB, `s2_cloudy`/`s2` (13,H,W) uint16 DN,
    `cloud_opacity` (H,W) float32 in [0, 1]."""
    ys, xs = _coords(row, height), _coords(col, width)
    dormancy, illumination = SEASON_LOOK[spec.season]
    land = landcover(spec.landscape, ys, xs)
    texture = fractal(sub_seed(spec.landscape.seed, 9), ys, xs, cell=24, octaves=3)
    s1 = render_s1(land, dormancy, texture, rng)
    ground = render_ground(land, dormancy, illumination, texture, rng, _snow(spec, ys, xs, land.classes))
    alpha = clouds.opacity(spec.clouds, ys, xs)
    shade = clouds.shadow(spec.clouds, ys, xs)
    cloudy = clouds.composite(ground * spec.cloudy_gain, alpha, shade, spec.clouds)
    return {"s1": s1, "s2_cloudy": _to_dn(cloudy), "s2": _to_dn(ground), "cloud_opacity": alpha}


def strip_rng(seed: int, strip: int) -> np.random.Generator:
    """Per-pixel randomness of one strip of `STRIP_ROWS` rows of a scene."""
    return np.random.default_rng(sub_seed(seed, 0x57, strip))


def make_scene(
    size: int | tuple[int, int],
    *,
    season: str = "summer",
    seed: int = 0,
    cloud_cover: float | None = None,
    snow: bool = False,
) -> dict[str, np.ndarray]:
    """A whole scene in memory: `{'s1', 's2_cloudy', 's2', 'cloud_opacity'}` (see `render_window`).

    `cloud_cover` is the wanted share (0..1) of the cloudy image with opacity > 0.5; None draws
    it uniformly. The same seed gives the same landscape in every season.
    """
    height, width = (size, size) if isinstance(size, int) else size
    spec = draw_scene_spec(season, seed, (0, 0, height, width), cloud_cover=cloud_cover, snow=snow)
    parts = [
        render_window(spec, top, 0, min(STRIP_ROWS, height - top), width, strip_rng(seed, top // STRIP_ROWS))
        for top in range(0, height, STRIP_ROWS)
    ]
    return {key: np.concatenate([p[key] for p in parts], axis=-2) for key in parts[0]}
