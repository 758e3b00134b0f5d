"""`sarclear pack` and `train --pack`: the pack gives the GeoTIFF dataset's tensors for every index,
training from it is bit-identical, and a pack of other inputs is refused with one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sarclear import __version__
from sarclear.cli import main
from sarclear.config import config_from_dict, config_to_dict
from sarclear.data.dataset import TripletDataset
from sarclear.data.manifest import read_manifest, select
from sarclear.data.pack import PackedDataset, read_index, write_pack
from sarclear.io.digest import file_sha256
from sarclear.io.geotiff import read_raster, write_raster
from sarclear.models.checkpoint import read_spec
from sarclear.train.loop import train
from tests.helpers import transform_for
from tests.test_train_helpers import one_thread, tiny_config, write_dataset
from tests.test_train_run import read_rows, weights

pytestmark = pytest.mark.usefixtures(one_thread.__name__)

LOSS_COLUMNS = ("step", "epoch", "lr", "G_gan", "G_l1", "D", "val_psnr", "val_ssim", "val_identity_psnr")


def dataset_with_nodata(root: Path, train: int = 3, val: int = 2, size: int = 40) -> Path:
    """Hand-made triplets; the first has an empty (all-zero) corner in its target, so valid masks differ."""
    manifest = write_dataset(root, train=train, val=val, size=size)
    target = read_manifest(manifest)[0].s2_path
    clear, _ = read_raster(target)
    clear[:, :9, :7] = 0
    write_raster(target, clear, crs="EPSG:32631", transform=transform_for())
    return manifest


def kept(manifest: Path, splits: tuple[str, ...] = ("train", "val")) -> list:
    return [s for s in select(read_manifest(manifest), "all") if s.split in splits]


@pytest.mark.parametrize("bands", ["rgb", "all13"])
def test_the_pack_dataset_returns_the_geotiff_datasets_tensors_for_every_index(tmp_path: Path, bands: str) -> None:
    manifest = dataset_with_nodata(tmp_path / "data")
    pack = write_pack(manifest, tmp_path / "pack", bands=bands, workers=0, progress=False)
    rows = kept(manifest)
    assert pack.sample_ids == [s.sample_id for s in rows]
    channels = 3 if bands == "rgb" else 13
    stored = {kind: np.load(pack.array_path(kind), mmap_mode="r") for kind in ("s1", "cloudy", "clear", "valid")}
    assert {k: (a.dtype.name, a.shape) for k, a in stored.items()} == {
        "s1": ("float32", (5, 2, 40, 40)), "cloudy": ("uint16", (5, channels, 40, 40)),
        "clear": ("uint16", (5, channels, 40, 40)), "valid": ("bool", (5, 40, 40)),
    }  # fmt: skip
    assert not stored["valid"][0, :9, :7].any() and stored["valid"][1:].all()  # the empty corner, and only there
    index = json.loads((tmp_path / "pack" / "index.json").read_text())
    assert index["manifest"]["sha256"] == file_sha256(manifest) and index["sarclear_version"] == __version__
    assert index["bands"] == bands and index["splits"] == ["train", "val"] and index["tile"] == [40, 40]

    for options in ({"crop_size": 32, "augment": True, "seed": 5}, {"crop_size": 32}, {}):
        geotiff = TripletDataset(rows, bands=bands, s2_clip_max=8000.0, **options)
        packed = PackedDataset(pack, rows, s2_clip_max=8000.0, **options)
        for epoch in (0, 1):
            geotiff.set_epoch(epoch)
            packed.set_epoch(epoch)
            for i in range(len(rows)):
                a, b = geotiff[i], packed[i]
                assert a.keys() == b.keys()
                for key, value in a.items():
                    if isinstance(value, torch.Tensor):
                        assert value.dtype == b[key].dtype and torch.equal(value, b[key]), (options, epoch, i, key)
                    else:
                        assert value == b[key]


def test_training_from_the_pack_equals_training_from_the_geotiffs(tmp_path: Path) -> None:
    """Same seed, 7 steps over an epoch end (lr step, validation, random crops and flips): identical
    losses, validation scores, weights and provenance; then again with the GeoTIFFs deleted and two
    DataLoader workers, which proves the run reads nothing but the pack."""
    manifest = dataset_with_nodata(tmp_path / "data")
    pack = tmp_path / "pack"
    assert main(["pack", "--manifest", str(manifest), "--out", str(pack), "--workers", "2", "--quiet"]) == 0

    def run(name: str, **changes: object) -> Path:
        config = config_to_dict(tiny_config(manifest, tmp_path / name, max_steps=7))
        config.update(changes.pop("top", {}))
        config["data"].update(changes)
        config["optim"].update(epochs=4, decay_epochs=3)
        train(config_from_dict(config), progress=False)
        return tmp_path / name

    geotiff = run("geotiff")
    packed = run("packed", top={"pack": str(pack)})
    for path in kept(manifest):
        for tif in (path.s1_path, path.s2_cloudy_path, path.s2_path):
            tif.unlink()
    packed_workers = run("packed_workers", top={"pack": str(pack)}, workers=2)

    expected_rows = [{k: r[k] for k in LOSS_COLUMNS} for r in read_rows(geotiff)]
    assert any(r["val_psnr"] for r in expected_rows) and any(r["G_l1"] for r in expected_rows)
    expected_weights, expected_spec = weights(geotiff), read_spec(geotiff / "checkpoints" / "last")
    for run_dir in (packed, packed_workers):
        assert [{k: r[k] for k in LOSS_COLUMNS} for r in read_rows(run_dir)] == expected_rows
        got = weights(run_dir)
        assert got.keys() == expected_weights.keys()
        assert all(torch.equal(got[k], expected_weights[k]) for k in got), run_dir
        assert read_spec(run_dir / "checkpoints" / "last") == expected_spec  # provenance from the pack's index


def _train_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["train", "--size", "32", "--ngf", "4", "--ndf", "4", "--max-steps", "1", "--workers", "0",
                 "--precision", "32", "--quiet", *args])  # fmt: skip
    return code, capsys.readouterr().err.strip()


def test_a_pack_of_other_inputs_is_refused_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = write_dataset(tmp_path / "data", train=2, val=1, size=40)
    pack = tmp_path / "pack"
    write_pack(manifest, pack, workers=0, progress=False)
    common = ["--manifest", str(manifest), "--pack", str(pack)]

    code, err = _train_cli([*common, "--out", str(tmp_path / "ok")], capsys)
    assert code == 0, err

    code, err = _train_cli([*common, "--out", str(tmp_path / "r1"), "--bands", "all13"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "holds rgb bands, the run trains on all13" in err

    code, err = _train_cli([*common, "--out", str(tmp_path / "r2"), "--size", "64"], capsys)
    assert code == 2 and "tiles are 40x40 px, smaller than the training crop of 64 px" in err

    write_pack(manifest, tmp_path / "train_only", splits=("train",), workers=0, progress=False)
    code, err = _train_cli(["--manifest", str(manifest), "--pack", str(tmp_path / "train_only"), "--out", str(tmp_path / "r3")], capsys)
    assert code == 2 and "(val split) is not in the pack" in err and "sarclear pack --splits train,val" in err

    # the manifest changes after packing (a row curated out): the pack is stale
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["kept"] = "false"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    code, err = _train_cli([*common, "--out", str(tmp_path / "r4")], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"{pack}: packed from another manifest" in err and f"sarclear pack --manifest {manifest} --out {pack}" in err
    for name in ("r1", "r2", "r3", "r4"):
        assert not (tmp_path / name).exists()

    code, err = _train_cli(["--manifest", str(manifest), "--pack", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r5")], capsys)
    assert code == 2 and f"{tmp_path / 'nowhere'}: not found; make it with `sarclear pack" in err


def test_pack_command_output_is_complete_or_absent(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = write_dataset(tmp_path / "data", train=3, val=1, size=40)
    pack = tmp_path / "pack"
    assert main(["pack", "--manifest", str(manifest), "--out", str(pack), "--workers", "0", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith(f"packed 4 tiles of 40x40 px (train,val, rgb) into {pack}")
    before = (pack / "index.json").read_text()

    broken = read_manifest(manifest)[2].s2_cloudy_path  # a corrupt file: one line, exit 2, the old pack kept
    broken.write_bytes(b"II*\x00 not a tiff")
    for workers in ("0", "2"):
        assert main(["pack", "--manifest", str(manifest), "--out", str(pack), "--workers", workers, "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith(f"sarclear: error: {broken}")
        assert (pack / "index.json").read_text() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "pack"]  # no temporary folder left

    other = tmp_path / "data"  # not a pack, not empty: never replaced
    assert main(["pack", "--manifest", str(manifest), "--out", str(other), "--quiet"]) == 2
    assert "exists and is not a sarclear pack" in capsys.readouterr().err
    assert main(["pack", "--manifest", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "p2"), "--quiet"]) == 2
    assert "manifest not found" in capsys.readouterr().err
    assert main(["pack", "--manifest", str(manifest), "--out", str(tmp_path / "p3"), "--splits", "train,tset"]) == 2
    assert "--splits: tset" in capsys.readouterr().err
    assert read_index(pack).sample_ids == [s.sample_id for s in kept(manifest)]


def test_tiles_of_another_size_or_inexact_values_are_refused_not_rounded(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = write_dataset(tmp_path / "data", train=3, val=0, size=40)
    rows = read_manifest(manifest)
    second, third = rows[1].s2_path, rows[2].s2_cloudy_path
    clear, _ = read_raster(second)
    write_raster(second, clear.astype(np.float32) + np.float32(0.5), crs="EPSG:32631", transform=transform_for())
    assert main(["pack", "--manifest", str(manifest), "--out", str(tmp_path / "pack"), "--splits", "train", "--workers", "0"]) == 2
    assert f"{second}: holds values that uint16 (the first row's dtype) cannot hold exactly" in capsys.readouterr().err
    write_raster(second, clear, crs="EPSG:32631", transform=transform_for())
    for path in (rows[2].s1_path, third, rows[2].s2_path):
        array, _ = read_raster(path)
        write_raster(path, array[:, :32, :32], crs="EPSG:32631", transform=transform_for())
    assert main(["pack", "--manifest", str(manifest), "--out", str(tmp_path / "pack"), "--splits", "train", "--workers", "0"]) == 2
    assert "tile is 32x32 px, the pack's tiles are 40x40 (from the first row); pack tiles of one size" in capsys.readouterr().err
    assert not (tmp_path / "pack").exists()
