"""Cloud masks without B10 on genuine scenes: the spectral test against the RGB brightness test.

Why: an L2A product has no B10, so s2cloudless cannot run; until this change sarclear fell back to
the RGB brightness test, which missed a grey overcast scene and flagged a snowfield. This measures
both tests on every genuine scene of `../shared/data/real-scenes` (and the SEN12MS-CR triplets in
tests/data), full resolution, with the masks' shared post-processing (average 4 px, > 0.4,
dilation 2 px):

* L2A scenes (no reference mask exists): each test's cloud cover; which scene is overcast, clear or
  snow is stated from looking at it (the figure).
* L1C scenes (13 bands): s2cloudless on all 13 is the reference; both tests read only the bands an
  L2A product has, so this is a proxy (top-of-atmosphere reflectance, not surface) for how they
  agree with s2cloudless: cover, pixel agreement and IoU.

Prints one JSON object; `--figure PNG` draws RGB and the masks of `FIGURE_ROWS`, one per row.
Run: `python benchmarks/bench_l2a_clouds.py --scenes ../shared/data/real-scenes --figure docs/images/l2a_clouds.png`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import rasterio

from sarclear.data import clouds
from sarclear.data.bands import S2_BANDS
from sarclear.data.cloud_bands import SPECTRAL_BANDS
from sarclear.io.geotiff import raster_info

#: The figure's rows: the overcast and the snow L2A scenes, a clear one, and s2cloudless's own L1C scene.
FIGURE_ROWS: tuple[str, ...] = ("N0400", "_57_38", "s2a20200813", "s2cloudless-scene")
TESTS_DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _folders(scenes: Path) -> dict[str, Path]:
    """Name -> S2 band folder of every genuine per-band scene under `scenes` (N9999 lacks its offset: skipped)."""
    found = sorted(scenes.glob("ssl4eo-s12/s2*/*/*")) + sorted(scenes.glob("major-tom-l2a/*/*/*"))
    found += sorted(scenes.glob("bigearthnet-v1/BigEarthNet-S2-Example/*"))
    return {f"{p.parts[-3] if 'ssl4eo' in str(p) else ''}{p.name}": p for p in found if p.is_dir() and "N9999" not in p.name}


def _read(path: Path) -> tuple[np.ndarray, list[str]]:
    info = raster_info(path)
    with rasterio.open(info.dataset) as src:
        dn = src.read().astype(np.float32)
    named = all(info.descriptions)
    return dn, [str(d) for d in info.descriptions] if named else list(S2_BANDS)  # SEN12MS-CR: 13 bands, no names


def _masks(dn: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    band = {name: dn[i] for i, name in enumerate(names)}
    six = np.stack([band[b] for b in SPECTRAL_BANDS])
    out = {"brightness": clouds.cloud_mask(six[:3], method="brightness")[0], "spectral": clouds.cloud_mask(six, method="spectral")[0]}
    if all(b in band for b in S2_BANDS):
        out["s2cloudless"] = clouds.cloud_mask(np.stack([band[b] for b in S2_BANDS]), method="s2cloudless")[0]
    return out


def _scores(mask: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    union = int((mask | reference).sum())
    return {"agreement_pct": round(100.0 * float((mask == reference).mean()), 1),
            "iou": round(float((mask & reference).sum()) / union, 3) if union else 1.0}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, default=Path("../shared/data/real-scenes"), help="the genuine scenes' folder")
    parser.add_argument("--figure", type=Path, help="write RGB and masks of every scene here (PNG)")
    args = parser.parse_args(argv)
    inputs = dict(_folders(args.scenes))
    inputs.update({p.stem: p for p in sorted(TESTS_DATA.glob("sen12mscr-real/*_s2*/*/*.tif"))})
    inputs.update({p.stem: p for p in sorted(args.scenes.glob("sen12mscr-no-target/**/*s2_cloudy*.tif"))})
    npz = args.scenes / "s2cloudless-scene" / "input_arrays.npz"
    rows, pictures = [], []
    for name, path in inputs.items():
        dn, names = _read(path)
        rows.append((name, dn, names))
    if npz.exists():
        z = np.load(npz)
        rows.append(("s2cloudless-scene", np.moveaxis(z["s2_im"][0], -1, 0) * 10000, list(S2_BANDS)))
    result: dict[str, dict] = {}
    for name, dn, names in rows:
        masks = _masks(dn, names)
        entry: dict[str, object] = {"bands": len(names), "shape": list(dn.shape[1:])}
        entry.update({f"{k}_pct": round(100.0 * float(m.mean()), 1) for k, m in masks.items()})
        if "s2cloudless" in masks:
            entry.update({f"{k}_vs_s2cloudless": _scores(masks[k], masks["s2cloudless"]) for k in ("brightness", "spectral")})
        result[name] = entry
        if any(key in name for key in FIGURE_ROWS):
            pictures.append((name, dn, names, masks))
    print(json.dumps(result, indent=1))
    if args.figure:
        _figure(pictures, args.figure)
    return 0


def _figure(pictures: list, out: Path) -> None:
    from matplotlib.figure import Figure

    from sarclear.report.images import figure_png

    fig = Figure(figsize=(8, 2.1 * len(pictures)))
    axes = fig.subplots(len(pictures), 4, squeeze=False)
    for row, (name, dn, names, masks) in zip(axes, pictures):
        rgb = np.stack([dn[names.index(b)] for b in ("B4", "B3", "B2")], -1)
        row[0].imshow(np.clip(rgb / max(float(np.percentile(rgb, 99)), 1.0), 0, 1))
        row[0].set_title(name[:34], fontsize=7)
        for ax, key in zip(row[1:], ("brightness", "spectral", "s2cloudless")):
            if key in masks:
                ax.imshow(masks[key], vmin=0, vmax=1, cmap="gray")
                ax.set_title(f"{key} {100 * masks[key].mean():.1f} %", fontsize=7)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    out.write_bytes(figure_png(fig))


if __name__ == "__main__":
    raise SystemExit(main())
