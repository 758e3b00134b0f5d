"""Cut `crop.npz` from s2cloudless's test scene (see SOURCE.md): run from the repository root.

    python tests/data/s2cloudless-shadows/make_crop.py [/path/to/input_arrays.npz]

Deterministic: the same window and the same rounding every time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SOURCE = Path("../shared/data/real-scenes/s2cloudless-scene/input_arrays.npz")
#: Rows and columns of the window: a cumulus field over forest and fields, beside the estuary's mud.
ROWS, COLS = slice(712, 856), slice(40, 232)
#: SEN12MS-CR band positions of B2, B3, B4, B8, B11 in the scene's 13-band stack.
BANDS = {"B2": 1, "B3": 2, "B4": 3, "B8": 7, "B11": 11}


def main(source: Path) -> None:
    arrays = np.load(source)
    image = arrays["s2_im"][0, ROWS, COLS]  # (H, W, 13) TOA reflectance
    dn = {name: np.round(image[..., i] * 10000).astype(np.uint16) for name, i in BANDS.items()}
    probs = arrays["cl_probs"][0, ROWS, COLS].astype(np.float32)
    out = Path(__file__).with_name("crop.npz")
    np.savez_compressed(out, cl_probs=probs, **dn)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
