"""Draw docs/images/shadows_s2cloudless.png: the cloud and shadow masks over s2cloudless's whole test scene.

    python tests/data/s2cloudless-shadows/figure.py [/path/to/input_arrays.npz]

The masks are made as `predict --composite` makes them (s2cloudless's reference probabilities,
sarclear's post-processing, `sarclear.data.shadows` with predict's default dilation, no sun
angles: the archive has none); prints the shares as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from sarclear.data import shadows
from sarclear.data.clouds import mask_from_probability
from sarclear.predict.defaults import SHADOW_DILATION_PX

SOURCE = Path("../shared/data/real-scenes/s2cloudless-scene/input_arrays.npz")
OUT = Path("docs/images/shadows_s2cloudless.png")
BANDS = {"B2": 1, "B3": 2, "B4": 3, "B8": 7, "B11": 11}
CLOUD_RGB, SHADOW_RGB = np.array([255, 255, 0]), np.array([255, 0, 255])


def main(source: Path) -> None:
    arrays = np.load(source)
    image = arrays["s2_im"][0]
    planes = {name: np.round(image[..., i] * 10000).astype(np.uint16) for name, i in BANDS.items()}
    cloud = mask_from_probability(arrays["cl_probs"][0])
    valid = np.ones(cloud.shape, dtype=bool)
    reference = shadows.reference_levels(planes, valid & ~cloud)
    shadow = shadows.shadow_mask(planes, cloud, valid, reference, dilation=SHADOW_DILATION_PX)
    rgb = np.clip(image[..., [3, 2, 1]] / 0.3 * 255, 0, 255)
    drawn = rgb.copy()
    drawn[cloud] = 0.5 * drawn[cloud] + 0.5 * CLOUD_RGB
    drawn[shadow] = 0.3 * drawn[shadow] + 0.7 * SHADOW_RGB
    gap = np.full((rgb.shape[0], 8, 3), 255.0)
    picture = Image.fromarray(np.concatenate([rgb, gap, drawn], axis=1).astype(np.uint8))
    picture.quantize(256, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)  # 256 colours: a third of the bytes
    print(json.dumps({"figure": str(OUT), "cloud_pct": round(100 * float(cloud.mean()), 2),
                      "shadow_pct": round(100 * float(shadow.mean()), 2), "reference_b8_b11": reference}))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
