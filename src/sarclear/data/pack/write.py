"""`write_pack`: read every kept tile of a manifest once and store it as memory-mapped arrays.

The tiles are read by `TripletDataset.read_tile`, the code training uses on GeoTIFFs, so the
pack holds exactly what that dataset would have converted (layout: `data/pack/index.py`). Worker
processes each open the output arrays memory-mapped and write their own tiles in place: no tile is
sent between processes, so packing scales with the cores until the disk is the limit.

The S2 dtype of the pack is the first tile's file dtype (uint16 for SEN12MS-CR); every other tile
is checked to be exactly representable in it, so no value is ever rounded on the way in.
Everything is written into a temporary folder that replaces `out` only when complete.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.format import open_memmap

from sarclear import __version__
from sarclear.cores import usable_cores
from sarclear.data.bands import s2_band_indexes
from sarclear.data.dataset import TripletDataset
from sarclear.data.manifest import SPLITS, Sample, read_manifest, select
from sarclear.data.pack.index import (
    ARRAY_FILES,
    FORMAT,
    FORMAT_VERSION,
    INDEX_FILE,
    PackError,
    PackIndex,
    read_index,
)
from sarclear.data.provenance import header_facts
from sarclear.data.triplet import check_triplet
from sarclear.errors import ConfigError, RasterError, SarclearInputError
from sarclear.io.atomic import atomic_directory
from sarclear.io.digest import file_sha256
from sarclear.progress import progress_bar

Arrays = dict[str, np.ndarray]

#: Per-process state of a packing worker: the output arrays (memory-mapped) and the dataset.
_WORKER: dict[str, Any] = {}
#: Tiles per task sent to a worker (the pool's former chunksize): few enough that a bad tile or
#: Ctrl-C waits for little, enough that task overhead stays small.
CHUNK: int = 4


def write_pack(
    manifest: str | Path,
    out: str | Path,
    *,
    splits: Sequence[str] = ("train", "val"),
    bands: str = "rgb",
    workers: int | None = None,
    progress: bool = True,
) -> PackIndex:
    """Pack the kept rows of `splits` of `manifest` into the folder `out` (replaced when complete)."""
    manifest, out = Path(manifest), Path(out)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise ConfigError(f"--splits: {','.join(unknown) or 'none given'}; choose from {','.join(SPLITS)}")
    if out.exists() and not (out / INDEX_FILE).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise PackError(f"{out}: exists and is not a sarclear pack; choose another --out or remove it")
    samples = [s for s in select(read_manifest(manifest), "all") if s.split in splits]
    if not samples:
        raise PackError(f"{manifest}: no kept rows in the {','.join(splits)} split(s); nothing to pack")
    _require_unique_ids(samples, manifest)
    digest = file_sha256(manifest)
    dataset = TripletDataset(samples, bands=bands)
    layout = _layout(samples[0], bands, len(samples))
    workers = workers if workers is not None else usable_cores()

    with atomic_directory(out) as tmp:
        arrays = {kind: open_memmap(tmp / ARRAY_FILES[kind], mode="w+", dtype=dtype, shape=shape)
                  for kind, (dtype, shape) in layout.items()}  # fmt: skip
        facts: list[dict[str, Any] | None] = [None] * len(samples)
        with progress_bar(total=len(samples), desc="pack", unit="tile", disable=not progress) as bar:
            for position, result in _packed(dataset, arrays, tmp, workers):
                if isinstance(result, str):
                    raise SarclearInputError(result)
                facts[position] = result
                bar.update(1)
        for array in arrays.values():
            array.flush()
        del arrays
        index = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "sarclear_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "manifest": {"path": str(manifest.absolute()), "sha256": digest},
            "bands": bands, "splits": list(splits), "tile": list(layout["valid"][1][1:]),
            "arrays": {kind: {"file": ARRAY_FILES[kind], "dtype": np.dtype(dtype).name, "shape": list(shape)}
                       for kind, (dtype, shape) in layout.items()},
            "samples": [{"sample_id": s.sample_id, "split": s.split, "season": s.season, **f} for s, f in zip(samples, facts)],
        }  # fmt: skip
        (tmp / INDEX_FILE).write_text(json.dumps(index, indent=1) + "\n")
    return read_index(out)


def _require_unique_ids(samples: Sequence[Sample], manifest: Path) -> None:
    """Training finds a row's tile by its sample id, so two kept rows may not share one."""
    seen: set[str] = set()
    for sample in samples:
        if sample.sample_id in seen:
            raise PackError(f"{manifest}: sample_id {sample.sample_id} is on more than one kept row; make the ids unique")
        seen.add(sample.sample_id)


