"""The torch dataset over a manifest: channels, bands, identical flips/crops, determinism by seed and epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sarclear.data.dataset import TripletDataset, build_input
from sarclear.data.layout import find_triplets
from sarclear.data.manifest import CORE_COLUMNS, read_manifest, select, write_manifest
from sarclear.data.synthetic import generate_dataset
from tests.helpers import write_triplet


def _manifest(path: Path, roots: list[Path]) -> Path:
    rows = [
        {
            "sample_id": t.sample_id, "season": t.season, "scene": t.scene, "patch": t.patch, "split": t.split,
            "s1_path": t.s1_path, "s2_cloudy_path": t.s2_cloudy_path, "s2_path": t.s2_path, "kept": True, "reasons": "",
        }
        for root in roots
        for t in find_triplets(root)
    ]
    return write_manifest(path, rows, CORE_COLUMNS)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory, real_root: Path) -> list:
    synth = tmp_path_factory.mktemp("synth")
    generate_dataset(synth, scenes=1, patches=2, size=256, seasons=("summer",), bad_fraction=0.0, progress=False)
    manifest = _manifest(tmp_path_factory.mktemp("m") / "manifest.csv", [real_root, synth])
    return select(read_manifest(manifest), "all")


def test_rgb_sample_gives_five_channel_input_and_three_channel_target(samples) -> None:
    assert len(samples) == 4
    dataset = TripletDataset(samples)
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["sar"].shape == (2, 256, 256) and item["cloudy"].shape == (3, 256, 256)
        assert item["clear"].shape == (3, 256, 256) and item["valid_mask"].shape == (1, 256, 256)
        assert build_input(item["sar"], item["cloudy"]).shape == (5, 256, 256)
        assert build_input(item["sar"], item["cloudy"], use_sar=False).shape == (3, 256, 256)
        for key in ("sar", "cloudy", "clear"):
            assert item[key].dtype == torch.float32 and -1 <= float(item[key].min()) <= float(item[key].max()) <= 1
        assert item["id"] == samples[index].sample_id and item["season"] == samples[index].season


def test_all13_gives_thirteen_bands(samples) -> None:
    item = TripletDataset(samples[:1], bands="all13")[0]
    assert item["cloudy"].shape[0] == 13 and item["clear"].shape[0] == 13
    assert build_input(item["sar"][None], item["cloudy"][None]).shape == (1, 15, 256, 256)


def _linked_triplet(root: Path) -> Path:
    """A triplet whose modalities are pixel-wise functions of one random, asymmetric pattern: any
    transform applied identically keeps the relations; applied differently it breaks them."""
    rng = np.random.default_rng(0)
    pattern = rng.uniform(0.0, 1.0, (32, 32))
    pattern[:4, :8] = 0.0  # a no-data corner, so valid_mask must move with the images
    clear = np.repeat((200 + 4000 * pattern)[None], 13, axis=0)
    clear[:, :4, :8] = 0
    cloudy = clear + 1000.0
    s1 = np.stack([-25 + 20 * pattern, -32.5 + 20 * pattern]).astype(np.float32)
    write_triplet(root, arrays={"s1": s1, "s2_cloudy": cloudy.astype(np.uint16), "s2": clear.astype(np.uint16)})
    return _manifest(root / "manifest.csv", [root])


def _check_linked(item: dict) -> None:
    sar_pattern = (item["sar"][0] + 1) / 2 * 25 / 20  # back to [0, 1]-ish pattern in dB units / 20
    clear_dn = (item["clear"][0] + 1) / 2 * 10000
    cloudy_dn = (item["cloudy"][0] + 1) / 2 * 10000
    valid = item["valid_mask"][0] > 0
    torch.testing.assert_close(cloudy_dn[valid] - clear_dn[valid], torch.full_like(clear_dn[valid], 1000.0), atol=0.6, rtol=0)
    torch.testing.assert_close((clear_dn[valid] - 200) / 4000, sar_pattern[valid], atol=2e-3, rtol=0)
    assert torch.equal(valid, clear_dn > 1.0)


def test_flips_and_crops_are_identical_across_modalities(tmp_path: Path) -> None:
    samples = read_manifest(_linked_triplet(tmp_path))
    plain = TripletDataset(samples)[0]
    seen = set()
    for crop in (None, 20):
        dataset = TripletDataset(samples, augment=True, crop_size=crop, seed=3)
        for epoch in range(12):
            dataset.set_epoch(epoch)
            item = dataset[0]
            _check_linked(item)
            if crop is None:
                flipped = [torch.equal(item["clear"], plain["clear"].flip(dims)) for dims in ((), (-1,), (-2,), (-2, -1))]
                assert sum(flipped) == 1  # exactly one of the four flip combinations
                seen.add(flipped.index(True))
            else:
                assert item["clear"].shape[-2:] == (20, 20)
    assert seen == {0, 1, 2, 3}


def test_augmentation_is_deterministic_by_seed_and_changes_with_epoch(samples) -> None:
    def draws(seed: int, epoch: int) -> list[torch.Tensor]:
        dataset = TripletDataset(samples, augment=True, crop_size=64, seed=seed)
        dataset.set_epoch(epoch)
        return [dataset[i]["clear"] for i in range(len(dataset))]

    first, again = draws(0, 0), draws(0, 0)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, draws(0, 1)))
    assert not all(torch.equal(a, b) for a, b in zip(first, draws(1, 0)))
    centre = TripletDataset(samples, crop_size=64)  # no augmentation: a centre crop, every epoch
    centre.set_epoch(5)
    full = TripletDataset(samples)[0]["clear"]
    torch.testing.assert_close(centre[0]["clear"], full[:, 96:160, 96:160])
