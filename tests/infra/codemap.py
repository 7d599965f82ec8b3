"""What the application code needs from the infrastructure, read from the code itself.

For each folder under functions/, the Python modules it can reach (main.py and the
shared/ modules it imports, lazily or not, transitively; plus the dispatch sources named
in shared.dispatch.SOURCE_PATHS) and, in them: environment variables read, app secrets
read, per-user secrets written or read, queue kinds and targets enqueued, media storage
used, and alert types logged.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
SHARED = ROOT / "shared"

ENV_NAME = re.compile(r"^(?:HERALD_[A-Z0-9_]*|GOOGLE_CLOUD_PROJECT|FIRESTORE_EMULATOR_HOST)$")


def function_folders() -> list[str]:
    """Every folder under functions/ that is a function (has main.py or requirements.txt)."""
    return sorted(
        p.name
        for p in FUNCTIONS.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and any(p.glob("*.py"))
    )


def module_path(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "shared":
        return None
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return None


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            found.add(base)
            # `from shared.x import y` may import the submodule shared.x.y
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and _call_name(node) in ("import_module", "importlib.import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        inner = func.value
        prefix = inner.id + "." if isinstance(inner, ast.Name) else ""
        return prefix + func.attr
    return ""


def dispatch_sources() -> list[str]:
    """Modules listed in shared.dispatch.SOURCE_PATHS (imported by name at run time)."""
    tree = _tree(SHARED / "dispatch.py")
    out: list[str] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "SOURCE_PATHS" for t in targets):
            value = node.value
            if isinstance(value, ast.List | ast.Tuple):
                out += [
                    e.value.partition(":")[0] for e in value.elts if isinstance(e, ast.Constant)
                ]
        # SOURCE_PATHS.append("...") / .extend([...])
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "SOURCE_PATHS"
        ):
            for arg in node.args:
                for const in ast.walk(arg):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str):
                        out.append(const.value.partition(":")[0])
    return out


@functools.cache
def reachable(function: str) -> tuple[Path, ...]:
    """main.py (and sibling modules) of the function plus every shared module it reaches."""
    start = sorted((FUNCTIONS / function).glob("*.py"))
    seen: dict[Path, None] = {}
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        names = set(_imports(path))
        if path == SHARED / "dispatch.py":
            names.update(dispatch_sources())
        for name in names:
            parts = name.split(".")
            # importing shared.a.b runs shared/__init__, shared/a/__init__ too
            for i in range(1, len(parts) + 1):
                target = module_path(".".join(parts[:i]))
                if target and target not in seen:
                    todo.append(target)
    return tuple(sorted(seen))


def _constants(paths: Iterable[Path]) -> dict[str, str]:
    """Module-level NAME = "string" constants (to resolve app_secret(SIGNING_KEY))."""
    out: dict[str, str] = {}
    for path in paths:
        for node in _tree(path).body:
            if (
                isinstance(node, ast.Assign | ast.AnnAssign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        out[t.id] = node.value.value
    return out


def _str_arg(node: ast.expr | None, consts: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.Attribute):
        return consts.get(node.attr)
    return None


@dataclass
class Needs:
    env: set[str] = field(default_factory=set)  # exact names
    env_prefixes: set[str] = field(default_factory=set)  # e.g. HERALD_URL_ (f-strings)
    app_secrets: set[str] = field(default_factory=set)
    dynamic_app_secret: list[str] = field(default_factory=list)  # unresolved call sites
    writes_user_secrets: bool = False
    reads_user_secrets: bool = False
    enqueue_kinds: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    routes: set[tuple[str, str]] = field(default_factory=set)  # (kind, target) of a TaskSpec
    enqueues: bool = False
    media: bool = False
    media_write: bool = False  # stores images (shared.media.put), not only reads them
    alerts: set[str] = field(default_factory=set)
    dynamic_alert: list[str] = field(default_factory=list)  # unresolved alert types
    where: dict[str, list[str]] = field(default_factory=dict)  # need -> ["file:line"]

    def note(self, what: str, path: Path, node: ast.AST) -> None:
        rel = path.relative_to(ROOT)
        self.where.setdefault(what, []).append(f"{rel}:{getattr(node, 'lineno', 0)}")


def _is_secrets_call(node: ast.Call, method: str) -> bool:
    """runtime.secrets.put(...) / self.secrets.get(...) / secrets.put(...)."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == method):
        return False
    owner = func.value
    name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
    return name in ("secrets", "_secrets", "secret_store", "store") and "secret" in ast.unparse(
        owner
    )


def _walk(roots: Iterable[ast.AST]) -> Iterable[ast.AST]:
    for root in roots:
        yield from ast.walk(root)


