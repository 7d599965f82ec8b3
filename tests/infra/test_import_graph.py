"""The shape of shared/: no import cycles, counting lazy and TYPE_CHECKING imports,
between modules nor between its top-level packages (shared.channels, shared.x, ...).

A cycle hidden inside a function or behind TYPE_CHECKING still ties two modules
together (neither can be understood, tested or moved without the other), so every
import statement counts here, wherever it is. Packages are layers: shared.x (accounts,
posts, publishing) uses shared.channels (network code), never the other way round.
"""

from __future__ import annotations

from tests.infra import codemap


def _graph() -> dict[str, set[str]]:
    modules = {codemap._module_name(p): p for p in codemap.SHARED.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in codemap._imports(path):
            # `from shared.a import b` names shared.a.b (a module or not): the module is
            # the longest prefix that is one.
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(f"{target}."):
                edges.add(target)
        graph[name] = edges
    return graph


def _packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph folded by top-level package of shared/ (shared.x.worker is
    shared.x; a module directly in shared/, such as shared.http, is its own)."""

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    folded: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = folded.setdefault(package(module), set())
        edges.update(package(t) for t in targets if package(t) != package(module))
    return folded


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_shared_has_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_shared_packages_have_no_import_cycles() -> None:
    assert _cycles(_packages(_graph())) == []


def test_packages_fold_modules_by_top_level_package() -> None:
    graph = {
        "shared.x.worker": {"shared.channels.base", "shared.x.models", "shared.http"},
        "shared.x.models": set(),
        "shared.channels.base": {"shared.x.models"},
        "shared.http": set(),
    }
    folded = _packages(graph)
    assert folded == {
        "shared.x": {"shared.channels", "shared.http"},
        "shared.channels": {"shared.x"},
        "shared.http": set(),
    }
    assert _cycles(folded) == [["shared.channels", "shared.x"]]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_lazy_and_type_checking_imports_count() -> None:
    graph = _graph()
    assert "shared.metrics.dispatch" in graph["shared.metrics.worker"]  # inside fold()
    assert "shared.runtime" in graph["shared.email.feedback"]  # under TYPE_CHECKING
