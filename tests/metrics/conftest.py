"""Fixtures of the metrics tests: a workspace, X accounts, posts and events on the
emulator, written the way the X and email pipelines write them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from shared.runtime import Runtime, set_runtime


@pytest.fixture
def ws(runtime: Runtime) -> str:
    runtime.db.collection("workspaces").document("ws1").set(
        {"name": "Acme", "timezone": "UTC", "created_at": runtime.clock.now()}
    )
    return "ws1"


@pytest.fixture
def installed(runtime: Runtime):  # type: ignore[no-untyped-def]
    set_runtime(runtime)
    yield runtime
    set_runtime(None)


def add_account(
    runtime: Runtime, workspace_id: str, account_id: str = "acct1", *, sandbox: bool = False
) -> str:
    doc: dict[str, Any] = {
        "workspace_id": workspace_id,
        "kind": "sandbox" if sandbox else "x",
        "handle": account_id,
        "status": "active",
        "sandbox": sandbox,
    }
    if not sandbox:
        runtime.secrets.put("app-x-consumer-key", "ck")
        runtime.secrets.put("app-x-consumer-secret", "cs")
        ref = runtime.secrets.put(
            f"ws-{workspace_id}-x-token-{account_id}",
            json.dumps({"access_token": "at", "access_token_secret": "ats"}),
        )
        doc["secret_ref"] = ref
    runtime.db.collection("x_accounts").document(account_id).set(doc)
    return account_id


def add_posts(
    runtime: Runtime,
    workspace_id: str,
    account_id: str,
    n: int,
    published_at: datetime,
    *,
    prefix: str = "p",
    next_metrics_at: datetime | None = None,
) -> list[str]:
    batch = runtime.db.batch()
    ids = []
    for i in range(n):
        pid = f"{prefix}{i:04d}"
        doc: dict[str, Any] = {
            "workspace_id": workspace_id,
            "account_id": account_id,
            "status": "published",
            "text": f"post {i}",
            "parts": [f"post {i}"],
            "x_ids": [str(10_000 + i), str(90_000 + i)],
            "published_at": published_at,
        }
        if next_metrics_at is not None:
            doc["next_metrics_at"] = next_metrics_at
        batch.set(runtime.db.collection("posts").document(pid), doc)
        ids.append(pid)
    batch.commit()
    return ids
