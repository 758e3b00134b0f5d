"""`adapt --fill-only`: the fill adapt's model would start from, written as the output, no model fitted.

Why: a scene under 10 % clear is too cloudy to fit a model from (`scene.check_clear_enough`), but
with a clearer date of the same place (`--reference`) its fill alone can be good: on the genuine
benchmark's two such scenes the reference fill scored 33.55 / 0.730 and 35.02 / 0.755 (PSNR /
SSIM inside clouds) where adapt could only refuse (docs/adapt.md). It is also the seconds-long
baseline the fit is judged against. The output goes through the same writer as a fitted model's
(`predict_with_engine`, composite): observed pixels where clear, the fill under the mask, the
same tags, with `SARCLEAR_MODEL_TRAINED_ON` = `none` and a summary that says no model was fitted.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from sarclear.models.spec import ModelSpec

#: What the output's model tags say instead of a training summary.
SUMMARY: str = "no model: sarclear adapt --fill-only wrote its fill (graded in, or from the reference) under the clouds"


class FillOnly(nn.Module):
    """Returns the optical channels of its input unchanged: the filled scene, in network units, as
    a generator's output is (so the composite under the mask is the fill itself)."""

    def __init__(self, use_sar: bool) -> None:
        super().__init__()
        self.start = 2 if use_sar else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.start + 3]


def fill_only_spec(spec: ModelSpec, level: str) -> ModelSpec:
    """`spec` (a fresh model's: its bands and tile size) saying that no model was trained."""
    return dataclasses.replace(spec, training_data="none", s2_level=level, training_summary=SUMMARY)
