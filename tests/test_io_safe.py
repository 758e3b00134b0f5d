"""SAFE products (folder and zip, L1C and L2A) read as one file per band, on genuine Sentinel-2 pixels.

The fixtures in tests/data/real-scenes/safe/ are built by make_safe.py beside them (see SOURCE.md).
The last tests predict through them with the identity model of test_real_scenes.py (it returns the
cloudy RGB it is given), so the expected output is exact: B4, B3, B2 on the 10 m grid, offset removed.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from sarclear.cli import main
from sarclear.errors import RasterError, SarclearInputError
from sarclear.io.safe import NATIVE_RESOLUTION_M, is_safe_product, read_safe
from sarclear.models.checkpoint import save_generator
from tests.test_real_scenes import OPTICAL_SPEC, SPEC, predict_identity, read_out

SAFE_DIR = Path(__file__).parent / "data" / "real-scenes" / "safe"
L1C_SAFE = SAFE_DIR / "S2A_MSIL1C_20180701T000000_N0400_R000_T31PGN_20220125T000000.SAFE"
L2A_SAFE = SAFE_DIR / "S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419.SAFE"
L2A_ZIP = SAFE_DIR / "S2A_MSIL2A_20220706T085611_N0400_R007_T33NZA_20220706T153419.zip"
S1_FOR_L1C = SAFE_DIR / "S1_for_L1C_SAFE.tif"

L1C_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
L2A_BANDS = tuple(band for band in L1C_BANDS if band != "B10")


def read_band(path: str) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(path) as src:
        return src.read(1), src.transform


def copy_safe(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def edit_mtd(safe: Path, pattern: str, replacement: str) -> None:
    """Rewrite the product MTD with a regular expression (the fixture's own text, edited)."""
    mtd = next(safe.glob("MTD_MSIL*.xml"))
    text, count = re.subn(pattern, replacement, mtd.read_text(), flags=re.DOTALL)
    assert count, f"{pattern} not found in {mtd}"
    mtd.write_text(text)


def assert_one_line_naming(error: pytest.ExceptionInfo[RasterError], path: Path, *words: str) -> None:
    message = str(error.value)
    assert isinstance(error.value, SarclearInputError)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # the product level has no grid
class TestGdalOpensTheFixtures:
    """GDAL's own SENTINEL2 driver reads each fixture: it is a SAFE product, not just a folder of JP2s."""

    @pytest.mark.parametrize(
        ("product", "level", "offset_tag"),
        [(L1C_SAFE / "MTD_MSIL1C.xml", "Level-1C", "RADIO_ADD_OFFSET"),
         (L2A_SAFE / "MTD_MSIL2A.xml", "Level-2A", "BOA_ADD_OFFSET"),
         (L2A_ZIP, "Level-2A", "BOA_ADD_OFFSET")],
        ids=["l1c", "l2a", "l2a-zip"],
    )
    def test_sentinel2_driver_agrees_with_read_safe(self, product: Path, level: str, offset_tag: str) -> None:
        with rasterio.open(product) as dataset:
            assert dataset.driver == "SENTINEL2"
            assert dataset.tags()["PROCESSING_LEVEL"] == level
            assert dataset.tags()["PROCESSING_BASELINE"] == "04.00"
            grids = [name for name in dataset.subdatasets if re.search(r":(10|20|60)m:", name)]
        bands = read_safe(product).bands
        seen = set()
        for grid_name in grids:  # GDAL groups each band at its native resolution: read_safe's choice
            with rasterio.open(grid_name) as grid:
                for index in range(1, grid.count + 1):
                    name = grid.tags(index)["BANDNAME"]
                    if name not in bands:
                        continue  # AOT, WVP, SCL...: not reflectance
                    assert grid.tags(index)[offset_tag] == "-1000"
                    pixels, transform = read_band(bands[name])
                    np.testing.assert_array_equal(grid.read(index), pixels)
                    assert transform == grid.transform
                    seen.add(name)
        assert seen == set(bands)


class TestReadSafe:
    def test_l1c_all_13_bands_at_native_resolution_with_metadata_offset(self) -> None:
        product = read_safe(L1C_SAFE)
        assert product.ordered_names() == L1C_BANDS
        assert (product.level, product.offset, product.baseline) == ("L1C", 1000.0, "N0400")
        assert "RADIO_ADD_OFFSET" in product.offset_source and "MTD_MSIL1C.xml" in product.offset_source
        assert "PROCESSING_LEVEL" in product.level_source
        origins = set()
        for band, path in product.bands.items():
            with rasterio.open(path) as src:
                assert src.res == (NATIVE_RESOLUTION_M[band],) * 2, band
                assert src.crs.to_epsg() == 32631
                origins.add((src.transform.c, src.transform.f))
        assert len(origins) == 1

    def test_l1c_shares_its_grid_with_the_s1_crop(self) -> None:
        _, transform = read_band(read_safe(L1C_SAFE).bands["B4"])
        with rasterio.open(S1_FOR_L1C) as s1:
            assert (s1.transform, s1.count, s1.crs.to_epsg()) == (transform, 2, 32631)

    def test_l1c_pixels_carry_the_offset_it_declares(self) -> None:
        # Cirrus (B10) is a few DN in SEN12MS-CR's L1C (6 ... 18 in this patch): +1000 shows plainly.
        pixels, _ = read_band(read_safe(L1C_SAFE).bands["B10"])
        assert 1000 < pixels.min() and pixels.max() < 1100

    def test_l2a_takes_the_finest_file_of_each_band_not_finer_than_native(self) -> None:
        product = read_safe(L2A_SAFE)
        assert product.ordered_names() == L2A_BANDS
        assert (product.level, product.offset, product.baseline) == ("L2A", 1000.0, "N0400")
        assert "BOA_ADD_OFFSET" in product.offset_source
        folders = {band: Path(path).parent.name for band, path in product.bands.items()}
        assert folders == {
            "B1": "R60m", "B2": "R10m", "B3": "R10m", "B4": "R10m", "B5": "R20m", "B6": "R20m", "B7": "R20m",
            "B8": "R10m", "B8A": "R20m", "B9": "R60m", "B11": "R20m", "B12": "R20m",
        }
        assert product.notes == ()

    def test_zip_is_read_in_place_and_matches_the_folder(self, tmp_path: Path) -> None:
        archive = Path(shutil.copy(L2A_ZIP, tmp_path / L2A_ZIP.name))
        assert is_safe_product(archive)
        from_zip = read_safe(archive)
        from_folder = read_safe(L2A_SAFE)
        assert from_zip.ordered_names() == from_folder.ordered_names()
        assert (from_zip.level, from_zip.offset, from_zip.offset_source) == (
            from_folder.level, from_folder.offset, from_folder.offset_source)
        for band, path in from_zip.bands.items():
            assert path.startswith(f"/vsizip/{archive}/")
            zipped, zipped_transform = read_band(path)
            unzipped, unzipped_transform = read_band(from_folder.bands[band])
            np.testing.assert_array_equal(zipped, unzipped)
            assert zipped_transform == unzipped_transform
        assert sorted(p.name for p in tmp_path.iterdir()) == [L2A_ZIP.name]  # nothing extracted

    def test_mtd_file_itself_is_a_product(self) -> None:
        mtd = L1C_SAFE / "MTD_MSIL1C.xml"
        assert is_safe_product(mtd)
        assert read_safe(mtd).bands == read_safe(L1C_SAFE).bands


class TestOffsetAndLevelFallbacks:
    def test_offset_from_the_baseline_when_the_metadata_lists_none(self, tmp_path: Path) -> None:
        safe = copy_safe(L1C_SAFE, tmp_path)
        edit_mtd(safe, r"<Radiometric_Offset_List>.*</Radiometric_Offset_List>", "")
        product = read_safe(safe)
        assert product.offset == 1000.0
        assert "processing baseline 04.00" in product.offset_source

    def test_no_offset_before_baseline_04_00(self, tmp_path: Path) -> None:
        safe = copy_safe(L1C_SAFE, tmp_path)
        edit_mtd(safe, r"<Radiometric_Offset_List>.*</Radiometric_Offset_List>", "")
        edit_mtd(safe, r"<PROCESSING_BASELINE>04.00<", "<PROCESSING_BASELINE>02.09<")
        product = read_safe(safe)
        assert (product.offset, product.baseline) == (0.0, "N0209")

    def test_offsets_that_differ_between_bands_use_the_common_one_and_say_so(self, tmp_path: Path) -> None:
        safe = copy_safe(L1C_SAFE, tmp_path)
        edit_mtd(safe, r'<RADIO_ADD_OFFSET band_id="10">-1000<', '<RADIO_ADD_OFFSET band_id="10">-900<')
        product = read_safe(safe)
        assert product.offset == 1000.0
        assert any("RADIO_ADD_OFFSET differs" in note and "12 of 13" in note for note in product.notes)

    def test_level_from_the_metadata_file_name_when_processing_level_is_absent(self, tmp_path: Path) -> None:
        safe = copy_safe(L2A_SAFE, tmp_path)
        edit_mtd(safe, r"<PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>", "")
        product = read_safe(safe)
        assert product.level == "L2A"
        assert "MTD_MSIL2A.xml" in product.level_source


class TestBadInput:
    def test_safe_without_band_files(self, tmp_path: Path) -> None:
        safe = tmp_path / L1C_SAFE.name
        safe.mkdir()
        shutil.copy(L1C_SAFE / "MTD_MSIL1C.xml", safe)
        with pytest.raises(RasterError) as error:
            read_safe(safe)
        assert_one_line_naming(error, safe, "holds no band files", "download the product again")

    def test_safe_missing_one_band_file_names_it(self, tmp_path: Path) -> None:
        safe = copy_safe(L2A_SAFE, tmp_path)
        next(safe.rglob("*_B8A_20m.jp2")).unlink()
        with pytest.raises(RasterError) as error:
            read_safe(safe)
        assert_one_line_naming(error, safe, "incomplete", "B8A", "download the product again")

    def test_safe_folder_without_metadata(self, tmp_path: Path) -> None:
        safe = tmp_path / "S2B_MSIL1C_20230823T095559_N0509_R122_T34UCF_20230823T120234.SAFE"
        safe.mkdir()
        assert is_safe_product(safe)
        with pytest.raises(RasterError) as error:
            read_safe(safe)
        assert_one_line_naming(error, safe, "MTD_MSIL1C.xml")

    def test_sentinel1_safe_gets_the_prepare_s1_hint(self, tmp_path: Path) -> None:
        safe = tmp_path / "S1A_IW_GRDH_1SDV_20220706T050000_20220706T050025_043971_053FC1_ABCD.SAFE"
        (safe / "measurement").mkdir(parents=True)
        with pytest.raises(RasterError) as error:
            read_safe(safe)
        assert_one_line_naming(error, safe, "is a Sentinel-1 product", "sarclear prepare-s1")

    def test_multi_tile_products_are_refused(self, tmp_path: Path) -> None:
        safe = copy_safe(L1C_SAFE, tmp_path)
        edit_mtd(safe, r"(<IMAGE_FILE>[^<]*_B02</IMAGE_FILE>)", r"\1\1")
        with pytest.raises(RasterError) as error:
            read_safe(safe)
        assert_one_line_naming(error, safe / "MTD_MSIL1C.xml", "two B2 files at 10 m", "single-tile")

    def test_zip_without_a_safe(self, tmp_path: Path) -> None:
        archive = tmp_path / "bands.zip"
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr("B04.tif", b"not a product")
        assert is_safe_product(archive)  # every zip goes to read_safe, which says what is wrong
        with pytest.raises(RasterError) as error:
            read_safe(archive)
        assert_one_line_naming(error, archive, "holds no Sentinel-2 SAFE product")

    def test_truncated_zip(self, tmp_path: Path) -> None:
        archive = tmp_path / L2A_ZIP.name
        archive.write_bytes(L2A_ZIP.read_bytes()[: L2A_ZIP.stat().st_size // 2])
        with pytest.raises(RasterError) as error:
            read_safe(archive)
        assert_one_line_naming(error, archive, "not a readable zip", "download the product again")

    def test_other_processing_levels_are_refused(self, tmp_path: Path) -> None:
        safe = copy_safe(L1C_SAFE, tmp_path)
        edit_mtd(safe, r"<PROCESSING_LEVEL>Level-1C<", "<PROCESSING_LEVEL>Level-1B<")
        with pytest.raises(RasterError) as error:
            read_safe(safe)
        assert_one_line_naming(error, safe, "Level-1B", "Level-1C and Level-2A")

    def test_truncated_metadata(self, tmp_path: Path) -> None:
        safe = copy_safe(L1C_SAFE, tmp_path)
        mtd = safe / "MTD_MSIL1C.xml"
        mtd.write_bytes(mtd.read_bytes()[:500])
        with pytest.raises(RasterError) as error:
            read_safe(safe)
        assert_one_line_naming(error, mtd, "not valid XML", "download the product again")


def test_is_safe_product_says_no_to_other_inputs(tmp_path: Path) -> None:
    band_folder = tmp_path / "S2_bands"
    band_folder.mkdir()
    shutil.copy(S1_FOR_L1C, band_folder / "B04.tif")
    assert not is_safe_product(band_folder)
    assert not is_safe_product(S1_FOR_L1C)
    assert not is_safe_product(tmp_path / "absent.SAFE")
    assert all(is_safe_product(path) for path in (L1C_SAFE, L2A_SAFE, L2A_ZIP))


class TestPredictFromSafe:
    def test_l1c_safe_predicts_onto_its_10m_grid_with_the_offset_removed(self, tmp_path: Path) -> None:
        out = tmp_path / "clear.tif"
        lines = predict_identity(S1_FOR_L1C, L1C_SAFE, out)
        rgb, transform, crs, tags = read_out(out)
        bands = read_safe(L1C_SAFE).bands
        expected = [read_band(bands[name]) for name in ("B4", "B3", "B2")]
        assert rgb.shape == (3, 96, 96) and transform == expected[0][1] and crs.to_epsg() == 32631
        for channel, (pixels, _) in zip(rgb, expected, strict=True):
            np.testing.assert_array_equal(channel, pixels.astype(np.int32) - 1000)
        assert tags["SARCLEAR_S2_LEVEL"] == "L1C" and tags["SARCLEAR_S2_OFFSET_REMOVED_DN"] == "1000"
        assert "RADIO_ADD_OFFSET" in tags["SARCLEAR_S2_OFFSET_SOURCE"]
        assert any("offset 1000 DN removed" in line for line in lines)

    def test_l2a_zip_predicts_like_the_unzipped_safe(self, tmp_path: Path) -> None:
        predict_identity(None, L2A_SAFE, tmp_path / "folder.tif", spec=OPTICAL_SPEC)
        predict_identity(None, L2A_ZIP, tmp_path / "zip.tif", spec=OPTICAL_SPEC)
        from_folder, transform, _, tags = read_out(tmp_path / "folder.tif")
        from_zip, zip_transform, _, _ = read_out(tmp_path / "zip.tif")
        np.testing.assert_array_equal(from_zip, from_folder)
        assert zip_transform == transform and from_zip.shape == (3, 96, 96)
        assert tags["SARCLEAR_S2_LEVEL"] == "L2A" and tags["SARCLEAR_S2_OFFSET_REMOVED_DN"] == "1000"

    @staticmethod
    def _predict_fails(tmp_path: Path, s2: Path, capsys: pytest.CaptureFixture[str]) -> str:
        """`sarclear predict` on `s2`: exit 2, one stderr line (returned), and no output left."""
        torch.manual_seed(0)
        checkpoint = tmp_path / "generator.safetensors"
        save_generator(checkpoint, SPEC.build(), SPEC)
        out_dir = tmp_path / "out"
        code = main(["predict", "--checkpoint", str(checkpoint), "--s1", str(S1_FOR_L1C), "--s2", str(s2),
                     "--out", str(out_dir / "clear.tif"), "--quiet"])  # fmt: skip
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert not out_dir.exists() or not list(out_dir.iterdir())
        return err[0]

    def test_cli_truncated_zip_is_one_line_exit_2_and_leaves_nothing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        archive = tmp_path / L2A_ZIP.name
        archive.write_bytes(L2A_ZIP.read_bytes()[:4096])
        line = self._predict_fails(tmp_path, archive, capsys)
        assert archive.name in line and "not a readable zip" in line

    def test_cli_truncated_band_file_is_named_before_anything_runs(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        safe = copy_safe(L1C_SAFE, tmp_path)
        band = next(safe.rglob("*_B04.jp2"))
        band.write_bytes(band.read_bytes()[: band.stat().st_size * 2 // 3])  # an interrupted copy
        line = self._predict_fails(tmp_path, safe, capsys)
        assert band.name in line and "truncated JPEG 2000" in line


def test_jp2_truncation_reads_the_box_lengths(tmp_path: Path) -> None:
    from sarclear.io.truncation import JP2_EOC, JP2_SIGNATURE, jp2_truncation

    def box(kind: bytes, body: bytes, length: int | None = None) -> bytes:
        return (len(body) + 8 if length is None else length).to_bytes(4, "big") + kind + body

    whole = JP2_SIGNATURE + box(b"ftyp", b"jp2 " * 3) + box(b"jp2c", b"\xff\x4f" + b"\x00" * 50 + JP2_EOC)
    cases = {
        "whole.jp2": (whole, None),
        "cut.jp2": (whole[:-20], "'jp2c' box ends at byte"),
        "to_end.jp2": (JP2_SIGNATURE + box(b"jp2c", b"\xff\x4f" + b"\x00" * 50 + JP2_EOC, length=0), None),
        "to_end_cut.jp2": (JP2_SIGNATURE + box(b"jp2c", b"\xff\x4f" + b"\x00" * 50, length=0), "without its end marker"),
        "not_jp2.jp2": (b"GIF89a" + b"\x00" * 40, None),  # left to the reader's own error
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        reason = jp2_truncation(tmp_path / name)
        assert (reason is None) if expected is None else (expected in reason), (name, reason)
