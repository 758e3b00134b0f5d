"""`curate`: find triplets, measure (or reuse cached statistics), apply the rules, write the outputs.

Streaming from end to end: triplets are handled in batches; each batch's cache misses are measured
in a process pool, its rows go straight into the manifest writer and the `Tally`. Nothing holds
images or all rows at once. ROOT is only ever read.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import multiprocessing as mp
import os
import platform
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from sarclear import __version__
from sarclear.cores import usable_cores
from sarclear.curate import figures
from sarclear.curate.cache import CACHE_FILENAME, StatsCache, triplet_key
from sarclear.curate.measure import MeasureSettings, measure_job, measure_triplet
from sarclear.curate.report import Tally, summary_markdown, write_summary
from sarclear.curate.rules import DEFAULT_SEASON_SIGMA, REASON_DESCRIPTIONS, Thresholds, decide
from sarclear.curate.shard import RECORDS_FILENAME, Shard, write_records
from sarclear.curate.stats import STAT_COLUMNS
from sarclear.data import clouds, s2cloudless_fast
from sarclear.data.layout import Triplet, find_triplets
from sarclear.data.manifest import CORE_COLUMNS, write_manifest
from sarclear.errors import ConfigError, LayoutError
from sarclear.progress import progress_bar

BATCH = 1024
MANIFEST_COLUMNS: tuple[str, ...] = CORE_COLUMNS + STAT_COLUMNS


@dataclass(frozen=True)
class CurateResult:
    """Where the outputs are and what the run did (`measured` + `cached` == `total`)."""

    manifest: Path
    summary: Path
    total: int
    kept: int
    rejected: int
    measured: int
    cached: int

    def one_line(self) -> str:
        return (
            f"curate: {self.total} triplets, {self.kept} kept, {self.rejected} rejected "
            f"({self.measured} measured, {self.cached} from cache) -> {self.manifest}"
        )


def check_output_dir(root: Path, out: Path, triplets: Sequence[Triplet]) -> None:
    """Refuse an output folder that is ROOT itself or anywhere inside it: the dataset is only ever
    read (a curation folder inside it would also be walked by every later scan of ROOT)."""
    root_r, out_r = root.resolve(), out.resolve()
    if out_r == root_r:
        raise LayoutError(f"{out}: the output folder is the dataset root; choose another one (ROOT is never written to)")
    tops = {
        Path(p).relative_to(root).parts[0]
        for t in triplets
        for p in (t.s1_path, t.s2_cloudy_path, t.s2_path)
        if p is not None
    }
    for top in sorted(tops):
        folder = root_r / top
        if out_r == folder or folder in out_r.parents:
            raise LayoutError(
                f"{out}: the output folder is inside the triplet folder {folder}; choose a folder outside it"
            )
    if root_r in out_r.parents:
        raise LayoutError(f"{out}: the output folder is inside the dataset root {root}; choose one outside it (ROOT is only ever read)")


def check_root_is_the_dataset(root: Path, triplets: Sequence[Triplet]) -> None:
    """Refuse a ROOT that is one modality's folder of the official layout (`ROIs1868_summer_s1/`):
    every triplet then lacks two files, and curation would reject all of them as `missing_file`
    (exit 0, nothing kept) instead of saying that the dataset is the folder above."""
    if not triplets or any(t.s1_path and t.s2_cloudy_path and t.s2_path for t in triplets):
        return
    name = root.resolve().name
    if name.endswith(("_s1", "_s2", "_s2_cloudy")) and name.startswith("ROIs"):
        raise LayoutError(f"{root}: is one modality's folder of a SEN12MS-CR dataset, so no triplet is complete; "
                          f"give the folder above it ({root.resolve().parent}), which holds the _s1, _s2 and _s2_cloudy folders")


def check_seasons(thresholds: Thresholds, triplets: Sequence[Triplet]) -> None:
    """Refuse a `--season-sigma` season no triplet has (`sumer=20` was stored and ignored: summer
    kept its threshold); the defaults' own seasons are always allowed."""
    present = {t.season for t in triplets}
    unknown = sorted(set(thresholds.season_sigma) - present - set(DEFAULT_SEASON_SIGMA))
    if unknown:
        raise ConfigError(f"--season-sigma {', '.join(unknown)}: no triplet of this dataset has that season "
                          f"(seasons here: {', '.join(sorted(present))}); check the spelling")


