"""The dispatcher: called every minute by Cloud Scheduler, it finds what is due and
enqueues one Cloud Task per item with `schedule_time` at the item's due instant.

Each pipeline contributes a source module (`shared/<pipeline>/dispatch.py`) exposing
`SOURCE`, an object with a `name` and `run(ctx) -> dict[str, int]`. Sources must be
cheap to import (no provider SDKs): dispatch's cold start is on the critical path.
A source claims each item exactly once (a `create()` claim or a status guard), so two
overlapping ticks or a repeated Scheduler delivery enqueue nothing twice.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from shared.log import get_logger

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("dispatch")

# "module:attribute" of every source; each pipeline adds its own line.
SOURCE_PATHS: list[str] = [
    "shared.x.dispatch:SOURCE",
    "shared.generate.dispatch:SOURCE",
    "shared.metrics.dispatch:SOURCE",
    "shared.ads.dispatch:SOURCE",
    "shared.email.dispatch:SOURCE",
]


@dataclass(frozen=True)
class DispatchContext:
    runtime: Runtime
    now: datetime
    horizon: datetime  # items due before this instant are enqueued on this tick


class Source(Protocol):
    name: str

    def run(self, ctx: DispatchContext) -> dict[str, int]: ...


def load_sources(paths: list[str] | None = None) -> list[Source]:
    sources: list[Source] = []
    for path in SOURCE_PATHS if paths is None else paths:
        module_name, _, attr = path.partition(":")
        sources.append(getattr(importlib.import_module(module_name), attr))
    return sources


@dataclass
class TickReport:
    started_at: datetime
    duration_s: float
    counts: dict[str, dict[str, int]]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def tick(runtime: Runtime, sources: list[Source] | None = None) -> TickReport:
    """Run every source once. A failing source is logged and reported, the others still run."""
    now = runtime.clock.now()
    ctx = DispatchContext(
        runtime=runtime,
        now=now,
        horizon=now + timedelta(seconds=runtime.settings.dispatch_lookahead_s),
    )
    started = time.perf_counter()
    counts: dict[str, dict[str, int]] = {}
    errors: dict[str, str] = {}
    for source in load_sources() if sources is None else sources:
        try:
            counts[source.name] = source.run(ctx)
        except Exception as exc:
            log.exception("dispatch source failed", exc=exc, source=source.name)
            errors[source.name] = f"{type(exc).__name__}: {exc}"
    report = TickReport(now, time.perf_counter() - started, counts, errors)
    # One small write per tick lets the admin page show that the scheduler is alive.
    runtime.db.collection("system").document("dispatch").set(
        {"last_tick_at": now, "duration_s": report.duration_s, "counts": counts, "errors": errors}
    )
    log.info(
        "dispatch tick",
        duration_s=round(report.duration_s, 4),
        counts=counts,
        errors=errors or None,
    )
    return report
