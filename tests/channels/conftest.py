"""Fixtures for the Bluesky and Mastodon channels: accounts as connecting makes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from shared.runtime import Runtime
from shared.secrets import user_secret_name
from shared.x import governor, store
from shared.x.accounts import limits_for
from shared.x.models import X_ACCOUNTS, XAccount
from shared.x.registry import forget_bluesky
from tests.channels.fake_pds import APP_PASSWORD, DID, HANDLE, FakePDS

PDS = "https://pds.test"
INSTANCE = "https://social.test"


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    governor.forget()
    forget_bluesky()
    yield
    governor.forget()
    forget_bluesky()


@pytest.fixture
def pds() -> FakePDS:
    return FakePDS()


@pytest.fixture
def mastodon_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _add(runtime: Runtime, account: XAccount, secret: dict[str, Any], kind: str) -> XAccount:
    account.secret_ref = runtime.secrets.put(
        user_secret_name(account.workspace_id, kind, account.id), json.dumps(secret)
    )
    now = runtime.clock.now()
    doc = account.to_doc() | {"created_key": store.order_key(now, account.id)}
    runtime.db.collection(X_ACCOUNTS).document(account.id).set(doc)
    return account


def add_bluesky_account(runtime: Runtime, workspace_id: str = "ws1") -> XAccount:
    now = runtime.clock.now()
    account = XAccount(
        id=store.new_id(),
        workspace_id=workspace_id,
        kind="bluesky",
        network="bluesky",
        handle=HANDLE,
        x_user_id=DID,
        service_url=PDS,
        tier="bluesky",
        limits=limits_for("bluesky", None),
        created_at=now,
        updated_at=now,
    )
    return _add(
        runtime,
        account,
        {"identifier": HANDLE, "app_password": APP_PASSWORD},
        "bluesky-app-password",
    )


def add_mastodon_account(
    runtime: Runtime, workspace_id: str = "ws1", max_characters: int = 500
) -> XAccount:
    now = runtime.clock.now()
    limits = limits_for("mastodon", {"weighted_length": max_characters})
    account = XAccount(
        id=store.new_id(),
        workspace_id=workspace_id,
        kind="mastodon",
        network="mastodon",
        handle="herald@social.test",
        x_user_id="109000000000000001",
        service_url=INSTANCE,
        tier="mastodon",
        limits=limits,
        created_at=now,
        updated_at=now,
    )
    return _add(runtime, account, {"access_token": "mtok-test"}, "mastodon-token")