def _layout(first: Sample, bands: str, count: int) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """dtype and shape of each array, from the first tile's headers."""
    _, cloudy, clear = check_triplet(first.s1_path, first.s2_cloudy_path, first.s2_path)
    channels = len(s2_band_indexes(clear, bands)[0])
    height, width = clear.shape
    s2 = np.dtype(clear.dtype if clear.dtype == cloudy.dtype else "float32")
    return {
        "s1": (np.dtype("float32"), (count, 2, height, width)),
        "cloudy": (s2, (count, channels, height, width)),
        "clear": (s2, (count, channels, height, width)),
        "valid": (np.dtype("bool"), (count, height, width)),
    }


def _packed(dataset: TripletDataset, arrays: Arrays, folder: Path, workers: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """`(position, header facts or an error message)` per tile, in this process or in a pool."""
    if workers <= 1 or len(dataset) <= 1:
        yield from (_pack_one(dataset, arrays, i) for i in range(len(dataset)))
        return
    for array in arrays.values():
        array.flush()  # the workers map the same files
    # Not multiprocessing.Pool: its terminate() on the first bad tile hung a CI run for good (seen
    # once: the parent waiting on a worker started after the first ones, that worker blocked on a
    # semaphore; most likely the pool replacing a worker while terminate held the task queue's
    # lock). On a bad tile or Ctrl-C the executor's queued chunks are cancelled and the running
    # ones (a few tiles each) finish.
    count = len(dataset)
    with ProcessPoolExecutor(min(workers, count), mp_context=_context(), initializer=_start_worker,
                             initargs=(str(folder), dataset)) as pool:  # fmt: skip
        futures = [pool.submit(_pack_in_worker, range(i, min(i + CHUNK, count))) for i in range(0, count, CHUNK)]
        try:
            for future in as_completed(futures):
                yield from future.result()
        finally:
            for future in futures:
                future.cancel()


def _context() -> Any:
    """fork on Linux: a worker starts in milliseconds with everything imported (as DataLoader
    workers do; this process has opened only the first tile's headers and run no torch op, so no
    thread or open dataset is inherited); spawn elsewhere, where fork is unsafe. With spawn a
    script calling `write_pack` with several workers needs `if __name__ == "__main__":`."""
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _start_worker(folder: str, dataset: TripletDataset) -> None:
    _WORKER["arrays"] = {kind: np.load(Path(folder) / name, mmap_mode="r+") for kind, name in ARRAY_FILES.items()}
    _WORKER["dataset"] = dataset


def _pack_in_worker(positions: range) -> list[tuple[int, dict[str, Any] | str]]:
    return [_pack_one(_WORKER["dataset"], _WORKER["arrays"], position) for position in positions]


def _pack_one(dataset: TripletDataset, arrays: Arrays, position: int) -> tuple[int, dict[str, Any] | str]:
    """Read tile `position` and write it into its row; a bad file comes back as its one-line message
    (a `RasterError` does not survive the trip between processes as itself)."""
    sample = dataset.samples[position]
    try:
        tile = dataset.read_tile(position)
        if tile.valid_mask.shape != arrays["valid"].shape[1:]:
            height, width = arrays["valid"].shape[1:]
            raise RasterError(sample.s2_path, f"tile is {tile.valid_mask.shape[1]}x{tile.valid_mask.shape[0]} px, the "
                              f"pack's tiles are {width}x{height} (from the first row); pack tiles of one size")  # fmt: skip
        arrays["s1"][position] = tile.s1
        arrays["cloudy"][position] = _exactly(tile.cloudy, arrays["cloudy"].dtype, sample.s2_cloudy_path)
        arrays["clear"][position] = _exactly(tile.clear, arrays["clear"].dtype, sample.s2_path)
        arrays["valid"][position] = tile.valid_mask
    except SarclearInputError as exc:
        return position, str(exc)
    synthetic, level = header_facts(sample.s2_path)
    return position, {"synthetic": synthetic, "s2_level": level}


def _exactly(values: np.ndarray, dtype: np.dtype, path: Path) -> np.ndarray:
    """`values` in the pack's S2 dtype, refusing any value that would change on the way."""
    if dtype == values.dtype:
        return values
    cast = values.astype(dtype)
    if not np.array_equal(cast, values):
        raise RasterError(path, f"holds values that {dtype.name} (the first row's dtype) cannot hold exactly; "
                          "pack rows of one S2 dtype")  # fmt: skip
    return cast
