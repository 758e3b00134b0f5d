"""The classes of a Level-2A product's Scene Classification Layer (SCL) that mean cloud and shadow.

Sen2Cor classifies every 20 m pixel of an L2A product (Sentinel-2 L2A Product Specification,
"Scene Classification"): 0 no data, 1 saturated or defective, 2 dark area, 3 cloud shadow, 4
vegetation, 5 not vegetated, 6 water, 7 unclassified, 8 cloud medium probability, 9 cloud high
probability, 10 thin cirrus, 11 snow or ice. An L2A product has no B10, so s2cloudless cannot run
on it (sarclear falls back to Fmask's spectral tests, which miss thin cirrus and flag bright roofs); the SCL is
ESA's own answer for that very product, so `predict --composite` and `adapt` use it when present.
"""

from __future__ import annotations

#: Cloud medium probability, cloud high probability, thin cirrus.
SCL_CLOUD: tuple[int, ...] = (8, 9, 10)
#: Cloud shadows.
SCL_SHADOW: int = 3
#: No data.
SCL_NODATA: int = 0
