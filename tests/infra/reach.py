"""Symbol-level reachability from a function's entry point.

Module-level import reachability says nearly every function reaches nearly everything
(dispatch imports the X package, which also holds the OAuth flow that writes secrets),
which would force broad grants. This follows what can actually run: the entry point,
the module bodies executed on import (decorators and registries included), and the
top-level functions and classes each reached body names, through imports (lazy ones
too). A reached class counts whole. Calls through values (callbacks, getattr) are not
followed: the sinks we look for are method calls on runtime objects, matched where
they are written.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

from tests.infra.codemap import FUNCTIONS, ROOT, SHARED, _tree, dispatch_sources, module_path

Symbol = tuple[Path, str | None]  # (module file, top-level name or None for the module body)


def _modname(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(path: Path) -> str:
    name = _modname(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _resolve_from(path: Path, node: ast.ImportFrom) -> str:
    base = node.module or ""
    if node.level:
        anchor = _package(path).split(".")
        if node.level > 1:
            anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base]) if base else ".".join(anchor)
    return base


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@functools.cache
def _index(
    path: Path,
) -> tuple[dict[str, ast.AST], dict[str, tuple[str, str | None]], list[ast.stmt]]:
    """Top-level defs (and assigned names), import bindings, module-body statements."""
    tree = _tree(path)
    defs: dict[str, ast.AST] = {}
    body: list[ast.stmt] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defs[stmt.name] = stmt
            if stmt.decorator_list:  # decorators run on import (route/function registration)
                body.append(stmt)
        elif _is_type_checking(stmt):
            continue
        else:
            body.append(stmt)
            targets = (
                stmt.targets
                if isinstance(stmt, ast.Assign)
                else ([stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
            )
            for t in targets:
                if isinstance(t, ast.Name):
                    defs.setdefault(t.id, stmt)
    bindings: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bindings[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    bindings.setdefault(top, (top, None))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(path, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                bindings[alias.asname or alias.name] = (
                    (sub, None) if module_path(sub) else (base, alias.name)
                )
    return defs, bindings, body


def _module_files(name: str) -> Iterator[Path]:
    """Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        found = module_path(".".join(parts[:i]))
        if found:
            yield found


def _imports_in(nodes: list[ast.AST], path: Path) -> Iterator[str]:
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Import):
                yield from (a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_from(path, node)
                yield base
                yield from (
                    f"{base}.{a.name}" for a in node.names if module_path(f"{base}.{a.name}")
                )


def _attr_chain(node: ast.Attribute) -> list[str] | None:
    parts: list[str] = []
    cur: ast.expr = node
    while isinstance(cur, ast.Attribute):
        parts.append(cur.attr)
        cur = cur.value
    if isinstance(cur, ast.Name):
        return [cur.id, *reversed(parts)]
    return None


def _annotation_nodes(roots: list[ast.AST]) -> set[int]:
    """Nodes inside annotations: never evaluated (`from __future__ import annotations`)."""
    skip: set[int] = set()
    for root in roots:
        for node in ast.walk(root):
            annotations: list[ast.expr | None] = []
            if isinstance(node, ast.arg):
                annotations.append(node.annotation)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                annotations.append(node.returns)
            elif isinstance(node, ast.AnnAssign):
                annotations.append(node.annotation)
            for ann in annotations:
                if ann is not None:
                    skip.update(id(n) for n in ast.walk(ann))
    return skip


def _references(path: Path, nodes: list[ast.AST]) -> Iterator[Symbol]:
    defs, bindings, _ = _index(path)
    for name in _imports_in(nodes, path):
        for file in _module_files(name):
            yield (file, None)
    skip = _annotation_nodes(nodes)
    for root in nodes:
        for node in ast.walk(root):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Name):
                if node.id in defs:
                    yield (path, node.id)
                elif node.id in bindings:
                    yield from _bound(*bindings[node.id])
            elif isinstance(node, ast.Attribute):
                chain = _attr_chain(node)
                if chain and chain[0] in bindings:
                    module, attr = bindings[chain[0]]
                    if attr is None:  # module.a.b...: walk submodules, then one symbol
                        dotted = module
                        for part in chain[1:]:
                            if module_path(f"{dotted}.{part}"):
                                dotted = f"{dotted}.{part}"
                                continue
                            yield from _bound(dotted, part)
                            break


def _bound(module: str, attr: str | None) -> Iterator[Symbol]:
    file = module_path(module)
    if file is None:
        return
    yield (file, None)
    if attr is not None:
        defs, bindings, _ = _index(file)
        if attr in defs:
            yield (file, attr)
        elif attr in bindings:  # re-exported name
            yield from _bound(*bindings[attr])


def _escaping_modules(path: Path, nodes: list[ast.AST]) -> Iterator[Path]:
    local: dict[str, str] = {}  # local name -> module imported in the function
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        local[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_from(path, node)
                for a in node.names:
                    if module_path(f"{base}.{a.name}"):
                        local[a.asname or a.name] = f"{base}.{a.name}"
    if not local:
        return
    as_owner = {
        id(n.value) for root in nodes for n in ast.walk(root) if isinstance(n, ast.Attribute)
    }
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and node.id in local and id(node) not in as_owner:
                file = module_path(local[node.id])
                if file is not None:
                    yield file


@functools.cache
def _nodes(path: Path, name: str | None) -> tuple[ast.AST, ...]:
    defs, _, body = _index(path)
    if name is None:
        return tuple(body)
    return (defs[name],) if name in defs else ()


@functools.cache
def _next(path: Path, name: str | None) -> tuple[Symbol, ...]:
    """The symbols one symbol's code can bring to run (cached across functions)."""
    nodes = list(_nodes(path, name))
    if not nodes:
        return ()
    out: list[Symbol] = list(_references(path, nodes))
    if name is not None:
        if path == SHARED / "dispatch.py" and name == "load_sources":
            # Sources are imported by name (SOURCE_PATHS) when the dispatcher runs.
            for mod in dispatch_sources():
                out.extend((f, None) for f in _module_files(mod))
        # A module imported inside a function and then returned or passed on as a
        # value (`def _svc(): from shared.x import service; return service`) counts whole,
        # including what it re-exports (a service facade's imported names).
        for file in _escaping_modules(path, nodes):
            mdefs, mbindings, _ = _index(file)
            out.extend((file, d) for d in mdefs)
            for local_name, (module, attr) in mbindings.items():
                if attr is not None and not local_name.startswith("_"):
                    out.extend(_bound(module, attr))
    return tuple(dict.fromkeys(out))


@functools.cache
def reached(function: str) -> dict[Path, tuple[ast.AST, ...]]:
    """For each module file: the AST nodes (module body statements, defs) that can run."""
    mains = sorted((FUNCTIONS / function).glob("*.py"))
    todo: list[Symbol] = [(m, None) for m in mains] + [(m, function) for m in mains]
    seen: set[Symbol] = set()
    out: dict[Path, list[ast.AST]] = {}
    while todo:
        sym = todo.pop()
        if sym in seen:
            continue
        seen.add(sym)
        nodes = _nodes(*sym)
        if nodes:
            out.setdefault(sym[0], []).extend(nodes)
        todo.extend(_next(*sym))
    return {p: tuple(n) for p, n in out.items()}
