"""Shared fixtures: real emulators, a fresh Firestore project per test, the local stack.

- `emulators`: a Firestore emulator and the local Cloud Tasks (local/tasks) for the session.
- `runtime` / `db`: a Runtime on a fresh Firestore project (an empty database) with a
  frozen clock and a recording enqueuer; tests that need Cloud Tasks build a
  `CloudTasksEnqueuer` from `emulators`.
- `stack`: the whole system (every function as a functions-framework process, the
  scheduler loop on a 1 s tick, the SMTP sink, the admin page) on free ports.
"""

from __future__ import annotations

import os

# Before gRPC is imported: this process uses gRPC (Firestore clients) and also starts the
# stack's processes; gRPC's fork handlers must not run in those children.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import Ports, Stack, StackConfig
from shared.clock import FrozenClock
from shared.runtime import Runtime
from shared.secrets import Secrets
from shared.settings import Settings
from shared.tasks import RecordingEnqueuer
from tests.channels.fake_pds import FakePDS
from tests.channels.fake_servers import FakeMastodon, serve
from tests.x.fake_x import CLIENT_ID as FAKE_X_CLIENT_ID
from tests.x.fake_x import FakeX


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = StackConfig(
        ports=Ports.free(),
        data_dir=tmp_path_factory.mktemp("emulators"),
        project_id="herald-test",
        functions=(),
        scheduler=False,
        smtp_sink=False,
        admin=False,
    )
    stack = Stack(config).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{config.ports.firestore}"
    try:
        yield stack
    finally:
        stack.stop()


def make_settings(emulators: Stack, tmp_path: Path, **overrides: object) -> Settings:
    ports = emulators.config.ports
    values: dict[str, object] = {
        "env": "test",
        "project_id": f"test-{uuid.uuid4().hex[:12]}",
        "region": emulators.config.region,
        "firestore_emulator_host": f"127.0.0.1:{ports.firestore}",
        "tasks_emulator_host": f"127.0.0.1:{ports.tasks}",
        "sandbox": True,
        "secrets_dir": str(tmp_path / "secrets"),
        "media_dir": str(tmp_path / "media"),
        "function_urls": {},
    }
    values.update(overrides)
    return Settings(**values).check()  # type: ignore[arg-type]


@pytest.fixture
def settings(emulators: Stack, tmp_path: Path) -> Settings:
    return make_settings(emulators, tmp_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock, enqueuer: RecordingEnqueuer) -> Runtime:
    return Runtime(settings=settings, clock=clock, _enqueuer=enqueuer, _secrets=Secrets(settings))


@pytest.fixture
def db(runtime: Runtime):  # type: ignore[no-untyped-def]
    return runtime.db


@pytest.fixture(scope="session")
def fake_x_server() -> Iterator[FakeX]:
    """The stack's X: a local stand-in for OAuth 2.0 and the v2 endpoints (X accounts
    connected in the browser tests post there; sandbox accounts never reach it)."""
    fake = FakeX()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def served_pds() -> Iterator[str]:
    """A Bluesky PDS (tests/channels/fake_pds.py) over HTTP on a free port: its URL."""
    with serve(FakePDS().handle) as url:
        yield url


@pytest.fixture
def served_mastodon() -> Iterator[tuple[FakeMastodon, str]]:
    """A Mastodon instance over HTTP on a free port, and its URL."""
    fake = FakeMastodon()
    with serve(fake.handle) as url:
        yield fake, url


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_x_server: FakeX) -> Iterator[Stack]:
    config = StackConfig(
        ports=Ports.free(),
        data_dir=tmp_path_factory.mktemp("stack"),
        project_id="herald-e2e",
        tick_s=1.0,
        extra_env={
            "HERALD_X_API_BASE": fake_x_server.base_url,
            "HERALD_X_OAUTH2_AUTHORIZE_URL": fake_x_server.authorize_url,
            "HERALD_SECRET_X_OAUTH2_CLIENT_ID": FAKE_X_CLIENT_ID,
        },
    )
    stack = Stack(config).start()
    try:
        yield stack
    finally:
        stack.stop()


# Every Firestore query the session runs (here and in the stack's function processes)
# is recorded; the run fails if infra/firestore.tf lacks a composite index it needs.
from tests.infra.query_recorder import (  # noqa: E402
    pytest_configure,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

__all__ = ["pytest_configure", "pytest_sessionfinish", "pytest_terminal_summary"]
