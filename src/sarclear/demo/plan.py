"""What the demo runs: the real subcommands, in order, with the sizes that fit its time budget.

The demo is the project's end-to-end test, so it must not have code paths of its own: every step
is an argument list handed to `sarclear.cli.main`, exactly what a user would type. Two budgets:
`full` (the README's first command: under 10 minutes on 2 CPU cores) and `quick` (the test suite).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoBudget:
    """Sizes of the demo; everything else is the tool's own defaults."""

    scenes: int  # per season; >= 3 so that train, val and test are all present
    patches: int  # tiles per scene
    tile: int  # px
    epochs: int  # per model; the lr decays linearly to 0 over the last half (the Pix2Pix schedule)
    val_every: int  # optimizer steps between validations
    ngf: int
    batch_size: int
    scene_size: int  # px of the full scene given to `predict`
    workers: int
    uncertainty: bool  # predict --uncertainty: needs dropout, which the U-Net has from 64 px tiles up


#: The recipe's file (configs/tiny.yaml's values); a budget's fields override it by flags.
RECIPE = Path(__file__).with_name("demo.yaml")
FULL = DemoBudget(scenes=8, patches=24, tile=64, epochs=40, val_every=250, ngf=16, batch_size=4, scene_size=768, workers=2, uncertainty=True)
QUICK = DemoBudget(scenes=3, patches=2, tile=32, epochs=3, val_every=3, ngf=4, batch_size=2, scene_size=96, workers=1, uncertainty=False)


@dataclass(frozen=True)
class Step:
    """One subcommand invocation and the sentence the demo prints before it."""

    title: str
    argv: list[str]


def plan_steps(out: Path, budget: DemoBudget, seed: int = 0) -> list[Step]:
    """The subcommands of the demo, in order; paths all live under `out`."""
    data, curation, runs = out / "data", out / "curation", out / "runs"
    manifest = curation / "manifest.csv"
    scene = out / "scene"
    train_common = [
        "--config", str(RECIPE), "--manifest", str(manifest), "--size", str(budget.tile), "--ngf", str(budget.ngf),
        "--batch-size", str(budget.batch_size), "--epochs", str(budget.epochs),
        "--val-every", str(budget.val_every), "--seed", str(seed),
    ]
    return [
        Step("synthesise a SEN12MS-CR-like dataset (summer + winter, thin to opaque clouds, some corrupt tiles)", [
            "synth", str(data), "--scenes", str(budget.scenes), "--patches", str(budget.patches),
            "--size", str(budget.tile), "--seasons", "summer,winter", "--seed", str(seed),
        ]),
        Step("curate: reject corrupt and non-informative triplets, measure cloud cover", [
            "curate", str(data), "--out", str(curation), "--workers", str(budget.workers),
        ]),
        Step("train the SAR + optical fusion model (VV, VH, R, G, B -> R, G, B)", [
            "train", "--out", str(runs / "fusion"), *train_common,
        ]),
        Step("train the optical-only ablation (R, G, B -> R, G, B), same budget", [
            "train", "--out", str(runs / "optical_only"), "--no-sar", *train_common,
        ]),
        Step("evaluate both models and the identity baseline on the test split", [
            "evaluate", "--checkpoint", str(runs / "fusion"), "--compare", str(runs / "optical_only"),
            "--baseline", "identity", "--manifest", str(manifest), "--split", "test", "--out", str(out / "evaluation"),
        ]),
        Step("synthesise a larger scene with ground truth for whole-scene inference", [
            "synth", str(scene), "--scene-size", str(budget.scene_size), "--seasons", "summer", "--cloud-cover", "45",
            "--seed", str(seed + 1),
        ]),
        Step("predict the whole scene (tiled, blended, the model under clouds and shadows only: a georeferenced COG + quick-look PNG + uncertainty map)", [
            "predict", "--checkpoint", str(runs / "fusion"), "--s1", str(scene / "s1.tif"),
            "--s2", str(scene / "s2_cloudy.tif"), "--out", str(out / "prediction" / "cloud_free.tif"), "--format", "png",
            # what a user wants of a cloudy scene: the observed pixels where the sky is clear, the model
            # under the detected clouds and their shadows (feathered), as `sarclear predict --composite`
            "--composite",
            # how sure the model is: the per-pixel spread of 8 passes with dropout on (their mean is the prediction)
            *(["--uncertainty", str(out / "prediction" / "uncertainty.tif")] if budget.uncertainty else []),
            # half-tile overlap: every pixel is averaged over up to 4 windows, which evens out the
            # window-to-window differences of a model trained for two minutes on 64 px tiles
            "--overlap", str(budget.tile // 2),
        ]),
    ]
