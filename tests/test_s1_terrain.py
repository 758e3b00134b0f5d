"""Terrain correction in `sarclear prepare-s1 --dem`, on genuine Sentinel-1 backscatter over a made hill.

make_s1_grd.py packs SSL4EO-S12's genuine VV, VH into a GRD product whose ground has a 150 m
hill that its geolocation grid does not know (as a genuine product's tie points know only a
coarse terrain model, sampled every 13-20 km): each radar pixel images the ground `dh / tan(incidence)` nearer in
range. So the genuine backscatter comes back on its genuine grid only when the DEM is given,
and only when its heights are read above the right surface (the ellipsoid, or a geoid that
PROJ converts with its grid: a crop of EGM96 in tests/data/geoid).
"""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.env import PROJDataFinder
from rasterio.transform import from_origin

from sarclear.cli import main
from sarclear.io.lattice import pixel_xy
from tests.helpers import s1_grd_builder

REAL = Path(__file__).parent / "data" / "real-scenes"
NAME = "S1A_IW_GRDH_1SDV_20200607T010800_20200607T010825_032904_03CFBA_D457"
PRODUCT = REAL / "s1-grd" / f"{NAME}.SAFE"
GENUINE_S1 = REAL / "ssl4eo-s12" / "s1" / "0000200" / NAME
LIKE = GENUINE_S1 / "VV.tif"
GEOID = Path(__file__).parent / "data" / "geoid"
HILL_M, HILL_SIGMA_M = 150.0, 400.0
Heights = Callable[[np.ndarray, np.ndarray], np.ndarray]


def truth() -> np.ndarray:
    with rasterio.open(GENUINE_S1 / "VV.tif") as vv, rasterio.open(GENUINE_S1 / "VH.tif") as vh:
        return np.stack([vv.read(1), vh.read(1)])


def scores(image: np.ndarray) -> dict[str, tuple[float, float]]:
    """Per polarisation: (correlation, MAE dB) against the genuine backscatter where the image has data."""
    reference = truth()
    out = {}
    for band, pol in enumerate(("VV", "VH")):
        ok = np.isfinite(image[band])
        out[pol] = (float(np.corrcoef(image[band][ok], reference[band][ok])[0, 1]),
                    float(np.abs(image[band][ok] - reference[band][ok]).mean()))
    return out


def write_dem(path: Path, heights: Heights, nodata_box: bool = False, declare_nodata: bool = True) -> Path:
    """A DEM in EPSG:4326 (about 20 m pixels, as GLO-30 is 30 m) over the genuine grid and a margin."""
    with rasterio.open(LIKE) as src:
        bounds = src.bounds
    res, margin = 0.0002, 0.005
    transform = from_origin(bounds.left - margin, bounds.top + margin, res, res)
    width, height = int((bounds.right - bounds.left + 2 * margin) / res), int((bounds.top - bounds.bottom + 2 * margin) / res)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    lon, lat = pixel_xy(transform, rows, cols)
    values = heights(lon, lat).astype(np.float32)
    if nodata_box:
        values[: height // 2, : width // 2] = -32768.0
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32", crs="EPSG:4326",
                       transform=transform, nodata=-32768.0 if declare_nodata else None) as dst:  # fmt: skip
        dst.write(values[None])
    return path


@contextlib.contextmanager
def tempfile_dem(heights: Heights) -> Iterator[Path]:
    """`write_dem` into a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        yield write_dem(Path(folder) / "dem.tif", heights)


def egm96(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The geoid's height above the ellipsoid from the EGM96 crop, bilinear, read without PROJ (to check PROJ used it)."""
    raw = (GEOID / "egm96_15.gtx").read_bytes()
    lat0, lon0, dlat, dlon = struct.unpack(">4d", raw[:32])
    rows, cols = struct.unpack(">2i", raw[32:40])
    grid = np.frombuffer(raw[40:], dtype=">f4").reshape(rows, cols).astype(np.float64)
    y, x = (np.asarray(lat) - lat0) / dlat, (np.asarray(lon) - lon0) / dlon
    i, j = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - i, x - j
    return (grid[i, j] * (1 - fy) * (1 - fx) + grid[i, j + 1] * (1 - fy) * fx
            + grid[i + 1, j] * fy * (1 - fx) + grid[i + 1, j + 1] * fy * fx)


