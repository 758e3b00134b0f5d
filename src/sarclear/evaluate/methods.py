"""The methods an evaluation compares: baselines and generator checkpoints, behind one interface.

Every method turns `(sar, cloudy_dn)` into a prediction in S2 digital numbers, so metrics never
depend on a model's normalisation: each checkpoint normalises its own input with the clip range it
was trained with (`ModelSpec.s2_clip_max`) and its output is mapped back to DN.

Generators run through `predict`'s engine (`sarclear.predict.engine.TorchEngine`: device,
precision, batch-norm mode, folding) over `predict`'s window grid and blending
(`sarclear.inference.windows`), so a tile's score is the score of the GeoTIFF `predict` would write
for it. Dropout is off unless `samples` > 1 (the mean of N stochastic passes, as `predict
--uncertainty`); either way a tile's prediction does not depend on the other tiles in its batch
(per-window batch norm, dropout masks re-seeded per tile).

`adapt` methods (`sarclear.evaluate.adapt_method`) have no weights to load: each tile gets its
own fit, from scratch or fine-tuned from the first `--checkpoint` / `--compare` model that takes
the same inputs (with or without SAR).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sarclear.data.dataset import build_input
from sarclear.data.manifest import Sample
from sarclear.data.normalize import S2_CLIP_MAX_DN, s2_from_network, s2_to_network
from sarclear.errors import ConfigError, LayoutError
from sarclear.evaluate.adapt_defaults import ADAPT_VARIANTS
from sarclear.evaluate.adapt_method import AdaptOptions, AdaptPredictor
from sarclear.evaluate.baselines import Predictor, get_baseline
from sarclear.inference.defaults import DEFAULT_NORM_MODE
from sarclear.inference.norm import resolve_norm_mode
from sarclear.inference.sampling import check_samples
from sarclear.inference.settings import EngineSettings, engine_settings
from sarclear.inference.tiling import WindowGrid
from sarclear.inference.windows import predict_array, run_windows
from sarclear.models.checkpoint import load_generator, resolve_generator_file
from sarclear.models.generator import UNetGenerator
from sarclear.models.spec import ModelSpec
from sarclear.predict.defaults import DEFAULT_BATCH_SIZE, default_overlap
from sarclear.predict.engine import TorchEngine


@dataclass
class Method:
    """One column of the results: a name, how to predict, and the data conventions it needs."""

    name: str
    kind: str  # "baseline", "checkpoint" or "adapt"
    predict: Predictor | AdaptPredictor
    source: str  # baseline name, checkpoint file or adapt variant
    spec: ModelSpec | None = None
    seconds: float = 0.0  # prediction time summed over the scoring pass (fits included for adapt)

    @property
    def size_multiple(self) -> int:
        """Tile sides must be multiples of this (2**n_down for a U-Net; 1 for a baseline)."""
        return 2**self.spec.n_down if self.spec is not None else 1

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "source": self.source, "seconds": round(self.seconds, 2)}
        if self.spec is not None:
            out["spec"] = self.spec.to_dict()
        if isinstance(self.predict, GeneratorPredictor):
            out["engine"] = self.predict.settings.to_dict()
        if isinstance(self.predict, AdaptPredictor):
            out["adapt"] = self.predict.describe()
        return out


@dataclass(frozen=True)
class EngineOptions:
    """How checkpoints run in `evaluate`: `predict`'s options, with `predict`'s defaults."""

    precision: str = "auto"
    norm: str = DEFAULT_NORM_MODE
    tile: int | None = None  # None: the checkpoint's training tile size
    overlap: int | None = None  # None: `default_overlap(tile)`
    batch_size: int = DEFAULT_BATCH_SIZE
    samples: int = 1  # > 1: mean and std of N stochastic passes (uncertainty)
    seed: int = 0


class GeneratorPredictor:
    """`(sar, cloudy_dn) -> DN` with one generator through the inference engine, in its own
    normalisation and input layout; `with_std` also returns the passes' standard deviation (DN)."""

    def __init__(self, generator: UNetGenerator, spec: ModelSpec, device: torch.device, options: EngineOptions) -> None:
        self.spec = spec
        self.options = options
        self.tile = options.tile or spec.tile_size
        self.overlap = default_overlap(self.tile) if options.overlap is None else options.overlap
        if self.tile % 2**spec.n_down:
            raise ConfigError(f"--tile {self.tile}: the checkpoint's U-Net has {spec.n_down} down-samplings, so the tile must be a multiple of {2**spec.n_down}")
        if not 0 <= self.overlap < self.tile:
            raise ConfigError(f"--overlap {self.overlap}: must be >= 0 and smaller than the tile ({self.tile} px)")
        norm = resolve_norm_mode(options.norm, spec.norm_batch)
        self.engine = TorchEngine(generator, device, options.precision, owned=True, norm=norm, seed=options.seed)
        if options.samples > 1:
            check_samples(options.samples, self.engine.has_dropout, "the checkpoint")
        self.settings: EngineSettings = engine_settings(
            self.engine, tile=self.tile, overlap=self.overlap, samples=options.samples, seed=options.seed
        )

    def __call__(self, sar: torch.Tensor, cloudy_dn: torch.Tensor, cloud: object = None, valid: object = None) -> torch.Tensor:
        """The prediction (DN); a generator sees the whole cloudy input, so `cloud` and `valid` are unused."""
        return self.with_std(sar, cloudy_dn)[0]

    def with_std(self, sar: torch.Tensor, cloudy_dn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Prediction and (with `samples` > 1) standard deviation, both `(B, C, H, W)` DN on the input's device."""
        clip = self.spec.s2_clip_max
        x = build_input(sar, s2_to_network(cloudy_dn, clip), self.spec.use_sar).float().cpu().numpy()
        _, _, h, w = x.shape
        samples = self.options.samples
        if h == w == self.tile and samples <= 1:  # one window per tile: the whole batch in one call
            mean, std = run_windows(self.engine, x)
        else:
            grid = WindowGrid(h, w, self.tile, self.overlap)
            means, stds = [], []
            for image in x:
                self.engine.reseed(self.options.seed)  # a tile's passes do not depend on its neighbours
                m, s = predict_array(self.engine, image, grid, pick=range(self.spec.out_channels),
                                     batch_size=self.options.batch_size, samples=samples)  # fmt: skip
                means.append(m)
                stds.append(s)
            mean = np.stack(means)
            std = np.stack(stds) if samples > 1 else None  # type: ignore[arg-type]
        device = cloudy_dn.device
        dn = s2_from_network(torch.from_numpy(np.ascontiguousarray(mean)).to(device), clip)
        return dn, (None if std is None else torch.from_numpy(std * (clip / 2.0)).to(device))


def checkpoint_name(path: str | Path) -> str:
    """A method name from a checkpoint path: the run folder (`RUN`, or `RUN:last` for last)."""
    folder = resolve_generator_file(path).parent
    if folder.name in {"best", "last"} and folder.parent.name == "checkpoints":
        run = folder.parent.parent.name
        return run if folder.name == "best" else f"{run}:{folder.name}"
    return folder.name


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}#{k}", k + 1
    taken.add(candidate)
    return candidate


