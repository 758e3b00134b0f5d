"""Imports go one way through the layers of docs/architecture.md: io -> data -> models -> stages -> commands -> cli.

A newcomer can change a lower layer without reading the upper ones only while no lower module
imports an upper one; this test reads every `import` of the package (module level and inside
functions) and names the first one that breaks the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sarclear"

#: Top-level module or sub-package -> its layer. A module may import its own package and lower layers.
LAYERS: dict[str, int] = {
    "errors": 0, "storage_errors": 0, "signals": 0, "native_bf16": 0, "cores": 0, "progress": 0, "__init__": 0,
    "io": 1,
    "data": 2,
    "models": 3, "report": 3,
    "config": 4, "inference": 4,
    "curate": 5, "train": 5, "predict": 5,
    "evaluate": 6, "adapt": 6, "doctor": 6,
    "demo": 7,
    "commands": 8,
    "cli": 9, "__main__": 10,
}
#: Imports across siblings of one layer, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {
    ("train", "evaluate"): "validation scores with the evaluation metrics (evaluate/metrics.py)",
    ("evaluate", "adapt"): "evaluate --adapt scores the GeoTIFF adapt_scene writes for each tile (evaluate/adapt_method.py)",
    ("demo", "cli"): "the demo runs the same commands a user types (sarclear.cli.main)",
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, name.split(".")[1]) for name in names if name.startswith("sarclear.")]
    return found


def test_every_import_goes_down_the_layers() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        owner = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        assert owner in LAYERS, f"{owner}: add it to LAYERS here and to docs/architecture.md"
        for line, target in _imports(path):
            assert target in LAYERS, f"{path}:{line}: sarclear.{target} is not in LAYERS"
            if target == owner or (owner, target) in ALLOWED:
                continue
            if LAYERS[target] >= LAYERS[owner]:
                problems.append(f"{path.relative_to(PACKAGE)}:{line} ({owner}) imports sarclear.{target}")
    assert not problems, "imports against the layers of docs/architecture.md:\n" + "\n".join(problems)