@pytest.fixture(scope="module")
def hilly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Heights, Path]:
    """(a GRD product of the genuine backscatter over a hill its tie points ignore, the hill's ellipsoidal heights, a folder)."""
    builder = s1_grd_builder()
    db, transform, (lon0, lat0) = builder.read_map(GENUINE_S1)
    hill = builder.gaussian_hill(lon0, lat0, HILL_M, HILL_SIGMA_M)

    folder = tmp_path_factory.mktemp("hilly")
    geometry = builder.Geometry(lon0, lat0, builder.Layout(builder.LINES, builder.SAMPLES))
    return builder.write_from_map(folder / f"{NAME}.SAFE", db, transform, geometry, terrain=hill), hill, folder


def prepare(product: Path, out: Path, *extra: str) -> np.ndarray:
    assert main(["prepare-s1", str(product), "--like", str(LIKE), "--out", str(out), "--quiet", *extra]) == 0
    with rasterio.open(out) as src:
        return src.read()


def test_hilly_ground_comes_back_on_its_grid_only_with_the_dem(hilly, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Measured when written: without the DEM, correlation 0.10 (VV) and 0.14 (VH), MAE 2.5 and 3.2 dB;
    with it 0.975 and 0.971, MAE 0.44 and 0.62 dB, as on flat ground (0.978 and 0.974)."""
    product, hill, folder = hilly
    dem = write_dem(folder / "dem_ellipsoid.tif", hill)
    flat = scores(prepare(product, tmp_path / "no_dem.tif"))
    corrected_image = prepare(product, tmp_path / "corrected.tif", "--dem", str(dem), "--dem-heights", "ellipsoid")
    out = capsys.readouterr().out
    assert "terrain corrected with dem_ellipsoid.tif (heights above the WGS 84 ellipsoid)" in out
    corrected = scores(corrected_image)
    for pol, limit in (("VV", 0.6), ("VH", 0.8)):
        assert flat[pol][0] < 0.5, flat  # up to 24 px off in range on the hill
        assert corrected[pol][0] > 0.95 and corrected[pol][1] < limit, corrected
    assert np.isfinite(corrected_image).mean() > 0.99  # the genuine map's own corner is lost to resampling
    # unshifted: the genuine grid itself correlates best, not a neighbour
    reference, inner = truth()[0], (slice(6, -6), slice(6, -6))
    by_shift = {(dy, dx): np.corrcoef(corrected_image[0][inner].ravel(), np.roll(reference, (dy, dx), (0, 1))[inner].ravel())[0, 1]
                for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert max(by_shift, key=by_shift.get) == (0, 0), by_shift
    with rasterio.open(tmp_path / "corrected.tif") as src:
        tag = src.tags()["SARCLEAR_S1_TERRAIN_CORRECTION"]
    assert tag.startswith("geometric, DEM dem_ellipsoid.tif") and "no radiometric flattening" in tag


def test_a_dem_at_the_tie_points_height_changes_nothing(tmp_path: Path) -> None:
    """On flat ground the DEM path (numpy sampling) gives what GDAL's warper gives: measured 0.12 dB MAE
    between them, and both as close to the genuine backscatter (VV MAE 0.43 with the DEM, 0.49 without)."""
    builder = s1_grd_builder()
    dem = write_dem(tmp_path / "flat.tif", lambda lon, lat: np.full(np.shape(lon), builder.HEIGHT_M))
    without = prepare(PRODUCT, tmp_path / "without.tif")
    with_dem = prepare(PRODUCT, tmp_path / "with.tif", "--dem", str(dem), "--dem-heights", "ellipsoid")
    ok = np.isfinite(without) & np.isfinite(with_dem)
    assert ok.mean() > 0.99
    assert float(np.abs(with_dem[ok] - without[ok]).mean()) < 0.2
    assert abs(float(np.median(with_dem[ok] - without[ok]))) < 0.05
    assert scores(with_dem)["VV"][1] <= scores(without)["VV"][1] + 0.02


def _sarclear(args: list[str], folder: Path, geoid: bool) -> subprocess.CompletedProcess[str]:
    """sarclear in a child process whose PROJ data folder is rasterio's, plus the EGM96 crop when `geoid`; no network."""
    return _python(["-m", "sarclear", *args], folder, geoid)


def _python(args: list[str], folder: Path, geoid: bool) -> subprocess.CompletedProcess[str]:
    proj_data = folder / "proj_data"
    proj_data.mkdir(exist_ok=True)
    for item in Path(PROJDataFinder().search()).iterdir():
        if not (proj_data / item.name).exists():
            (proj_data / item.name).symlink_to(item)
    if geoid and not (proj_data / "egm96_15.gtx").exists():
        (proj_data / "egm96_15.gtx").symlink_to(GEOID / "egm96_15.gtx")
    env = {**os.environ, "PROJ_DATA": str(proj_data), "PROJ_NETWORK": "OFF"}
    env.pop("PROJ_LIB", None)
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)


