"""The sliding-window loop: strips of rows in, blended predictions out, one band of rows at a time.

For each row of windows the reader returns one full-width strip (`tile` rows), windows are cut
from it in memory and sent through the engine in batches, and the rows no later window covers are
handed on. Memory is a strip of input plus a band of accumulators, whatever the scene's size.
Windows without a single valid pixel are skipped (their output is nodata anyway).

The next strip is read in a background thread while the engine runs on this one (GDAL and torch
both release the GIL), and the read is always finished before a block is handed on, so the caller
may use the same reader (for cloud masks) without two threads ever sharing a dataset handle.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sarclear.data.bands import S2_RGB_POSITIONS
from sarclear.data.normalize import s2_from_network
from sarclear.data.valid import valid_pixels
from sarclear.inference.tiling import WindowGrid
from sarclear.inference.windows import WindowBlend, batches, run_windows
from sarclear.predict.engine import Engine
from sarclear.predict.prepare import network_input, pad_to
from sarclear.predict.reader import SceneReader
from sarclear.progress import progress_bar
from sarclear.signals import stop_signals_blocked

__all__ = ["RowBlock", "batches", "predicted_rows", "rgb_channels"]


@dataclass(frozen=True)
class RowBlock:
    """Finished rows `r0 <= r < r1` of the scene, full width."""

    r0: int
    r1: int
    predicted: np.ndarray  # (3, n, W) float32 DN, B4 B3 B2
    observed: np.ndarray  # (3, n, W) the cloudy input's B4 B3 B2 DN
    valid: np.ndarray  # (n, W) bool: S2 and S1 hold data (where the model can run)
    #: (n, W) bool where the S2 alone holds data: a composite keeps its clear pixels where S1 is missing.
    observed_valid: np.ndarray
    std: np.ndarray | None = None  # (3, n, W) float32 DN: spread of the stochastic passes (with samples > 1)


def rgb_channels(out_channels: int) -> list[int]:
    """Which generator outputs are B4, B3, B2: all three of an RGB model, bands 4, 3, 2 of a 13-band one."""
    if out_channels == 3:
        return [0, 1, 2]
    if out_channels == 13:
        return list(S2_RGB_POSITIONS)
    raise ValueError(f"a generator with {out_channels} output channels has no known RGB (expected 3 or 13)")


def _read_strip(reader: SceneReader, top: int, bottom: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """S2 model bands (DN), S1 (dB or None), the validity of both, and of the S2 alone, of rows
    `top .. bottom`, full width."""
    inputs = reader.inputs
    s2 = reader.s2(top, bottom, inputs.model_bands)
    s1 = reader.s1(top, bottom) if inputs.s1 is not None else None
    s2_valid = valid_pixels(s2, None, s2_nodata=inputs.s2.nodata)
    return s2, s1, (s2_valid if s1 is None else s2_valid & valid_pixels(None, s1)), s2_valid


def _windows(strip: np.ndarray | None, cols: Sequence[int], tile: int) -> np.ndarray | None:
    """`(N, C, tile, tile)` windows at columns `cols` of a strip padded to at least one tile."""
    if strip is None:
        return None
    padded = pad_to(strip, tile, tile)
    return np.stack([padded[:, :tile, c : c + tile] for c in cols])


def predicted_rows(
    engine: Engine,
    reader: SceneReader,
    grid: WindowGrid,
    *,
    s2_clip_max: float,
    out_channels: int,
    batch_size: int,
    samples: int = 1,
    progress: bool = True,
) -> Iterator[RowBlock]:
    """Blended predictions over the whole scene, top to bottom, in `RowBlock`s.

    Strips stay in their stored units and dtypes; only a batch of windows is converted to network
    units at a time, which keeps the float copies small on a 10980 px wide scene. With `samples`
    > 1 each window is the mean of that many stochastic passes and the blocks carry their std.
    """
    inputs = reader.inputs
    tile, w = grid.tile, grid.window_width
    blend = WindowBlend(grid, rgb_channels(out_channels), uncertainty=samples > 1)
    dn_per_unit = s2_clip_max / 2.0  # s2_from_network is linear: [-1, 1] -> [0, clip]
    observed_pick = [inputs.model_bands.index(b) for b in inputs.rgb_bands]  # the model reads RGB or all 13 bands
    starts = grid.row_starts
    with (
        progress_bar(total=grid.n_windows, unit="window", desc="predict", disable=not progress, dynamic_ncols=True) as bar,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sarclear-read") as pool,
    ):

        def read(index: int) -> Future[tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]]:
            """Start reading window row `index`'s strip in the background."""
            return pool.submit(_read_strip, reader, starts[index], min(starts[index] + tile, grid.height))

        with stop_signals_blocked():  # the first read starts the thread: see `stop_signals_blocked`
            pending = read(0)
        for index, top in enumerate(starts):
            s2, s1, valid, s2_valid = pending.result()
            if index + 1 < len(starts):
                pending = read(index + 1)
            cols = [c for c in grid.col_starts if valid[:, c : c + w].any()]
            bar.update(len(grid.col_starts) - len(cols))
            for batch in batches(cols, batch_size):
                x = network_input(_windows(s2, batch, tile), _windows(s1, batch, tile), s2_clip_max)  # type: ignore[arg-type]
                blend.add(top, batch, run_windows(engine, x, samples))
                bar.update(len(batch))
            end = grid.final_row(index)
            rows, std = blend.flush(end)
            if index + 1 < len(starts):
                pending.exception()  # wait for the read (its error, if any, is raised at the next strip)
            yield RowBlock(
                top, end, s2_from_network(rows, s2_clip_max).astype(np.float32), s2[observed_pick, : end - top], valid[: end - top],
                s2_valid[: end - top], None if std is None else (std * dn_per_unit).astype(np.float32),
            )  # fmt: skip
