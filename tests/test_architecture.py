"""Dependencies between genrec's parts point one way (docs/architecture.md, "Layers"); no import cycles.

Every module's imports are read from its source (``ast``: top-level, inside functions and under
``TYPE_CHECKING`` alike) and reduced to edges between units: a sub-package (``models``) or a
top-level module (``config``). A unit may import only units of lower layers.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genrec"

#: Lowest first. A unit may import units of lower layers only (and itself).
LAYERS: list[set[str]] = [
    {"genrec", "home", "atomic", "registry", "vectors", "textsafe", "textnorm"},  # leaves: nothing of genrec below them
    {"config"},
    {"nn"},  # torch building blocks
    {"train"},  # the one trainer
    {"data"},
    {"encoders", "semantic_ids", "decoding", "llm"},
    {"models", "fidelity"},
    {"eval"},
    {"protocol"},
    {"generation"},
    {"serve"},
    {"cli"},
]
#: Pairs the layers allow that are still forbidden.
FORBIDDEN = {("fidelity", "llm")}


def unit_of(module: str) -> str:
    """``genrec.models.sasrec`` -> ``models``; ``genrec.config`` -> ``config``; ``genrec`` -> ``genrec``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def dependencies(root: Path) -> dict[tuple[str, str], list[str]]:
    """Edges (importing unit, imported unit) of the package at ``root``, each with the files that make it."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts)
        here = unit_of(module)
        package = module if rel.parts[-1] == "__init__" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    targets = [".".join([*base, node.module] if node.module else base)]
                elif node.module:
                    targets = [node.module]
                if targets and targets[0] == "genrec":  # from genrec import config, nn
                    targets = [f"genrec.{alias.name}" for alias in node.names]
            for target in targets:
                if target == "genrec" or target.startswith("genrec."):
                    there = unit_of(target)
                    if there != here:
                        edges[(here, there)].append(str(path.relative_to(root)))
    return edges


def layer_violations(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Edges that point up or sideways in ``LAYERS`` (or are ``FORBIDDEN``), and units no layer lists."""
    rank = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
    problems = []
    for (src, dst), files in sorted(edges.items()):
        if src not in rank or dst not in rank:
            problems.append(f"{src if src not in rank else dst}: not in any layer (add it to docs/architecture.md)")
        elif rank[dst] >= rank[src] or (src, dst) in FORBIDDEN:
            problems.append(f"{src} imports {dst} ({', '.join(sorted(set(files)))})")
    return problems


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Import cycles between units (strongly connected components with more than one unit)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst in edges:
        graph[src].add(dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {d for ds in graph.values() for d in ds}):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_parts() -> None:
    assert cycles(dependencies(SRC)) == []


def test_dependencies_point_down_the_layers() -> None:
    assert layer_violations(dependencies(SRC)) == []


def test_models_do_not_import_eval() -> None:
    """Early stopping gets its metric as a callback (genrec.train.Validator): models never import eval."""
    assert ("models", "eval") not in dependencies(SRC)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "genrec" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "genrec"


@pytest.mark.parametrize("lazy", [False, True])
def test_the_checks_catch_the_old_eval_models_cycle(tmp_path: Path, lazy: bool) -> None:
    """The eval <-> models cycle genrec had (models importing eval.metrics for validation) is caught,
    whether the import is at the top of the module or inside a function."""
    indent = "def fit():\n    " if lazy else ""
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "eval/__init__.py": "",
            "eval/evaluator.py": "from genrec.models.base import Recommender\n",
            "eval/metrics.py": "import numpy\n",
            "models/__init__.py": "",
            "models/base.py": "",
            "models/sasrec.py": f"{indent}from genrec.eval import metrics as M\n",
        },
    )
    edges = dependencies(root)
    assert cycles(edges) == [["eval", "models"]]
    assert layer_violations(edges) == ["models imports eval (models/sasrec.py)"]


def test_relative_and_package_imports_count(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "data/__init__.py": "from ..models import base\n",
            "config.py": "from genrec import train\n",
            "train.py": "",
            "models/__init__.py": "",
        },
    )
    assert layer_violations(dependencies(root)) == [
        "config imports train (config.py)",
        "data imports models (data/__init__.py)",
    ]
