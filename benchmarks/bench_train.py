"""Speed and memory of full Pix2Pix training steps (G + D forward, backward, Adam) as one JSON line.

    python benchmarks/bench_train.py --size 256 --batch-size 1 --steps 20

Runs the training code itself (`sarclear.train.step.gan_step`, the networks and optimizers of
`sarclear.train.nets`) on random tensors, so data loading is excluded; the default model is the
54M-parameter Pix2Pix U-Net + 70x70 PatchGAN. Defaults are what `sarclear train` does; the flags
switch single optimisations off or on, to measure what each gives (`--baseline`: float32, eager,
NCHW tensors, the default (foreach) Adam, every convolution through PyTorch's own
`nn.Conv2d`/`nn.ConvTranspose2d`, glibc's default allocator settings: a plain Pix2Pix step;
`bench_train_ablation.py` runs the variants side by side). Step times are wall-clock;
`images_per_s` uses the median step (robust to a few interruptions). On a machine shared with
other jobs wall time is meaningless; the process CPU time per step (`cpu_s_per_step_median`,
best measured with `--threads 1`) is much less affected, and the load average is reported so
such runs can be spotted.

FLOPs: one extra step, before the warm-up, runs eagerly under `torch.utils.flop_counter.FlopCounterMode`
(convolutions and matrix products, forward and backward, as PyTorch counts them: a
multiply-add is 2 FLOPs). `tflops` is that count per image times images/s; with `--peak-tflops P`
the JSON also holds `utilisation` = tflops / P (for a GPU, pass its dense bf16 peak; the figure is
copied into the JSON so every result says which peak it was divided by).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from sarclear.models.spec import ModelSpec, depth_for_size
from sarclear.train.cpu_speedups import CpuSpeedups, apply_cpu_speedups
from sarclear.train.nets import build_networks, optimizer
from sarclear.train.precision import resolve_precision
from sarclear.train.step import gan_step, valid_or_none

#: What `--baseline` switches off: float32, eager, NCHW, foreach Adam, PyTorch's own convolutions,
#: glibc's default allocator settings.
BASELINE: dict[str, object] = {
    "precision": "32", "adam": "foreach", "compile": False, "matmul_conv": False,
    "channels_last": False, "d_channels_last": False, "keep_freed_memory": False,
}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--steps", type=int, default=20, help="timed steps (after --warmup untimed ones)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--precision", default="auto", choices=("auto", "32", "bf16", "16"))
    p.add_argument("--adam", default="fused", choices=("fused", "foreach", "single"), help="Adam implementation")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=False,
                   help="NHWC G and batches (sarclear train keeps them NCHW on every device)")
    p.add_argument("--d-channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC discriminator (default: as sarclear train does: on a CPU yes, on CUDA no)")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D")
    p.add_argument("--compile-mode", default="default", choices=("default", "reduce-overhead", "max-autotune-no-cudagraphs"),
                   help="torch.compile's mode; reduce-overhead replays CUDA graphs, which removes the per-kernel launch "
                        "cost that bounds a batch-1 step on a fast GPU")  # fmt: skip
    p.add_argument("--matmul-conv", action=argparse.BooleanOptionalAction, default=True,
                   help="G's convolutions over <= 64 px as matrix products, as sarclear train does on a CPU")
    p.add_argument("--keep-freed-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="glibc keeps freed memory (no page faults each step), as sarclear train does on a CPU")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when present, else cpu)")
    p.add_argument("--peak-tflops", type=float, help="the device's peak TFLOP/s, to report utilisation (e.g. a GPU's dense bf16 peak)")
    p.add_argument("--nodata-columns", type=int, default=0,
                   help="a fill stripe this wide in every batch, so the L1 loss runs masked (0: all valid, unmasked)")
    p.add_argument("--baseline", action="store_true",
                   help="start from a plain Pix2Pix step (BASELINE); flags given beside it still apply")
    args = p.parse_args()
    if args.baseline:  # the plain step becomes the defaults, so e.g. `--baseline --keep-freed-memory` works
        p.set_defaults(**BASELINE)
        args = p.parse_args()
    return args


def main() -> None:
    args = parse()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    precision = resolve_precision(args.precision, device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    spec = ModelSpec(ngf=args.ngf, n_down=depth_for_size(args.size), tile_size=args.size)
    generator, discriminator = build_networks(spec, ndf=args.ndf, d_layers=3, seed=0)
    generator.to(device, memory_format=fmt)
    discriminator.to(device)
    d_channels_last = args.d_channels_last if args.d_channels_last is not None else device.type == "cpu"
    applied = apply_cpu_speedups(generator, discriminator, device, CpuSpeedups(
        keep_freed_memory=args.keep_freed_memory, matmul_conv=args.matmul_conv,
        channels_last_discriminator=d_channels_last))
    d_fmt = applied.discriminator_format
    if device.type != "cpu" and d_channels_last:  # the CPU speed-ups leave other devices alone; asked for here
        d_fmt = torch.channels_last
        discriminator.to(memory_format=d_fmt)
    opt_g = optimizer(generator, lr=2e-4, betas=(0.5, 0.999), kind=args.adam)
    opt_d = optimizer(discriminator, lr=2e-4, betas=(0.5, 0.999), kind=args.adam)
    g_run = torch.compile(generator, mode=args.compile_mode) if args.compile else generator
    d_run = torch.compile(discriminator, mode=args.compile_mode) if args.compile else discriminator
    # CUDA graphs are replayed per iteration: say where one begins, so the previous step's outputs
    # may be overwritten (torch.compiler docs, "CUDAGraph Trees").
    graphs = args.compile and args.compile_mode == "reduce-overhead" and device.type == "cuda"
    scaler = precision.grad_scaler()
    x = torch.randn(args.batch_size, spec.in_channels, args.size, args.size, device=device).contiguous(memory_format=fmt)
    y = torch.rand(args.batch_size, spec.out_channels, args.size, args.size, device=device).mul(2).sub(1)
    y = y.contiguous(memory_format=fmt)
    valid_mask = torch.ones(args.batch_size, 1, args.size, args.size)  # on the CPU, as a batch's mask arrives
    valid_mask[..., : args.nodata_columns] = 0

    cpu_times: list[float] = []

    def step(g: torch.nn.Module = g_run, d: torch.nn.Module = d_run) -> float:
        start, cpu_start = time.perf_counter(), time.process_time()
        if graphs and g is g_run:
            torch.compiler.cudagraph_mark_step_begin()
        losses = gan_step(x, y, generator=g, discriminator=d, critic=d, opt_g=opt_g, opt_d=opt_d, scaler=scaler,
                          autocast=precision.autocast, lambda_l1=100.0, gan_mode="vanilla",
                          valid=valid_or_none(valid_mask, device))
        losses.tolist()  # waits for the device
        cpu_times.append(time.process_time() - cpu_start)
        return time.perf_counter() - start

    with FlopCounterMode(display=False) as counter:  # eager modules: the counter cannot see into compiled graphs
        step(generator, discriminator)
    cpu_times.clear()
    flop_per_image = counter.get_total_flops() / args.batch_size
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    load_before = os.getloadavg()[0]
    warm = [step() for _ in range(args.warmup)]
    times = [step() for _ in range(args.steps)]
    median = statistics.median(times)
    tflops = flop_per_image * args.batch_size / median / 1e12
    print(json.dumps({
        "images_per_s": round(args.batch_size / median, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "step_s_median": round(median, 4),
        "step_s_min": round(min(times), 4),
        "step_s_mean": round(statistics.fmean(times), 4),
        "cpu_s_per_step_median": round(statistics.median(cpu_times[args.warmup:]), 4),
        "first_step_s": round(warm[0], 2) if warm else None,
        "size": args.size, "batch_size": args.batch_size, "steps": args.steps,
        "precision": precision.name, "adam": args.adam, "channels_last": fmt == torch.channels_last,
        "d_channels_last": d_fmt == torch.channels_last,
        "compile": args.compile, "compile_mode": args.compile_mode if args.compile else None, "matmul_conv_layers": applied.matmul_conv_layers,
        "keep_freed_memory": applied.kept_freed_memory, "nodata_columns": args.nodata_columns,
        "threads": torch.get_num_threads(), "device": str(device),
        "params_g": sum(p.numel() for p in generator.parameters()),
        "params_d": sum(p.numel() for p in discriminator.parameters()),
        "peak_cuda_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "gflop_per_image": float(f"{flop_per_image / 1e9:.4g}"), "tflops": float(f"{tflops:.4g}"),
        "peak_tflops": args.peak_tflops, "utilisation": float(f"{tflops / args.peak_tflops:.4g}") if args.peak_tflops else None,
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