def scan(paths: Iterable[Path], units: dict[Path, tuple[ast.AST, ...]] | None = None) -> Needs:
    """The needs of whole files, or (units) of just the given nodes of each file."""
    paths = list(units) if units is not None else list(paths)
    consts = _constants(paths)
    needs = Needs()
    for path in paths:
        roots: Iterable[ast.AST] = units[path] if units is not None else [_tree(path)]
        for node in _walk(roots):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if ENV_NAME.match(node.value):
                    if node.value.endswith("_"):
                        needs.env_prefixes.add(node.value)
                    else:
                        needs.env.add(node.value)
                    needs.note(f"env:{node.value}", path, node)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if (
                    isinstance(head, ast.Constant)
                    and isinstance(head.value, str)
                    and re.match(r"^HERALD_[A-Z0-9_]*_$", head.value)
                ):
                    needs.env_prefixes.add(head.value)
            elif isinstance(node, ast.Call):
                name = _call_name(node)
                attr = node.func.attr if isinstance(node.func, ast.Attribute) else name
                if path == SHARED / "secrets.py":
                    continue
                if attr in ("app_secret", "optional_app_secret"):
                    secret = _str_arg(node.args[0] if node.args else None, consts)
                    if secret:
                        needs.app_secrets.add(secret)
                        needs.note(f"app_secret:{secret}", path, node)
                    else:
                        needs.dynamic_app_secret.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                elif _is_secrets_call(node, "put"):
                    needs.writes_user_secrets = True
                    needs.note("user_secrets:write", path, node)
                elif _is_secrets_call(node, "get"):
                    needs.reads_user_secrets = True
                    needs.note("user_secrets:read", path, node)
                elif attr == "alert" and node.args:
                    alert = _str_arg(node.args[0], consts)
                    if alert:
                        needs.alerts.add(alert)
                        needs.note(f"alert:{alert}", path, node)
                    elif path.name != "log.py":
                        needs.dynamic_alert.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                elif attr == "enqueue":
                    needs.enqueues = True
                    needs.note("enqueue", path, node)
                if name.endswith("TaskSpec") or attr == "TaskSpec":
                    spec = {kw.arg: _str_arg(kw.value, consts) for kw in node.keywords}
                    if spec.get("kind") and spec.get("target"):
                        needs.routes.add((str(spec["kind"]), str(spec["target"])))
                    for kw in node.keywords:
                        value = _str_arg(kw.value, consts)
                        if kw.arg == "kind" and value:
                            needs.enqueue_kinds.add(value)
                            needs.note(f"kind:{value}", path, node)
                        if kw.arg == "target" and value:
                            needs.targets.add(value)
                            needs.note(f"target:{value}", path, node)
            elif (isinstance(node, ast.Attribute) and node.attr == "media_bucket") or (
                isinstance(node, ast.ImportFrom)
                and node.module == "google.cloud"
                and any(a.name == "storage" for a in node.names)
            ):
                # The media bucket: named by settings, or any Cloud Storage client use.
                needs.media = True
                needs.note("media", path, node)
    return needs


def needs_of(function: str) -> Needs:
    """What the code that can run in this function needs (symbol-level reachability)."""
    from tests.infra.reach import reached

    units = reached(function)
    needs = scan([], units)
    media_defs = {getattr(n, "name", "") for n in units.get(SHARED / "media.py", ())}
    needs.media_write = needs.media and "put" in media_defs
    return needs


def all_code() -> list[Path]:
    files = [p for p in SHARED.rglob("*.py") if "__pycache__" not in p.parts]
    files += [p for p in FUNCTIONS.rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files)


def _assigned(path: Path, name: str) -> ast.expr | None:
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and "collection(" in ast.unparse(node.value)
        ):
            return node.value
    return None


def expiring_collections(field: str = "expires_at") -> dict[str, list[str]]:
    """Collections whose documents are written (set/create/update with a dict literal)
    with `field`: each needs a TTL policy on it. collection -> ["file:line"]."""
    constants: dict[str, str] = {}
    for path in all_code():
        constants.update(_constants([path]))
    found: dict[str, list[str]] = {}
    for path in all_code():
        for node in ast.walk(_tree(path)):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("set", "create", "update")
                and node.args
                and isinstance(node.args[0], ast.Dict)
                and any(isinstance(k, ast.Constant) and k.value == field for k in node.args[0].keys)
            ):
                continue
            cur: ast.expr = node.func.value
            if isinstance(cur, ast.Name):  # ref = db.collection(X).document(...); ref.create({...})
                cur = _assigned(path, cur.id) or cur
            while isinstance(cur, ast.Call | ast.Attribute):
                if (
                    isinstance(cur, ast.Call)
                    and isinstance(cur.func, ast.Attribute)
                    and cur.func.attr == "collection"
                    and cur.args
                ):
                    name = _str_arg(cur.args[0], constants)
                    if name:
                        found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
                    break
                cur = cur.func if isinstance(cur, ast.Call) else cur.value
    return found


SETTING_LINE = re.compile(
    r"^\s+(\w+): [^=]+=.*#\s*(HERALD_[A-Z0-9_]+|GOOGLE_CLOUD_PROJECT|FIRESTORE_EMULATOR_HOST)"
)


def settings_env() -> dict[str, set[str]]:
    """Settings attribute (field, or method/property reading fields) -> env vars behind it."""
    path = SHARED / "settings.py"
    fields: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        m = SETTING_LINE.match(line)
        if m:
            fields[m.group(1)] = {m.group(2)}
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name not in ("check", "from_env"):
                    used: set[str] = set()
                    for sub in ast.walk(item):
                        if (
                            isinstance(sub, ast.Attribute)
                            and isinstance(sub.value, ast.Name)
                            and sub.value.id == "self"
                            and sub.attr in fields
                        ):
                            used |= fields[sub.attr]
                    fields.setdefault(item.name, set()).update(used)
    return fields


def settings_env_of(function: str) -> dict[str, list[str]]:
    """Env vars behind the settings the function's reachable code reads -> where."""
    from tests.infra.reach import reached

    table = settings_env()
    out: dict[str, list[str]] = {}
    for path, nodes in reached(function).items():
        if path == SHARED / "settings.py":
            continue
        for root in nodes:
            for node in ast.walk(root):
                if isinstance(node, ast.Attribute) and node.attr in table:
                    for env in table[node.attr]:
                        out.setdefault(env, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return out
