"""s2cloudless's LightGBM booster written out as C, over binned inputs: the same trees, exactly.

Why generated here rather than by a library: Treelite + TL2cgen, lleaves, ONNX Runtime, hummingbird
and oneDAL (daal4py) were measured side by side on genuine tiles (docs/curate.md); the best of them
(TL2cgen) was not fast enough for curation's goal. Two things none of them does make the
difference, and both are exact:

* **Binned inputs.** Every split of this booster is "feature <= threshold" on one of ten features,
  and each feature has at most 255 distinct thresholds over all 170 trees (LightGBM's histogram
  bins). A value's bin, the number of that feature's thresholds below it, decides every split on
  it: ``x <= t[j]`` exactly when ``bin(x) <= j``. So a pixel goes in as ten bytes, and each split
  is one compare of a byte with a small constant, instead of a double loaded and compared with a
  double from a constant pool, behind a missing-value test (TL2cgen's form). The code is about
  half the size and runs about 1.8x faster (docs/curate.md). Bins come from the thresholds by
  `numpy.searchsorted`, or for integer DN through a table built by the same comparison.
* **LightGBM's summation order.** One running sum per pixel goes through the trees in the model's
  order, as LightGBM's `PredictRaw` adds them, so the raw scores are bit-identical to LightGBM's
  (tested), not merely close.

The booster must be what s2cloudless ships: binary objective with a sigmoid, one tree per
iteration, numerical "<=" splits without a missing-value type (LightGBM then reads NaN as 0, and so
do the callers). `UnsupportedBooster` says what else was found; the caller then uses s2cloudless.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The C function every generated block exports: `(bins, rows, margin)`, adds the block's trees to
#: `margin[i]` for each of `rows` rows of `features` bins.
ENTRY_POINT = "sarclear_add_trees"
#: Bumped when the generated code changes, so cached builds of older code are never loaded.
GENERATOR_VERSION = 1


class UnsupportedBooster(RuntimeError):
    """The booster uses something this generator does not write (not s2cloudless's model)."""


@dataclass(frozen=True)
class Forest:
    """The parts of a LightGBM dump that the generated code and its callers need."""

    trees: tuple[dict[str, Any], ...]
    thresholds: tuple[tuple[float, ...], ...]  # per feature, sorted, distinct
    sigmoid_alpha: float

    @property
    def features(self) -> int:
        return len(self.thresholds)

    @property
    def bin_type(self) -> str:
        """The smallest unsigned C type holding every bin (0 to the most thresholds of a feature)."""
        return "uint8_t" if max(len(t) for t in self.thresholds) <= 255 else "uint16_t"


def _splits(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        node = stack.pop()
        if "leaf_index" not in node and "leaf_value" not in node:
            yield node
            stack += [node["left_child"], node["right_child"]]


def forest_of(dump: dict[str, Any]) -> Forest:
    """Check a `Booster.dump_model()` and collect its thresholds; `UnsupportedBooster` if it is not
    the kind of model this generator writes exactly."""
    objective = str(dump.get("objective", ""))
    match = re.fullmatch(r"binary sigmoid:([0-9.eE+-]+)", objective)
    if not match:
        raise UnsupportedBooster(f"objective {objective!r}, expected a binary sigmoid")
    if dump.get("num_class") != 1 or dump.get("num_tree_per_iteration") != 1:
        raise UnsupportedBooster("more than one tree per iteration")
    features = int(dump["max_feature_idx"]) + 1
    thresholds: list[set[float]] = [set() for _ in range(features)]
    for tree in dump["tree_info"]:
        for split in _splits(tree["tree_structure"]):
            kind = (split.get("decision_type"), split.get("missing_type"))
            if kind != ("<=", "None"):
                raise UnsupportedBooster(f"a split of kind {kind}, expected numerical '<=' without missing values")
            thresholds[int(split["split_feature"])].add(float(split["threshold"]))
    return Forest(
        trees=tuple(tree["tree_structure"] for tree in dump["tree_info"]),
        thresholds=tuple(tuple(sorted(t)) for t in thresholds),
        sigmoid_alpha=float(match.group(1)),
    )


def _tree_lines(root: dict[str, Any], index: Sequence[dict[float, int]]) -> list[str]:
    """Nested if/else of one tree: a split on feature f at threshold t[j] is `x[f] <= j`."""
    lines: list[str] = []

    def emit(node: dict[str, Any], depth: int) -> None:
        pad = " " * depth
        if "leaf_value" in node:
            lines.append(f"{pad}return {float(node['leaf_value'])!r};")  # repr: the same double back
            return
        feature = int(node["split_feature"])
        lines.append(f"{pad}if (x[{feature}] <= {index[feature][float(node['threshold'])]}) {{")
        emit(node["left_child"], depth + 1)
        lines.append(f"{pad}}} else {{")
        emit(node["right_child"], depth + 1)
        lines.append(f"{pad}}}")

    emit(root, 1)
    return lines


def block_source(forest: Forest, start: int, count: int) -> str:
    """C for trees `start` to `start + count - 1`: one function per tree, and `ENTRY_POINT`, which
    runs every row through them in order, adding each tree's leaf to the row's running sum."""
    index = [{t: j for j, t in enumerate(ts)} for ts in forest.thresholds]
    kind = forest.bin_type
    out = ["/* Generated by sarclear.data.s2cloudless_codegen from s2cloudless's booster. */",
           "#include <stdint.h>", ""]
    trees = range(start, min(start + count, len(forest.trees)))
    for t in trees:
        out.append(f"static double tree_{t}(const {kind} *restrict x) {{")
        out += _tree_lines(forest.trees[t], index)
        out.append("}")
    out += [
        "",
        f"void {ENTRY_POINT}(const {kind} *restrict bins, int64_t rows, double *restrict margin) {{",
        "  for (int64_t i = 0; i < rows; ++i) {",
        f"    const {kind} *x = bins + {forest.features} * i;",
        "    double sum = margin[i];",
        *[f"    sum += tree_{t}(x);" for t in trees],
        "    margin[i] = sum;",
        "  }",
        "}",
        "",
    ]
    return "\n".join(out)


def bins_of(values: np.ndarray, thresholds: Sequence[float], dtype: np.dtype) -> np.ndarray:
    """Each value's bin: how many of `thresholds` (sorted) lie below it, so `value <= thresholds[j]`
    exactly when `bin <= j`. NaN is read as 0, as LightGBM does for splits without a missing type."""
    values = np.asarray(values, dtype=np.float64)
    values = np.where(np.isnan(values), 0.0, values)
    return np.searchsorted(np.asarray(thresholds, dtype=np.float64), values, side="left").astype(dtype)
