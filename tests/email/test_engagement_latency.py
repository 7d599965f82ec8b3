"""Engagement reaches the campaign page and the dashboard within one dispatch tick:
a real send (one hard bounce), real hits on the track function (open, click, one-click
unsubscribe), one tick of the metrics dispatch source, the fold task it enqueued, then
the admin API's own routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared import tenancy
from shared.dispatch import DispatchContext
from shared.email import service
from shared.email.compose import signer
from shared.email.tokens import Token
from shared.email.worker import send_batch
from shared.metrics import worker as metrics_worker
from shared.metrics.dispatch import SOURCE as METRICS
from shared.runtime import set_runtime
from tests.email.conftest import WS, audience, campaign, smtp_body, start_campaign

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def _tick(runtime: Any) -> list[Any]:
    """One dispatch tick of the metrics source; the tasks it enqueued."""
    before = len(runtime.enqueuer.tasks)
    now = runtime.clock.now()
    METRICS.run(DispatchContext(runtime=runtime, now=now, horizon=now))
    return list(runtime.enqueuer.tasks[before:])


def test_open_click_unsubscribe_and_bounce_show_within_one_tick(runtime, db, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    smtp_server.handler.rcpt_replies["gone@example.com"] = ["550 5.1.1 no such user"]
    people = ["ann@example.com", "bob@example.com", "gone@example.com"]
    cid = campaign(runtime, audience(runtime, people), track_opens=True, track_clicks=True)
    for bid in start_campaign(runtime, cid):
        send_batch(runtime, bid, WS)
    contacts = {d.get("email"): d.id for d in db.collection("contacts").stream()}

    set_runtime(runtime)
    try:
        track = create_app("track", str(ROOT / "functions/track/main.py"), "http").test_client()

        def hit(kind: str, email: str, link: int = -1, **kw: Any) -> int:
            token = signer(runtime).sign(Token(WS, cid, contacts[email], kind, link))
            return int(track.open(f"/{kind}/{token}", **kw).status_code)

        assert hit("o", "ann@example.com") == 200
        assert hit("c", "ann@example.com", 0) == 302
        assert hit("o", "bob@example.com") == 200
        assert hit("u", "bob@example.com", method="POST", data="List-Unsubscribe=One-Click",
                   content_type="application/x-www-form-urlencoded") == 200  # fmt: skip

        # One tick: the dispatcher sees pending events and enqueues one fold.
        tasks = _tick(runtime)
        folds = [t for t in tasks if t.payload.get("action") == "fold"]
        assert len(folds) == 1, [t.payload for t in tasks]
        metrics_worker.handle(runtime, folds[0].payload)
        assert [t for t in _tick(runtime) if t.payload.get("action") == "fold"] == []

        # The admin API, as the page calls it.
        now = runtime.clock.now()
        db.collection("workspaces").document(WS).set(
            {"name": "Acme", "timezone": "UTC", "created_at": now}
        )
        user = tenancy.create_user(db, "owner", PASSWORD, now)
        tenancy.set_role(db, WS, user, tenancy.Role.OWNER, now)
        api = create_app("api", str(ROOT / "functions/api/main.py"), "http").test_client()
        login = api.post("/api/v1/auth/login", json={"username": "owner", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.get_json()['token']}"}
        base = f"/api/v1/workspaces/{WS}"
        m = api.get(f"{base}/email/campaigns/{cid}/metrics", headers=auth).get_json()
        assert (m["sent"], m["failed"], m["bounces"]) == (2, 1, 1)
        assert (m["unique_opens"], m["unique_clicks"], m["unsubscribes"]) == (2, 1, 1)
        assert m["open_rate"] == 1.0 and m["unsubscribe_rate"] == 0.5
        assert m["top_links"] == [{"url": "https://herald.example/offer?a=1&b=2", "clicks": 1}]
        dash = api.get(f"{base}/dashboard", headers=auth).get_json()
        today = dash["overview"]["days"][-1]
        assert (today["email_sent"], today["email_opens"], today["email_clicks"]) == (2, 2, 1)
        assert (today["email_unsubscribes"], today["email_bounces"]) == (1, 1)
        [top] = dash["top_email_campaigns"]
        assert top["campaign_id"] == cid and top["clicks"] == 1
    finally:
        set_runtime(None)
