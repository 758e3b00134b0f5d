"""Regenerate `generator.safetensors`: a small trained sarclear generator for inference tests.

    OMP_NUM_THREADS=1 python tests/data/small-model/make_model.py

Synthetic SEN12MS-CR-like tiles (`sarclear.data.synthetic`, summer + winter, 4 scenes x 16 tiles of
64 px per season, seed 0), then `sarclear train` with a narrow U-Net (64 px: 6 down-samplings, one
dropout layer; ngf = ndf = 8, batch 4, the full Pix2Pix objective) for `STEPS` steps. Tests need a
model whose outputs look like a trained one's (smooth fields, edges where the scene has them), not
a good one: seams between windows and the dropout spread only show on such outputs.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from sarclear.config import load_config, with_overrides
from sarclear.data.layout import official_paths
from sarclear.data.manifest import CORE_COLUMNS, write_manifest
from sarclear.data.synthetic import generate_dataset
from sarclear.train.loop import train

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parents[2] / "configs" / "tiny.yaml"
STEPS = 400


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sarclear-small-model-") as tmp:
        root = Path(tmp) / "data"
        tiles = generate_dataset(root, scenes=4, patches=16, size=64, seasons=["summer", "winter"], seed=0,
                                 bad_fraction=0.0, progress=False)  # fmt: skip
        rows = []
        for t in tiles:
            paths = official_paths(root, t.roi, t.scene, t.patch)
            rows.append({"sample_id": t.sample_id, "season": t.season, "scene": t.scene, "patch": t.patch, "split": t.split,
                         "kept": True, "s1_path": paths["s1"], "s2_cloudy_path": paths["s2_cloudy"], "s2_path": paths["s2"]})  # fmt: skip
        manifest = write_manifest(root / "manifest.csv", rows, list(CORE_COLUMNS))
        run = Path(tmp) / "run"
        config = with_overrides(load_config(CONFIG), {
            "manifest": str(manifest), "out": str(run), "model.ngf": 8, "model.ndf": 8, "optim.lr": 5e-4,
            "optim.epochs": 25, "run.max_steps": STEPS, "run.seed": 0,
        })  # fmt: skip
        train(config, progress=False)
        shutil.copy(run / "checkpoints" / "last" / "generator.safetensors", HERE / "generator.safetensors")
    print(f"wrote {HERE / 'generator.safetensors'}", file=sys.stderr)


if __name__ == "__main__":
    main()
