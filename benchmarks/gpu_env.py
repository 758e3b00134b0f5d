"""The machine a GPU check ran on, as one JSON line: Python, torch, CUDA, cuDNN, NCCL, the GPU,
the driver, the CPUs, and which optional packages import.

    python benchmarks/gpu_env.py

Runs without CUDA too (the GPU fields are then absent). Whether the device runs bf16 natively is
included: `auto` precision in `sarclear train` and `sarclear predict` follows it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys


def nvidia_smi() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    query = "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit"
    try:
        done = subprocess.run(["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def nccl_version() -> str | None:
    """NCCL's version as torch reports it (a tuple in recent releases, an int in older ones)."""
    import torch

    try:
        version = torch.cuda.nccl.version()
    except Exception:  # a build without NCCL
        return None
    return ".".join(map(str, version)) if isinstance(version, tuple) else str(version)


def gpu_fields() -> dict[str, object]:
    import torch

    if not torch.cuda.is_available():
        return {"cuda_available": False}
    device = torch.device("cuda", 0)
    props = torch.cuda.get_device_properties(device)
    return {
        "cuda_available": True,
        "gpu_count": torch.cuda.device_count(),
        "gpu": props.name,
        "compute_capability": list(torch.cuda.get_device_capability(device)),
        "gpu_memory_gib": round(props.total_memory / 2**30, 1),
        "multiprocessors": props.multi_processor_count,
        "nccl": nccl_version(),
        "nvidia_smi": nvidia_smi(),
    }


def main() -> None:
    import torch

    from sarclear.doctor import version_of  # package metadata: no slow imports (whether they import is the probe's job)
    from sarclear.native_bf16 import has_native_bf16

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fields: dict[str, object] = {
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": str(device),
        "device_native_bf16": has_native_bf16(device),  # what `auto` precision follows (sarclear/native_bf16.py)
        **gpu_fields(),
        "numpy": version_of("numpy"),
        "rasterio": version_of("rasterio"),
        "gdal": None,
        "s2cloudless": version_of("s2cloudless"),
        "sentinelhub": version_of("sentinelhub"),
        "lightgbm": version_of("lightgbm"),
        "onnxruntime": version_of("onnxruntime"),
        "torchmetrics": version_of("torchmetrics"),
        "pytest": version_of("pytest"),
    }
    if fields["rasterio"]:
        try:
            import rasterio

            fields["gdal"] = rasterio.__gdal_version__
        except ImportError as exc:  # installed but broken (e.g. a wheel for another Python)
            fields["gdal"] = f"rasterio does not import: {exc}"
    print(json.dumps(fields))


if __name__ == "__main__":
    main()