def adapt_start(methods: Sequence[Method], use_sar: bool) -> str | None:
    """The checkpoint an adapt variant fine-tunes: the first RGB one with the same SAR use, else None (fresh)."""
    for method in methods:
        spec = method.spec
        if method.kind == "checkpoint" and spec is not None and spec.use_sar == use_sar and spec.bands == "rgb" and spec.out_channels == 3:
            return method.source
    return None


def load_methods(
    checkpoint: str | Path | None,
    compare: Iterable[str | Path],
    baselines: Iterable[str],
    device: torch.device,
    options: EngineOptions = EngineOptions(),
    adapt: Iterable[str] = (),
    adapt_options: AdaptOptions = AdaptOptions(),
    adapt_folder: Path = Path("adapt"),
) -> list[Method]:
    """Methods in table order: the checkpoint, the `--compare` checkpoints, the adapt variants
    (`sar`, `no-sar`; their outputs under `adapt_folder`), then the baselines.

    Every checkpoint runs with `options`; `samples` > 1 applies to the first one only (the
    uncertainty of the primary method), the others run one deterministic pass."""
    methods: list[Method] = []
    taken: set[str] = set()
    paths = ([checkpoint] if checkpoint is not None else []) + list(compare)
    for index, path in enumerate(paths):
        generator, spec = load_generator(path, device)
        run_options = options if index == 0 else EngineOptions(**{**options.__dict__, "samples": 1})
        methods.append(
            Method(_unique(checkpoint_name(path), taken), "checkpoint", GeneratorPredictor(generator, spec, device, run_options),
                   str(resolve_generator_file(path)), spec)
        )
    checkpoints = list(methods)
    for variant in adapt:
        if variant not in ADAPT_VARIANTS:
            raise ConfigError(f"unknown --adapt variant {variant!r}; expected {' or '.join(ADAPT_VARIANTS)}")
        use_sar, name = variant == "sar", _unique(ADAPT_VARIANTS[variant], taken)
        predictor = AdaptPredictor(use_sar, adapt_options, adapt_folder / name, adapt_start(checkpoints, use_sar))
        methods.append(Method(name, "adapt", predictor, variant))
    for name in baselines:
        methods.append(Method(_unique(name, taken), "baseline", get_baseline(name), name))
    if not methods:
        raise ConfigError("nothing to evaluate: give --checkpoint, --compare, --adapt or --baseline identity")
    return methods


