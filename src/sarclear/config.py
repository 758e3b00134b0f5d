"""Typed training configuration: dataclass defaults <- YAML file <- flags, saved with every run.

The defaults live here and nowhere else: they are the Pix2Pix recipe, and `configs/seed.yaml`
spells out exactly these values (a test compares the two). `layered_config` layers a YAML file
(`--config`) and then the flags over them; the command line only maps flags to dotted keys. The
resolved configuration is written to `RUN/config.yaml`, which is also what `--resume` reads back,
so a run can always be reproduced from its folder. A YAML file uses the section names below; an
unknown key is an error, not silently ignored. `optim.decay_epochs: null` means "the last half of
`epochs`", so changing `epochs` (by YAML or `--epochs`) moves the decay with it, while an explicit
`decay_epochs` is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from sarclear.data.normalize import S2_CLIP_MAX_DN
from sarclear.errors import ConfigError
from sarclear.io.atomic import atomic_output

PRECISIONS = ("auto", "32", "bf16", "16")


@dataclass(frozen=True)
class ModelConfig:
    """Generator and discriminator architecture (Pix2Pix defaults: U-Net ngf 64, 70x70 PatchGAN ndf 64)."""

    ngf: int = 64
    ndf: int = 64
    d_layers: int = 3
    n_down: int | None = None  # None: follows the tile size (log2(size), 8 at 256 px)
    norm: str = "batch"
    dropout: bool = True
    use_sar: bool = True  # False: optical-only ablation (3 input channels)
    bands: str = "rgb"  # rgb (B4, B3, B2) or all13
    s2_clip_max: float = S2_CLIP_MAX_DN


@dataclass(frozen=True)
class DataConfig:
    """What the loader feeds: crop size, batch size per process, worker processes, sampling."""

    size: int = 256
    batch_size: int = 1
    workers: int = 2
    season_balanced: bool = False


@dataclass(frozen=True)
class OptimConfig:
    """Adam and the schedule of Pix2Pix: constant lr, then linear decay over `decay_epochs`."""

    epochs: int = 200
    decay_epochs: int | None = None  # None: the last half of `epochs` (100 + 100 in the reference)
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    gan_mode: str = "vanilla"  # vanilla (BCE) or lsgan


@dataclass(frozen=True)
class RunConfig:
    """How the run is executed and recorded; none of it changes what the model learns per image."""

    seed: int = 0
    precision: str = "auto"  # auto, 32, bf16, 16 (fp16 needs CUDA)
    compile: bool = False
    max_steps: int | None = None
    log_every: int = 100  # steps between metrics.csv rows
    val_every: int = 0  # steps between validations; 0 = at each epoch end only
    ckpt_every: int = 2000  # steps between checkpoints of last/ (also at each epoch end)
    val_tiles: int | None = 1000  # validate on at most this many val tiles (evenly spaced); None = all
    sample_tiles: int = 4  # rows in the PNG grid of RUN/samples
    sync_bn: bool = False  # SyncBatchNorm across processes (CUDA only)


@dataclass(frozen=True)
class TrainConfig:
    """Everything `train` needs: the manifest, the run folder, an optional pack, and the four sections above."""

    manifest: str = ""
    out: str = ""
    pack: str = ""  # a `sarclear pack` folder of the manifest's tiles: read instead of the GeoTIFFs
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    @property
    def decay_epochs(self) -> int:
        """Epochs of linear decay at the end of training (half of them when not set)."""
        return self.optim.epochs // 2 if self.optim.decay_epochs is None else self.optim.decay_epochs

    @property
    def n_down(self) -> int:
        from sarclear.models.spec import depth_for_size

        return depth_for_size(self.data.size) if self.model.n_down is None else self.model.n_down


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    return asdict(config)


def config_from_dict(data: Mapping[str, Any], source: str = "config") -> TrainConfig:
    """Build and validate a config from nested mappings; unknown keys raise `ConfigError`."""
    config = _build(TrainConfig, data, source, "")
    validate(config, source)
    return config


def _build(cls: type, data: Mapping[str, Any], source: str, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'top level'} must be a mapping, got {data!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}; valid: {', '.join(known)}")
    values: dict[str, Any] = {}
    defaults = cls()
    for name, value in data.items():
        default = getattr(defaults, name)
        if is_dataclass(default):
            values[name] = _build(type(default), value or {}, source, f"{prefix}{name}.")
        else:
            values[name] = _coerce(value, default, f"{prefix}{name}", source)
    return cls(**values)


def _coerce(value: Any, default: Any, key: str, source: str) -> Any:
    """YAML and argparse values to the field's type (`precision: 32` is read as the string "32")."""
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
    try:
        if isinstance(default, str):
            return str(value)
        return type(default)(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {key} must be a {type(default).__name__}, got {value!r}") from exc


def validate(config: TrainConfig, source: str = "config") -> None:
    """Reject values that would fail later, deep inside training, with a less helpful message."""
    m, d, o, r = config.model, config.data, config.optim, config.run
    checks = [
        (d.size >= 32 and d.size & (d.size - 1) == 0, f"data.size must be a power of two >= 32, got {d.size}"),
        (m.norm in ("batch", "instance"), f"model.norm must be batch or instance, got {m.norm!r}"),
        (m.bands in ("rgb", "all13"), f"model.bands must be rgb or all13, got {m.bands!r}"),
        (m.ngf > 0 and m.ndf > 0 and m.d_layers >= 1, "model.ngf, model.ndf and model.d_layers must be positive"),
        (m.n_down is None or 5 <= m.n_down <= d.size.bit_length() - 1, f"model.n_down must be in 5..log2(size), got {m.n_down}"),
        (d.batch_size >= 1 and d.workers >= 0, "data.batch_size must be >= 1 and data.workers >= 0"),
        (o.gan_mode in ("vanilla", "lsgan"), f"optim.gan_mode must be vanilla or lsgan, got {o.gan_mode!r}"),
        (o.epochs >= 1 and 0 <= config.decay_epochs <= o.epochs, f"optim.decay_epochs must be in 0..epochs ({o.epochs}), got {o.decay_epochs}"),
        (o.lr > 0 and 0 <= o.beta1 < 1 and 0 <= o.beta2 < 1 and o.lambda_l1 >= 0, "optim: lr > 0, betas in [0, 1), lambda_l1 >= 0"),
        (r.precision in PRECISIONS, f"run.precision must be one of {', '.join(PRECISIONS)}, got {r.precision!r}"),
        (r.max_steps is None or r.max_steps >= 1, f"run.max_steps must be >= 1, got {r.max_steps}"),
        (min(r.log_every, r.ckpt_every) >= 1 and r.val_every >= 0, "run.log_every and run.ckpt_every must be >= 1, run.val_every >= 0"),
        (r.val_tiles is None or r.val_tiles >= 1, f"run.val_tiles must be >= 1, got {r.val_tiles}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")


def load_config(path: str | Path) -> TrainConfig:
    """A YAML file (any subset of the sections) on top of the defaults."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    return config_from_dict(data, str(path))


def layered_config(config_file: str | Path | None, overrides: Mapping[str, Any], source: str = "command line") -> TrainConfig:
    """The defaults, then `config_file` (when given), then `overrides` (dotted keys, `None` = not given)."""
    base = load_config(config_file) if config_file is not None else TrainConfig()
    return with_overrides(base, overrides, source)


def with_overrides(config: TrainConfig, overrides: Mapping[str, Any], source: str = "command line") -> TrainConfig:
    """Apply dotted-key overrides (`{"data.size": 64, "out": "run"}`); `None` values are skipped."""
    data = config_to_dict(config)
    for key, value in overrides.items():
        if value is None:
            continue
        *sections, name = key.split(".")
        target = data
        for section in sections:
            target = target[section]
        target[name] = value
    return config_from_dict(data, source)


def save_config(config: TrainConfig, path: str | Path) -> Path:
    """Write the resolved config as YAML (atomically), loadable again with `load_config`."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path
