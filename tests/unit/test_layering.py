"""The layering the design card fixes: adapters plug in below `hub/app.py`, which only
composes; no import cycle joins `hub.app`, `schema`, `hub.events` and `adapters`."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "schema", "adapters", "mappings")


def _graph() -> dict[str, set[str]]:
    """Module -> modules it imports (any import: top level, in functions, TYPE_CHECKING)."""
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            graph[name] |= {t for t in targets if t in mods and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(comp)
    return out


def test_no_adapter_imports_the_composition_root() -> None:
    graph = _graph()
    offenders = sorted(
        m for m, deps in graph.items() if m.startswith("adapters") and "hub.app" in deps
    )
    assert offenders == []
    below = sorted(m for m, deps in graph.items() if "hub.app" in deps)
    assert below == [], "hub.app only composes: nothing in hub/, schema/, adapters/ imports it"


def test_no_cycle_joins_the_layers() -> None:
    for cycle in _cycles(_graph()):
        layers = {m.split(".")[0] for m in cycle} | {
            "hub.events" for m in cycle if m.startswith("hub.events")
        }
        assert "hub.app" not in cycle, sorted(cycle)
        assert len(layers - {"hub.events"}) == 1, f"a cycle across layers: {sorted(cycle)}"
