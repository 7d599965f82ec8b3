"""pytest plugin: records every structured query the Firestore client runs during the
test session (in this process, and in the function processes of the local stack through
HERALD_QUERY_LOG), and at the end fails the run if a query needs a composite index that
infra/firestore.tf does not declare, or if the application code ran a shape that no
declaration of shared/queries enumerates (a bug in the builder or in the enumeration
of tests/infra/firestore_queries: test_query_catalogue checks every enumerated shape,
so a shape outside them escapes that check). Registered from tests/conftest.py.

The check fails the session only when tests/infra ran in it (as in `make test`); a
partial run just prints the missing indexes.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path
from typing import Any

import pytest

from tests.infra import query_log
from tests.infra.firestore_queries import (
    Shape,
    app_collections,
    catalogue_shapes,
    missing,
    shape_of,
)

_ROOT = Path(__file__).resolve().parents[2]
_seen: dict[Shape, str] = {}
_KEY = pytest.StashKey[dict[str, Any]]()


_INFRA_TESTS = Path(__file__).resolve().parent
_CATALOGUE = _ROOT / "shared" / "queries"
# Where application queries are built (the child processes run only application code).
_APP_CODE = ("shared/", "functions/", "local/", "a function process")


def _caller() -> str | None:
    """Where the query was built; None for the infra tests' own sample queries."""
    where = "?"
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = Path(frame.filename)
        if path.is_relative_to(_INFRA_TESTS):
            if path.name.startswith("test_"):
                return None
            continue
        if path.is_relative_to(_CATALOGUE):
            continue  # name the caller of shared.queries, not the builder
        if where == "?" and path.is_relative_to(_ROOT) and ".venv" not in path.parts:
            where = f"{path.relative_to(_ROOT)}:{frame.lineno}"
    return where


def _record(structured_query: Any) -> None:
    where = _caller()
    if where is not None:
        _seen.setdefault(shape_of(structured_query), where)


def pytest_configure(config: pytest.Config) -> None:
    query_log.install(_record)
    # Function processes started by the stack fixtures inherit the environment: they
    # append their query shapes to this file (see query_log / sitecustomize).
    # HERALD_QUERY_LOG_CHILDREN=0 turns the child-process part off (in-process only).
    log = Path(tempfile.mkdtemp(prefix="herald-queries-")) / "queries.jsonl"
    if os.environ.get("HERALD_QUERY_LOG_CHILDREN", "1") != "0":
        os.environ["HERALD_QUERY_LOG"] = str(log)
        site = str(Path(__file__).resolve().parent / "site")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [site, *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
        )
    config.stash[_KEY] = {"log": log, "missing": []}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_KEY, None)
    if state is None:
        return
    shapes = dict(_seen)
    log: Path = state["log"]
    if log.exists():
        for line in log.read_text().splitlines():
            try:
                shapes.setdefault(Shape.from_json(line), "a function process of the local stack")
            except (ValueError, KeyError):
                continue
    lacking = missing(set(shapes))
    state["missing"] = [(s, shapes[s]) for s in lacking]
    state["count"] = len(shapes)
    enumerated = set(catalogue_shapes().values())
    known = app_collections()
    state["undeclared"] = sorted(
        (
            (s, where)
            for s, where in shapes.items()
            if where.startswith(_APP_CODE) and s.collection in known and s not in enumerated
        ),
        key=lambda item: item[0].describe(),
    )
    ran_infra = any(item.nodeid.startswith("tests/infra/") for item in session.items)
    if (lacking or state["undeclared"]) and ran_infra and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_KEY, None)
    if not state:
        return
    if state.get("missing"):
        terminalreporter.section("Firestore queries without a composite index", red=True)
        for shape, where in state["missing"]:
            terminalreporter.line(
                f"{shape.describe()}    (query at {where}); add to infra/firestore.tf "
                f'firestore_indexes: {{ collection = "{shape.collection}", fields = '
                f"{[*shape.index_fields()]} }}".replace("'", '"')
            )
    if state.get("undeclared"):
        terminalreporter.section("Firestore queries no declaration enumerates", red=True)
        for shape, where in state["undeclared"]:
            terminalreporter.line(
                f"{shape.describe()} (order {list(shape.order)})    (query at {where}); "
                "shared.queries.build sent a shape tests/infra/firestore_queries.spec_shapes "
                "does not produce: fix the one that is wrong"
            )
    if not state.get("missing") and not state.get("undeclared") and "count" in state:
        terminalreporter.write_line(
            f"firestore: {state['count']} distinct query shapes ran; every one has its index"
        )
