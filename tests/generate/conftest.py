"""Fixtures for generation: a workspace with a sandbox X account and a campaign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from shared import tenancy
from shared.runtime import Runtime
from shared.x import service as xs

BRIEF: dict[str, Any] = {
    "name": "Sats Daily",
    "description": "Plain-language notes on Bitcoin, Lightning and Nostr.",
    "keywords": ["self-custody", "zaps", "relays"],
    "hashtags": ["#Bitcoin", "#Lightning", "#Nostr"],
    "target_audience": "curious builders",
    "tone": "calm, concrete",
    "language": "en",
    "call_to_action": "Follow for a daily note.",
    "links": ["https://example.org/learn"],
    "topics": ["Bitcoin", "Lightning Network", "Nostr"],
    "topic_priorities": {"Bitcoin": 2},
    "timezone": "Europe/Paris",
    "status": "active",
}


@dataclass
class World:
    runtime: Runtime
    workspace_id: str
    account_id: str

    def campaign(self, **overrides: Any) -> str:
        values = {**BRIEF, "account_id": self.account_id, **overrides}
        return str(xs.create_campaign(self.runtime, self.workspace_id, **values)["id"])


@pytest.fixture
def world(runtime: Runtime) -> World:
    now = runtime.clock.now()
    # No user document: argon2 hashing would cost every test a third of a second.
    ws = tenancy.create_workspace(runtime.db, "Gen", "owner-1", now)
    account = xs.create_sandbox_account(runtime, ws, handle="sats_daily")
    return World(runtime, ws, str(account["id"]))