def test_geoid_heights_are_converted_with_projs_grid(hilly, tmp_path: Path) -> None:
    """A DEM above the EGM96 geoid (SRTM's datum) gives what the same DEM in ellipsoidal heights gives; read as if
    above the ellipsoid, its heights are 46 m too high there (the geoid's undulation at 73.3 E, 30.5 N), 4-8 px off in range."""
    product, hill, folder = hilly
    above_geoid = write_dem(tmp_path / "dem_egm96.tif", lambda lon, lat: hill(lon, lat) - egm96(lon, lat))
    assert -47.0 < float(egm96(np.array(73.3), np.array(30.46))) < -45.0
    ellipsoidal = prepare(product, tmp_path / "ellipsoid.tif", "--dem", str(write_dem(tmp_path / "dem_ell.tif", hill)),
                          "--dem-heights", "ellipsoid")  # fmt: skip
    out = tmp_path / "egm96.tif"
    done = _sarclear(["prepare-s1", str(product), "--like", str(LIKE), "--out", str(out), "--quiet",
                      "--dem", str(above_geoid), "--dem-heights", "egm96"], tmp_path, geoid=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "heights above the EGM96 geoid, converted to the ellipsoid with PROJ" in done.stdout
    with rasterio.open(out) as src:
        converted = src.read()
    ok = np.isfinite(converted) & np.isfinite(ellipsoidal)
    assert ok.mean() > 0.99 and float(np.median(np.abs(converted[ok] - ellipsoidal[ok]))) < 0.02
    wrong = scores(prepare(product, tmp_path / "wrong.tif", "--dem", str(above_geoid), "--dem-heights", "ellipsoid"))
    assert wrong["VV"][0] < scores(converted)["VV"][0] - 0.2, wrong
    # what PROJ has there, as `sarclear doctor` asks it (its own place, 10 E 45 N, is outside the crop)
    code = ("from sarclear.doctor import check_geoid_grids; from sarclear.io.dem import geoid_grid_found as f; "
            "print(f('egm96', 73.3, 30.5), f('egm2008', 73.3, 30.5), f('egm96')); print(check_geoid_grids().detail)")
    found = _python(["-c", code], tmp_path, geoid=True)
    lines = found.stdout.splitlines()
    assert lines[0] == "True False False", found.stdout + found.stderr
    assert lines[1].startswith("EGM2008 missing, EGM96 missing: only prepare-s1 --dem with a DEM of geoid heights needs one")
    assert f"us_nga_egm08_25.tif / us_nga_egm96_15.tif from https://cdn.proj.org in {tmp_path / 'proj_data'}" in lines[1]


def test_a_geoid_without_projs_grid_is_refused_before_any_work(hilly, tmp_path: Path) -> None:
    """PROJ without the grid leaves heights as they are, silently; sarclear says so and how to get it."""
    product, hill, _ = hilly
    dem = write_dem(tmp_path / "glo30.tif", hill)
    out = tmp_path / "s1.tif"
    done = _sarclear(["prepare-s1", str(product), "--like", str(LIKE), "--out", str(out), "--dem", str(dem)],
                     tmp_path, geoid=False)  # fmt: skip
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert str(dem) in line and "EGM2008 geoid" in line and "https://cdn.proj.org/us_nga_egm08_25.tif" in line, done.stderr
    assert str(tmp_path / "proj_data") in line and "PROJ_NETWORK=ON" in line and "--dem-heights ellipsoid" in line
    assert not out.exists()


def test_dem_problems(hilly, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    product, hill, _ = hilly
    # a DEM of somewhere else
    elsewhere = tmp_path / "elsewhere.tif"
    with rasterio.open(elsewhere, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(10.0, 50.0, 0.01, 0.01)) as dst:  # fmt: skip
        dst.write(np.zeros((1, 8, 8), np.float32))
    assert main(["prepare-s1", str(product), "--like", str(LIKE), "--out", str(tmp_path / "a.tif"), "--quiet",
                 "--dem", str(elsewhere), "--dem-heights", "ellipsoid"]) == 2  # fmt: skip
    assert "elsewhere.tif: does not overlap the output grid" in capsys.readouterr().err
    assert not (tmp_path / "a.tif").exists()
    assert main(["prepare-s1", str(product), "--like", str(LIKE), "--out", str(tmp_path / "b.tif"), "--quiet",
                 "--dem", str(tmp_path / "missing.tif")]) == 2  # fmt: skip
    assert "missing.tif: does not exist" in capsys.readouterr().err
    no_crs = tmp_path / "no_crs.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio's notice on writing a raster without georeferencing
        with rasterio.open(no_crs, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32") as dst:
            dst.write(np.zeros((1, 8, 8), np.float32))
    for flags, says in ((["--like", str(LIKE), "--dem", str(no_crs), "--dem-heights", "ellipsoid"], "has no CRS; give a georeferenced DEM"),
                        (["--like", str(no_crs)], "has no CRS; give --like a georeferenced raster")):
        # as a user runs it, so that Python's warnings reach stderr as they would (pytest would catch them)
        done = subprocess.run([sys.executable, "-m", "sarclear", "prepare-s1", str(product), "--out", str(tmp_path / "e.tif"), "--quiet",
                               *flags], capture_output=True, text=True, timeout=300)  # fmt: skip
        err = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(err) == 1 and f"no_crs.tif: {says}" in err[0], err  # not rasterio's notice first
        assert not (tmp_path / "e.tif").exists()
    # a DEM with a hole: those pixels are placed as without a DEM, and the command says how many
    holed = write_dem(tmp_path / "holed.tif", hill, nodata_box=True)
    image = prepare(product, tmp_path / "c.tif", "--dem", str(holed), "--dem-heights", "ellipsoid")
    note = capsys.readouterr().out
    assert "the DEM has no height for" in note and "placed by the product's tie points" in note
    assert np.isfinite(image).mean() > 0.95
    # the same void value without a declared nodata (as some DEM exports have it): not read as a height
    undeclared = write_dem(tmp_path / "undeclared.tif", hill, nodata_box=True, declare_nodata=False)
    same = prepare(product, tmp_path / "d.tif", "--dem", str(undeclared), "--dem-heights", "ellipsoid")
    assert "the DEM has no height for" in capsys.readouterr().out
    ok = np.isfinite(image) & np.isfinite(same)
    assert ok.mean() > 0.95 and float(np.abs(image[ok] - same[ok]).max()) < 0.5


def test_tie_points_between_and_beyond_the_grid() -> None:
    """Heights and incidence angles are interpolated linearly on the (rectilinear) tie-point grid, and the
    same from scattered tie points (a grid with a point missing), extrapolated linearly at the image edges."""
    from rasterio.control import GroundControlPoint

    from sarclear.io.s1_terrain import TiePoints

    lines, pixels = np.array([0.5, 100.5, 200.5]), np.array([0.5, 50.5, 100.5, 150.5])
    points = [(r, c) for r in lines for c in pixels]
    height = lambda r, c: 100.0 + 0.5 * r - 0.2 * c  # noqa: E731
    incidence = lambda r, c: 30.0 + 0.1 * c  # noqa: E731
    gcps = [GroundControlPoint(row=r, col=c, x=0.0, y=0.0, z=height(r, c)) for r, c in points]
    ties = TiePoints(gcps, [incidence(r, c) for r, c in points], Path("p.SAFE"))
    rows, cols = np.array([[50.0, 150.5], [210.0, 0.0]]), np.array([[25.0, 120.0], [160.0, -3.0]])
    got_height, got_tan = ties.at(rows, cols)
    np.testing.assert_allclose(got_height, height(rows, cols), atol=1e-9)
    np.testing.assert_allclose(got_tan, np.tan(np.radians(incidence(rows, cols))), rtol=1e-9)
    scattered = TiePoints(gcps[:-1], [incidence(r, c) for r, c in points[:-1]], Path("p.SAFE"))
    inner_rows, inner_cols = np.array([50.0, 120.0]), np.array([25.0, 60.0])
    np.testing.assert_allclose(scattered.at(inner_rows, inner_cols)[0], height(inner_rows, inner_cols), atol=1e-9)
    with pytest.raises(Exception, match="lacks heights or incidence angles"):
        TiePoints(gcps, [float("nan")] * len(gcps), Path("p.SAFE"))


def test_bilinear_sampling_as_gdal_warps() -> None:
    """Pixel centres give the pixel; NaN neighbours are left out (weights renormalised); half a pixel past the
    edge gives the edge pixel, farther gives NaN."""
    from sarclear.io.s1_terrain import sample_bilinear

    image = np.array([[[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]]], dtype=np.float32)  # one band, 2 x 3
    rows = np.array([0.5, 1.0, 0.5, 0.5, 1.5, 2.6, 0.5])
    cols = np.array([0.5, 1.0, 2.0, 2.5, 0.0, 0.5, -0.2])
    got = sample_bilinear(image, rows, cols)[0]
    np.testing.assert_allclose(got[:2], [1.0, 2.5])  # a centre; the middle of four
    assert got[2] == pytest.approx(2.0)  # between 2 and NaN: the valid neighbour alone
    assert np.isnan(got[3])  # the NaN pixel's own centre
    assert got[4] == pytest.approx(3.0)  # the left edge itself: the edge pixel
    assert np.isnan(got[5]) and np.isnan(got[6])  # beyond the image


def test_an_output_coarser_than_the_radar_averages_with_a_dem_as_without(tmp_path: Path) -> None:
    """At 20 or 30 m an output pixel covers 2-3 radar pixels: GDAL's warper (no DEM) averages them, and so
    does the DEM path (a tent as wide as the pixel before sampling). Measured when written, flat DEM
    against no DEM: MAE 0.15 dB at 20 m, 0.17 at 30 m (picking one pixel instead: 0.47 and 0.80, with
    the speckle's spread 2.23 dB against 1.76)."""
    from sarclear.io.dem import Dem
    from sarclear.io.s1_geocode import geocode_s1, utm_grid
    from sarclear.io.s1_grd import read_s1_product

    builder = s1_grd_builder()
    product = read_s1_product(PRODUCT)
    for resolution in (20.0, 30.0):
        grid = utm_grid(product, resolution)
        dem = tmp_path / f"flat_{resolution:.0f}.tif"
        with rasterio.open(dem, "w", driver="GTiff", width=grid.width, height=grid.height, count=1, dtype="float32",
                           crs=grid.crs, transform=grid.transform) as dst:  # fmt: skip
            dst.write(np.full((1, grid.height, grid.width), builder.HEIGHT_M, np.float32))
        images = []
        for name, terrain in (("plain", None), ("dem", Dem(dem, "ellipsoid"))):
            geocode_s1(product, grid, tmp_path / f"{name}.tif", dem=terrain)
            with rasterio.open(tmp_path / f"{name}.tif") as src:
                images.append(src.read())
        plain, with_dem = images
        ok = np.isfinite(plain) & np.isfinite(with_dem)
        assert float(np.abs(plain[ok] - with_dem[ok]).mean()) < 0.3, resolution
        spread = float(np.nanstd(with_dem[0])) / float(np.nanstd(plain[0]))
        assert 0.95 < spread < 1.05, (resolution, spread)


def test_two_slices_of_hilly_ground_with_the_dem(tmp_path: Path) -> None:
    """A scene across two slices of one pass: each slice is corrected with its own tie points, and the
    seam does not show; as good as one product over both."""
    builder = s1_grd_builder()
    db, transform, (lon0, lat0) = builder.read_map(GENUINE_S1)
    hill = builder.gaussian_hill(lon0, lat0, HILL_M, HILL_SIGMA_M)

    whole_pass = builder.Geometry(lon0, lat0, builder.Layout(170, 170))
    whole = builder.write_from_map(tmp_path / "w" / "S1A_WHOLE.SAFE", db, transform, whole_pass, terrain=hill)
    first = builder.write_from_map(tmp_path / "a" / "S1A_FIRST.SAFE", db, transform, whole_pass.slice(0, 95), terrain=hill)
    second = builder.write_from_map(tmp_path / "b" / "S1A_SECOND.SAFE", db, transform, whole_pass.slice(80, 90), terrain=hill)
    dem = write_dem(tmp_path / "dem.tif", hill)
    terrain = ("--dem", str(dem), "--dem-heights", "ellipsoid")
    assert main(["prepare-s1", str(first), str(second), "--like", str(LIKE), "--out", str(tmp_path / "both.tif"), "--quiet", *terrain]) == 0
    with rasterio.open(tmp_path / "both.tif") as src:
        both = src.read()
    reference = prepare(whole, tmp_path / "whole.tif", *terrain)
    assert np.isfinite(both).mean() == pytest.approx(np.isfinite(reference).mean(), abs=0.002)
    assert scores(both)["VV"][0] > 0.95 and abs(scores(both)["VV"][1] - scores(reference)["VV"][1]) < 0.03


def test_an_ascending_pass_over_the_hill(tmp_path: Path) -> None:
    """Ascending: range runs east instead of west and the image is not mirrored against the map; the
    correction works in radar geometry, so it holds all the same."""
    from sarclear.io.s1_grd import read_s1_product

    builder = s1_grd_builder()
    db, transform, (lon0, lat0) = builder.read_map(GENUINE_S1)
    hill = builder.gaussian_hill(lon0, lat0, HILL_M, HILL_SIGMA_M)
    geometry = builder.Geometry(lon0, lat0, builder.Layout(builder.LINES, builder.SAMPLES), heading_deg=builder.ASCENDING_HEADING_DEG)
    product = builder.write_from_map(tmp_path / "S1A_ASCENDING.SAFE", db, transform, geometry, terrain=hill)
    assert read_s1_product(product).pass_direction == "Ascending"
    dem = write_dem(tmp_path / "dem.tif", hill)
    flat = scores(prepare(product, tmp_path / "no_dem.tif"))
    corrected_image = prepare(product, tmp_path / "corrected.tif", "--dem", str(dem), "--dem-heights", "ellipsoid")
    corrected = scores(corrected_image)
    assert flat["VV"][0] < 0.5 and corrected["VV"][0] > 0.95 and corrected["VH"][0] > 0.95, (flat, corrected)
    reference, inner = truth()[0], (slice(6, -6), slice(6, -6))
    by_shift = {(dy, dx): np.corrcoef(corrected_image[0][inner].ravel(), np.roll(reference, (dy, dx), (0, 1))[inner].ravel())[0, 1]
                for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert max(by_shift, key=by_shift.get) == (0, 0), by_shift


def test_layover_and_shadow_are_found_where_slopes_beat_the_incidence() -> None:
    """Range along x, 10 m pixels: ground rising away from the radar steeper than tan(incidence) is layover,
    ground falling away steeper than 1 / tan(incidence) is shadow, gentler slopes are neither."""
    from sarclear.io.s1_terrain import layover_and_shadow

    cols = np.tile(np.arange(40, dtype=np.float64), (5, 1))  # one radar column (10 m) per output pixel, along x
    tan_incidence = np.full(cols.shape, np.tan(np.radians(35.0)))  # 0.70; 1 / 0.70 = 1.43
    for slope, expected in ((0.5, "neither"), (0.9, "layover"), (-1.0, "neither"), (-2.0, "shadow")):
        heights = 1000.0 + slope * 10.0 * cols
        layover, shadow = layover_and_shadow(cols, heights.astype(np.float32), tan_incidence, 10.0)
        for mask, kind in ((layover, "layover"), (shadow, "shadow")):
            assert bool(mask.all()) == bool(mask.any()) == (expected == kind), (slope, kind)


def test_a_steep_hill_is_reported_in_layover_and_shadow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 900 m hill of sigma 300 m (slopes up to 61 degrees) under the flat test product: the command says how
    much of the grid is in layover and shadow; the 150 m hill of the other tests has neither."""
    from sarclear.io.dem import Dem
    from sarclear.io.s1_geocode import geocode_s1, grid_of
    from sarclear.io.s1_grd import read_s1_product

    builder = s1_grd_builder()
    _, _, (lon0, lat0) = builder.read_map(GENUINE_S1)
    steep = write_dem(tmp_path / "steep.tif", builder.gaussian_hill(lon0, lat0, 900.0, 300.0))
    gentle = write_dem(tmp_path / "gentle.tif", builder.gaussian_hill(lon0, lat0, HILL_M, HILL_SIGMA_M))
    product, grid = read_s1_product(PRODUCT), grid_of(LIKE)
    found = geocode_s1(product, grid, tmp_path / "steep_s1.tif", dem=Dem(steep, "ellipsoid"))
    assert found["layover"] > 0.01 and found["shadow"] > 0.001, found
    calm = geocode_s1(product, grid, tmp_path / "gentle_s1.tif", dem=Dem(gentle, "ellipsoid"))
    assert calm["layover"] == 0 and calm["shadow"] == 0, calm
    prepare(PRODUCT, tmp_path / "cli.tif", "--dem", str(steep), "--dem-heights", "ellipsoid")
    assert "in layover and" in capsys.readouterr().out


def test_layover_faces_the_radar_and_shadow_turns_away() -> None:
    """Descending and right-looking, the radar is east of the scene: a steep hill's layover is on its east
    flank, its shadow on the west one (the sign a reader most easily gets wrong)."""
    from rasterio.transform import GCPTransformer

    from sarclear.io.dem import Dem
    from sarclear.io.s1_geocode import grid_of
    from sarclear.io.s1_grd import read_s1_product
    from sarclear.io.s1_terrain import TiePoints, layover_and_shadow, radar_positions

    builder = s1_grd_builder()
    _, _, (lon0, lat0) = builder.read_map(GENUINE_S1)
    product, grid = read_s1_product(PRODUCT), grid_of(LIKE)
    with tempfile_dem(builder.gaussian_hill(lon0, lat0, 900.0, 300.0)) as dem_path:
        dem = Dem(dem_path, "ellipsoid")
        heights = dem.ellipsoidal(grid.crs, grid.transform, 0, grid.height, 0, grid.width)
        dem.close()
    locator = GCPTransformer(list(product.gcps), tps=True)
    try:
        _, cols, _, tan_incidence = radar_positions(locator, TiePoints(product.gcps, product.incidence_deg, product.path),
                                                    grid.crs, grid.transform, 0, grid.height, 0, grid.width)  # fmt: skip
    finally:
        locator.close()
    layover, shadow = layover_and_shadow(cols, heights, tan_incidence, product.range_spacing_m)
    centre_col = (lon0 - grid.transform.c) / grid.transform.a
    x = np.arange(grid.width)[None, :].repeat(grid.height, axis=0)
    assert layover.any() and shadow.any()
    assert x[layover].mean() > centre_col + 5 and x[shadow].mean() < centre_col - 5, (x[layover].mean(), x[shadow].mean(), centre_col)


def test_tie_points_that_know_the_terrain_are_flattened_first(tmp_path: Path) -> None:
    """A genuine product's tie points stand on a coarse terrain model (over the Alps 25-2818 m apart, see
    test_s1_genuine_xml.py), each where its pixel sees ground at its own height. Here they know the
    hill at their points, the incidence changes across range as in a genuine swath, and the
    correction must still land every pixel: measured when written, r 0.973 / 0.970 (VV / VH) with
    the points flattened to one height first, against 0.72 when they were used as given (their
    spline mixes geometry with relief) and 0.935 with spline-interpolated heights."""
    from sarclear.io.s1_grd import read_s1_product
    from sarclear.io.s1_terrain import flatten_tie_points

    builder = s1_grd_builder()
    db, transform, (lon0, lat0) = builder.read_map(GENUINE_S1)
    hill = builder.gaussian_hill(lon0, lat0, HILL_M, HILL_SIGMA_M)
    geometry = builder.Geometry(lon0, lat0, builder.Layout(builder.LINES, builder.SAMPLES, swath_px=25_000))
    product = builder.write_from_map(tmp_path / "S1A_TIES.SAFE", db, transform, geometry, terrain=hill, tie_terrain=hill)
    heights = np.array([g.z for g in read_s1_product(product).gcps])
    assert heights.max() - heights.min() > 90  # the grid knows the hill (its points sample it: 250-350 m)
    dem = write_dem(tmp_path / "dem.tif", hill)
    corrected = scores(prepare(product, tmp_path / "corrected.tif", "--dem", str(dem), "--dem-heights", "ellipsoid"))
    assert corrected["VV"][0] > 0.96 and corrected["VH"][0] > 0.96, corrected
    # flattening moves each point to where its pixel would see ground at the points' mean height
    parsed = read_s1_product(product)
    flat, incidence, reference = flatten_tie_points(parsed.gcps, parsed.incidence_deg, parsed.path)
    assert reference == pytest.approx(heights.mean()) and {g.z for g in flat} == {reference}
    assert incidence == parsed.incidence_deg  # line by line, as the annotation lists them
