"""Build the two networks and their optimizers, and wrap them for distributed training."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sarclear.config import TrainConfig
from sarclear.errors import ConfigError
from sarclear.models.discriminator import PatchDiscriminator
from sarclear.models.losses import init_weights
from sarclear.models.spec import ModelSpec
from sarclear.train.distributed import DistEnv


def model_spec(config: TrainConfig, provenance: dict[str, str] | None = None, *, world_size: int = 1) -> ModelSpec:
    """The generator spec saved with the weights: architecture, data conventions, how many images
    each batch-norm statistic saw (`world_size` processes share one with SyncBatchNorm), and (from
    `data.provenance.training_provenance`) what it was trained on."""
    m = config.model
    channels = 3 if m.bands == "rgb" else 13
    return ModelSpec(
        in_channels=channels + (2 if m.use_sar else 0),
        out_channels=channels,
        ngf=m.ngf,
        n_down=config.n_down,
        norm=m.norm,
        dropout=m.dropout,
        use_sar=m.use_sar,
        bands=m.bands,
        s2_clip_max=m.s2_clip_max,
        tile_size=config.data.size,
        norm_batch=config.data.batch_size * (world_size if config.run.sync_bn else 1),
        **(provenance or {}),
    )


def build_networks(spec: ModelSpec, *, ndf: int, d_layers: int, seed: int) -> tuple[nn.Module, PatchDiscriminator]:
    """G and D with the reference initialisation, drawn from `seed` (identical on every rank)."""
    torch.manual_seed(seed)
    generator = init_weights(spec.build())
    discriminator = init_weights(
        PatchDiscriminator(spec.in_channels + spec.out_channels, ndf=ndf, n_layers=d_layers, norm=spec.norm)
    )
    return generator, discriminator


def optimizer(module: nn.Module, *, lr: float, betas: tuple[float, float], kind: str = "fused") -> torch.optim.Adam:
    """Adam; `fused` (the default) updates all parameters in one kernel, the fastest on CPU and CUDA
    (docs/train.md); `foreach` is torch's default, `single` the per-parameter loop. Same update rule."""
    options = {"fused": {"fused": True}, "foreach": {"foreach": True}, "single": {"foreach": False}}[kind]
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, **options)


def distribute(module: nn.Module, env: DistEnv, device: torch.device, *, sync_bn: bool) -> nn.Module:
    """DistributedDataParallel under torchrun (optionally with SyncBatchNorm), else the module itself."""
    if not env.enabled:
        return module
    if sync_bn:
        if device.type != "cuda":
            raise ConfigError("--sync-bn needs CUDA GPUs (SyncBatchNorm has no CPU implementation); drop the flag")
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)