def _paths(t: Triplet) -> dict[str, Path | None]:
    return {"s1": t.s1_path, "s2_cloudy": t.s2_cloudy_path, "s2": t.s2_path}


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _absolute(path: Path | None) -> str:
    """`str(path.absolute())`, without building a new Path when it is absolute already (the listing's
    paths are: one row is built per triplet, 122,218 on SEN12MS-CR, and in every merge)."""
    if not path:
        return ""
    text = os.fspath(path)
    return text if os.path.isabs(text) else str(Path(text).absolute())


def build_row(t: Triplet, record: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """One manifest row: identity, paths (absolute), decision, then every statistic."""
    reasons = decide(t.missing, record, t.season, thresholds)
    row: dict[str, Any] = {
        "sample_id": t.sample_id,
        "season": t.season,
        "scene": t.scene,
        "patch": t.patch,
        "split": t.split,
        "s1_path": _absolute(t.s1_path),
        "s2_cloudy_path": _absolute(t.s2_cloudy_path),
        "s2_path": _absolute(t.s2_path),
        "kept": not reasons,
        "reasons": reasons,
    }
    for column in STAT_COLUMNS:
        row[column] = _clean(record.get(column))
    # a missing file is a problem message too (the column promises every one, naming the file)
    missing = [f"{t.sample_id}: no {modality} file found (SEN12MS-CR names it like the triplet's others)" for modality in t.missing]
    row["errors"] = " | ".join([*missing, *(record.get("errors") or [])])
    return row


def _context(cloud_method: str) -> Any:
    """forkserver where available: workers fork from a clean, single-threaded server that imported
    the measuring modules once (no inherited threads, locks or open files, and no per-worker import
    cost: s2cloudless is slow to import, docs/curate.md); spawn elsewhere. Either way a script calling
    `curate` with several workers needs `if __name__ == "__main__":`."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        runs_reference = cloud_method == "s2cloudless-reference" or (
            cloud_method == "s2cloudless" and s2cloudless_fast.unavailable_reason() is not None  # the fallback runs it
        )
        heavy = ["s2cloudless"] if runs_reference else []
        preload = ["sarclear.curate.measure"] + [m for m in heavy if importlib.util.find_spec(m) is not None]
        ctx.set_forkserver_preload(preload)
        return ctx
    return mp.get_context("spawn")


class _Measurer:
    """Measures cache misses: in this process for one worker, else in a lazily started pool."""

    def __init__(self, workers: int, settings: MeasureSettings) -> None:
        self.workers = workers
        self.settings = settings
        # In the pool LightGBM gets one thread per worker, so `workers` processes use `workers` cores.
        self._pool_settings = MeasureSettings(settings.display_max_dn, settings.cloud_method, num_threads=1)
        self._pool: Any = None

    def __call__(self, jobs: list[dict[str, Path | None]]) -> Iterator[dict[str, Any]]:
        if self.workers <= 1 or len(jobs) <= 1:
            return (measure_triplet(paths, self.settings) for paths in jobs)
        if self._pool is None:
            self._pool = _context(self.settings.cloud_method).Pool(self.workers)
        return self._pool.imap(measure_job, [(paths, self._pool_settings) for paths in jobs], chunksize=4)

    def close(self, abort: bool = False) -> None:
        """Wait for the workers to exit; on `abort` (an error, Ctrl-C) stop them at once."""
        if self._pool is not None:
            if abort:
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None


def _measured(
    triplets: Sequence[Triplet],
    cache: StatsCache,
    measurer: _Measurer,
    settings_key: dict[str, Any],
    progress: bool,
) -> Iterator[tuple[Triplet, dict[str, Any], bool]]:
    """`(triplet, statistics record, came from the cache)` for every triplet, in order, batch by batch."""
    with progress_bar(total=len(triplets), unit="triplet", desc="curate", disable=not progress) as bar:
        for start in range(0, len(triplets), BATCH):
            batch = triplets[start : start + BATCH]
            keys = [triplet_key(_paths(t), settings_key) for t in batch]
            records = cache.get_many(keys)
            misses = [i for i, key in enumerate(keys) if key not in records]
            cached = set(records)
            bar.update(len(batch) - len(misses))
            fresh = []
            for i, record in zip(misses, measurer([_paths(batch[i]) for i in misses])):
                records[keys[i]] = record
                fresh.append((keys[i], record))
                bar.update(1)
            cache.put_many(fresh)
            for t, key in zip(batch, keys):
                yield t, records[key], key in cached


def _rows(
    pairs: Iterable[tuple[Triplet, dict[str, Any], bool]], thresholds: Thresholds, tally: Tally
) -> Iterator[dict[str, Any]]:
    """Manifest rows of measured triplets, each counted in `tally` as it passes."""
    for t, record, cached in pairs:
        if cached:
            tally.cached += 1
        else:
            tally.measured += 1
        row = build_row(t, record, thresholds)
        tally.add(row)
        yield row


def _versions() -> dict[str, str | None]:
    import numpy
    import rasterio

    out: dict[str, str | None] = {"sarclear": __version__, "python": platform.python_version()}
    out.update(numpy=numpy.__version__, rasterio=rasterio.__version__)
    try:
        out["s2cloudless"] = importlib_metadata.version("s2cloudless")
    except importlib_metadata.PackageNotFoundError:
        out["s2cloudless"] = None
    return out


def measurement_info(settings: MeasureSettings) -> dict[str, Any]:
    """How the statistics were made, for `manifest.json` and `summary.md` (shards must agree on it)."""
    return {
        "display_max_dn": settings.display_max_dn,
        "rendering": f"RGB = B4, B3, B2; DN clipped to [0, {settings.display_max_dn:g}], scaled to [0, 255], rounded to uint8",
        "contrast_sigma": "standard deviation of all values of the (3, H, W) uint8 rendering of the clear target",
        "cloud_method": settings.cloud_method,
        "settings_key": settings.key(),
    }


def run_metadata(root: Path, thresholds: Thresholds, measurement: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """`manifest.json`: everything needed to interpret the manifest's numbers."""
    return {
        "tool": "sarclear curate",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "root": str(root),
        "thresholds": thresholds.as_dict(),
        "measurement": measurement,
        "reason_codes": REASON_DESCRIPTIONS,
        "versions": _versions(),
        **extra,
    }


def write_outputs(
    out: Path,
    pairs: Iterable[tuple[Triplet, dict[str, Any], bool]],
    *,
    root: Path,
    thresholds: Thresholds,
    settings: MeasureSettings,
    metadata: dict[str, Any],
    per_reason_sample: int = 6,
) -> CurateResult:
    """Rules, manifest, figures and summary from measured triplets: shared by a run and a merge,
    so a merge of shards writes what one run over all of them writes."""
    tally = Tally(per_reason_sample=per_reason_sample)
    manifest = write_manifest(out / "manifest.csv", _rows(pairs, thresholds, tally), MANIFEST_COLUMNS, metadata)
    figures.sigma_histogram(out / "sigma_histogram.png", tally.sigma, thresholds.sigma_for, settings.display_max_dn)
    figures.contact_sheet(out / "rejected_contact_sheet.png", tally.samples, settings.display_max_dn)
    text = summary_markdown(tally, thresholds, metadata["measurement"], root)
    summary = write_summary(out / "summary.md", text)
    return CurateResult(manifest, summary, tally.total, tally.kept, tally.rejected, tally.measured, tally.cached)


def curate(
    root: str | Path,
    out: str | Path,
    *,
    thresholds: Thresholds,
    settings: MeasureSettings,
    workers: int | None = None,
    cache_path: Path | None | str = "default",
    progress: bool = True,
    per_reason_sample: int = 6,
    shard: Shard | None = None,
) -> CurateResult:
    """Curate the triplets under `root` into `out` (manifest.csv + .json, summary.md, two PNGs).

    `cache_path` is 'default' (`out/stats_cache.sqlite`), a path, or None (no cache). With `shard`,
    only that shard's triplets are curated and `out/shard_records.jsonl` is written for the merge.
    """
    root, out = Path(root), Path(out)
    triplets = find_triplets(root)
    check_output_dir(root, out, triplets)
    check_root_is_the_dataset(root, triplets)
    check_seasons(thresholds, triplets)
    if shard is not None:
        triplets = [t for t in triplets if shard.holds(t.sample_id)]
    out.mkdir(parents=True, exist_ok=True)
    if cache_path == "default":
        cache_path = out / CACHE_FILENAME
    workers = workers or usable_cores()
    extra = {"shard": shard.as_dict()} if shard is not None else {}
    metadata = run_metadata(root.resolve(), thresholds, measurement_info(settings), **extra)
    clouds.prepare(settings.cloud_method, log=lambda text: print(f"curate: {text}"))
    measurer = _Measurer(workers, settings)
    with StatsCache(Path(cache_path) if cache_path else None) as cache:
        try:
            pairs = _measured(triplets, cache, measurer, settings.key(), progress)
            if shard is not None:
                pairs = write_records(out / RECORDS_FILENAME, pairs)
            result = write_outputs(
                out, pairs, root=root.resolve(), thresholds=thresholds, settings=settings,
                metadata=metadata, per_reason_sample=per_reason_sample,
            )
        except BaseException:
            measurer.close(abort=True)
            raise
        measurer.close()
    return result
