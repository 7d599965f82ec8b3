"""A small campaign through the whole local stack: scheduler loop -> dispatch -> Cloud
Tasks emulator -> send_email process -> the SMTP sink; then one-click unsubscribe
through the track process."""

from __future__ import annotations

import time
import urllib.request
import uuid
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from local.stack import Stack
from shared.email import service
from shared.email.model import SUPPRESSIONS
from shared.runtime import Runtime
from shared.settings import Settings

pytestmark = pytest.mark.e2e


def _wait(predicate, timeout: float = 60.0, step: float = 0.25):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_scheduled_campaign_lands_in_the_sink(stack: Stack, monkeypatch: pytest.MonkeyPatch):
    env = stack.env()
    for key in ("FIRESTORE_EMULATOR_HOST", "HERALD_LOCAL_SMTP"):
        monkeypatch.setenv(key, env[key])
    runtime = Runtime(settings=Settings.from_env(env))
    ws = f"e2e-email-{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:6]
    addresses = [f"e2e-{tag}-{i}@example.com" for i in range(3)]
    settings = service.get_smtp_settings(runtime, ws)
    assert settings["sandbox"] is True and "Local SMTP sink" in settings["label"]
    lst = service.create_contact_list(runtime, ws, "e2e")
    csv = ("Email,First\n" + "".join(f"{a},P{i}\n" for i, a in enumerate(addresses))).encode()
    service.import_contacts(
        runtime, ws, csv, "e2e.csv", {"email": "Email", "first_name": "First"}, lst["id"]
    )
    created = service.create_campaign(
        runtime,
        ws,
        {
            "name": "e2e",
            "subject": "Hi {{ first_name }}",
            "html": '<p>Hello {{ first_name }} <a href="https://herald.example/x">x</a></p>',
            "list_id": lst["id"],
            "track_clicks": True,
        },
    )
    at = runtime.clock.now() + timedelta(seconds=3)
    service.schedule_campaign(runtime, ws, created["id"], at.isoformat())

    def delivered() -> dict[str, bytes] | None:
        found = {}
        for path in stack.mail_dir.glob("*.eml"):
            for a in addresses:
                if path.name.endswith(f"-{a}.eml"):
                    found[a] = path.read_bytes()
        return found if len(found) == len(addresses) else None

    mails = _wait(delivered)
    assert mails, f"not all of {addresses} reached the sink; see {stack.config.data_dir}/logs"
    assert len([p for p in stack.mail_dir.glob(f"*-e2e-{tag}-*.eml")]) == 3  # no duplicate
    msg = message_from_bytes(mails[addresses[1]], policy=default_policy)
    assert msg["Subject"] == "Hi P1"
    progress = _wait(
        lambda: (
            (p := service.campaign_progress(runtime, ws, created["id"]))["status"] == "done" and p
        )
    )
    assert progress and progress["sent"] == 3, progress
    # One-click unsubscribe through the public track process.
    https_target = msg["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    assert https_target.startswith(stack.url("track"))
    req = urllib.request.Request(
        https_target,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = runtime.db.collection(SUPPRESSIONS).where(filter=FieldFilter("workspace_id", "==", ws))
    sup = query.get()
    assert [d.get("email_norm") for d in sup] == [addresses[1]]
