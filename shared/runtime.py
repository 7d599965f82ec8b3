"""The per-process wiring of settings, clock, Firestore, tasks and secrets.

Function entry points call `get_runtime()`; tests build a `Runtime` by hand (a frozen
clock, a recording enqueuer, a per-test Firestore project) and pass it in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from shared.clock import Clock, SystemClock
from shared.secrets import Secrets
from shared.settings import Settings, get_settings
from shared.tasks import CloudTasksEnqueuer, Enqueuer


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    _db: Any = None
    _enqueuer: Enqueuer | None = None
    _secrets: Secrets | None = None

    @property
    def db(self) -> Any:
        if self._db is None:
            from shared.firestore import client

            self._db = client(self.settings)
        return self._db

    @property
    def enqueuer(self) -> Enqueuer:
        if self._enqueuer is None:
            self._enqueuer = CloudTasksEnqueuer(self.settings)
        return self._enqueuer

    @property
    def secrets(self) -> Secrets:
        if self._secrets is None:
            self._secrets = Secrets(self.settings)
        return self._secrets


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's Runtime, its Firestore client built before the first request runs.

    The client is built here, under the lock, because google.cloud.firestore imports
    itself circularly: two requests of a cold instance importing it at once (a function
    with concurrency > 1, or the local stack's threads) got a half-initialized module,
    an ImportError or a hung request. Every function needs the client on its first
    request anyway.
    """
    global _runtime  # noqa: PLW0603 - one wiring per process, built on first request
    with _lock:
        if _runtime is None:
            runtime = Runtime(settings=get_settings())
            runtime.db  # noqa: B018 - built for the import above, not for its value
            _runtime = runtime
        return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime  # noqa: PLW0603
    with _lock:
        _runtime = runtime
