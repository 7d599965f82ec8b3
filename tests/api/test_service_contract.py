"""Every service function a route calls exists with the parameters the route passes.

The pipelines' service modules evolve in parallel with the API; this catches a rename
or a changed signature before a browser meets a 500.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROUTES = Path(__file__).resolve().parents[2] / "shared" / "api" / "routes"
GETTERS = {
    **{
        f"{name}.py": {"_svc": "shared.x.service"}
        for name in ("x_accounts", "x_spend", "campaigns", "posts", "templates", "series")
    },
    "email.py": {"_svc": "shared.email.service"},
    "jobs.py": {"_jobs": "shared.jobs.service", "_ads": "shared.ads.service"},
    "metrics.py": {"_dash": "shared.metrics.dashboards"},
}
# Names bound through helpers that register one route per service function.
ACTIONS = {
    "email.py": ("shared.email.service", re.compile(r'"[\w-]+": \("(\w+)", "')),
    "jobs.py": ("shared.ads.service", re.compile(r'"[\w-]+": \("(\w+)", "')),
    "posts.py": ("shared.x.service", re.compile(r'"[\w-]+": \(\s*"(\w+)",')),
}


def calls() -> list[tuple[str, str, str]]:
    out = []
    for file, getters in GETTERS.items():
        source = (ROUTES / file).read_text()
        for getter, module in getters.items():
            for name in re.findall(rf"{getter}\(\)\.(\w+)\(", source):
                out.append((file, module, name))
        if file in ACTIONS:
            module, pattern = ACTIONS[file]
            out += [(file, module, name) for name in pattern.findall(source)]
    return sorted(set(out))


@pytest.mark.parametrize(("file", "module", "name"), calls())
def test_route_calls_an_existing_service_function(file: str, module: str, name: str) -> None:
    fn = getattr(importlib.import_module(module), name, None)
    assert callable(fn), f"{file} calls {module}.{name}, which does not exist"
    params = list(inspect.signature(fn).parameters)
    assert params[:1] == ["runtime"] or name == "check_targeting", (module, name, params)


def test_the_contract_list_is_not_empty() -> None:
    assert len(calls()) > 60