def data_conventions(methods: Sequence[Method]) -> tuple[str, float]:
    """The band set all methods share and the S2 clip range to load the data with.

    Data is loaded once; each checkpoint re-normalises from DN with its own clip range, which is
    exact as long as the data was loaded with a range at least as wide (hence the max, and at least
    reflectance 1 so the metrics' [0, 1] clip is never pre-empted).
    """
    specs = [m.spec for m in methods if m.spec is not None]
    bands = {s.bands for s in specs}
    if len(bands) > 1:
        detail = ", ".join(f"{m.name}: {m.spec.bands}" for m in methods if m.spec is not None)
        raise ConfigError(f"checkpoints use different band sets ({detail}); compare models trained on the same bands")
    clip = max([S2_CLIP_MAX_DN] + [s.s2_clip_max for s in specs])
    band_set = bands.pop() if bands else "rgb"
    if band_set != "rgb" and any(m.kind == "adapt" for m in methods):
        raise ConfigError(f"--adapt fits and writes RGB (B4 B3 B2); the checkpoints use bands {band_set}, score them without --adapt")
    return band_set, float(clip)


def check_inputs(methods: Sequence[Method], channels: int, height: int, width: int, where: str | Path) -> None:
    """Fail clearly when a tile cannot go through a checkpoint (channels or size).

    A U-Net of `n_down` stride-2 stages runs on any tile whose sides are multiples of 2**n_down
    (so a 32-px-trained model runs on a whole 256-px tile); other sizes would misalign the skips.
    """
    for method in methods:
        if method.spec is None:
            continue
        spec = method.spec
        expected = channels + (2 if spec.use_sar else 0)
        if spec.in_channels != expected or spec.out_channels != channels:
            raise ConfigError(
                f"{method.source}: model takes {spec.in_channels} channels and returns {spec.out_channels}, but the data "
                f"gives {expected} input channels ({channels} optical{' + 2 SAR' if spec.use_sar else ''})"
            )
        multiple = method.size_multiple
        if height % multiple or width % multiple:
            raise LayoutError(
                f"{where}: tile is {width}x{height} px, not a multiple of {multiple} px (2**n_down) as checkpoint "
                f"{method.source} (trained on {spec.tile_size} px tiles) needs; crop the tiles to a multiple of {multiple}"
            )


def skipped_tiles(methods: Sequence[Method], indexes: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """`{tile index: [(method, reason), ...]}` of the tiles among `indexes` an adapt method refused."""
    out: dict[int, list[tuple[str, str]]] = {}
    for index in indexes:
        for m in methods:
            if isinstance(m.predict, AdaptPredictor) and index in m.predict.skipped:
                out.setdefault(index, []).append((m.name, m.predict.skipped[index]))
    return out


def predict_batch(
    batch: dict[str, Any], methods: Sequence[Method], device: torch.device, s2_clip_max: float, samples: Sequence[Sample] = ()
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """`(cloudy_dn, target_dn, {method: prediction_dn}, {method: std_dn})` of a collated batch, all on
    `device`; the std of the methods that ran stochastic passes (`EngineOptions.samples` > 1).

    Adapt methods fit each tile from its files, so they need the dataset's `samples`; a tile they
    refuse is all NaN in their prediction and listed by `skipped_tiles`."""
    sar = batch["sar"].to(device)
    cloudy_dn = s2_from_network(batch["cloudy"].to(device), s2_clip_max)
    target_dn = s2_from_network(batch["clear"].to(device), s2_clip_max)
    cloud, valid = batch["cloud_mask"].to(device), batch["valid_mask"].to(device)
    preds: dict[str, torch.Tensor] = {}
    stds: dict[str, torch.Tensor] = {}
    for m in methods:
        start = time.perf_counter()
        if isinstance(m.predict, GeneratorPredictor):
            preds[m.name], std = m.predict.with_std(sar, cloudy_dn)
            if std is not None:
                stds[m.name] = std
        elif isinstance(m.predict, AdaptPredictor):
            preds[m.name] = m.predict.batch(batch["index"].tolist(), samples, cloud, cloudy_dn)
        else:
            preds[m.name] = m.predict(sar, cloudy_dn, cloud, valid)
        m.seconds += time.perf_counter() - start
    return cloudy_dn, target_dn, preds, stds
