"""The public track function: pixel, click redirect, RFC 8058 unsubscribe, forged tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from functions_framework import create_app

from shared.email import service
from shared.email.compose import signer
from shared.email.model import CONTACTS, ENGAGEMENT, EVENTS, SUPPRESSIONS
from shared.email.tokens import Token
from shared.runtime import set_runtime
from tests.email.conftest import WS, audience, campaign

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "track" / "main.py")


@pytest.fixture
def client(runtime):
    set_runtime(runtime)
    try:
        yield create_app("track", SOURCE, signature_type="http").test_client()
    finally:
        set_runtime(None)


@pytest.fixture
def target(runtime, db, monkeypatch):
    """A scheduled campaign and one recipient: (campaign id, contact id)."""
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")  # the sandbox default sender
    list_id = audience(runtime, ["ann@example.com"])
    cid = campaign(runtime, list_id)
    service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    [contact] = list(db.collection(CONTACTS).stream())
    return cid, contact.id


def url(runtime, cid, rid, kind, link=-1):
    return f"/{kind}/" + signer(runtime).sign(Token(WS, cid, rid, kind, link))


def _all(db, collection):
    return [d.to_dict() for d in db.collection(collection).stream()]


def test_open_pixel_counts_and_is_not_cached(runtime, db, clock, client, target):
    cid, rid = target
    first = client.get(url(runtime, cid, rid, "o"))
    assert first.status_code == 200 and first.mimetype == "image/gif"
    assert first.data.startswith(b"GIF89a")
    assert "no-store" in first.headers["Cache-Control"]
    opened_at = clock.now()
    clock.advance(60)
    client.get(url(runtime, cid, rid, "o"))
    [eng] = _all(db, ENGAGEMENT)
    assert eng["opens"] == 2 and eng["first_open_at"] == opened_at
    [event] = _all(db, EVENTS)
    assert (event["type"], event["recipient_id"], event["campaign_id"]) == ("open", rid, cid)


def test_click_redirects_only_to_campaign_links(runtime, db, client, target):
    cid, rid = target
    resp = client.get(url(runtime, cid, rid, "c", 0))
    assert resp.status_code == 302
    assert resp.headers["Location"] == "https://herald.example/offer?a=1&b=2"
    [event] = _all(db, EVENTS)
    assert event["type"] == "click" and event["url"] == resp.headers["Location"]
    # A validly signed token for a link the campaign does not have: 404.
    assert client.get(url(runtime, cid, rid, "c", 7)).status_code == 404


def test_forged_and_altered_tokens_get_404_and_touch_nothing(runtime, db, client, target):
    from shared.email.tokens import Signer

    cid, rid = target
    good = url(runtime, cid, rid, "u")
    altered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    forged = "/u/" + Signer("not the key").sign(Token(WS, cid, rid, "u"))
    wrong_kind = "/o/" + good.split("/")[-1]
    before = {c: _all(db, c) for c in (EVENTS, ENGAGEMENT, SUPPRESSIONS)}
    for path in (altered, forged, wrong_kind, "/u/garbage", "/c/x.y", "/nothing"):
        for method in ("GET", "POST"):
            resp = client.open(path, method=method, data={"List-Unsubscribe": "One-Click"})
            assert resp.status_code == 404, (path, method)
    assert {c: _all(db, c) for c in before} == before
    # A token signed for another workspace names nothing here.
    foreign = "/u/" + signer(runtime).sign(Token("other-ws", cid, rid, "u"))
    resp = client.post(foreign, data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 404 and _all(db, SUPPRESSIONS) == []


def test_rfc8058_post_unsubscribes_and_get_only_confirms(runtime, db, client, target):
    cid, rid = target
    path = url(runtime, cid, rid, "u")
    page = client.get(path)
    assert page.status_code == 200
    assert b'method="post"' in page.data and b'name="List-Unsubscribe"' in page.data
    assert _all(db, SUPPRESSIONS) == []  # GET (e.g. a link scanner) changes nothing
    assert client.post(path, data={}).status_code == 400
    assert _all(db, SUPPRESSIONS) == []
    # What mail providers send for one-click (RFC 8058 section 3.2).
    resp = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200 and b"Unsubscribed" in resp.data
    [sup] = _all(db, SUPPRESSIONS)
    assert (sup["email_norm"], sup["reason"], sup["campaign_id"]) == (
        "ann@example.com",
        "unsubscribe",
        cid,
    )
    client.post(path, data={"List-Unsubscribe": "One-Click"})  # repeated: still one event
    assert [e["type"] for e in _all(db, EVENTS)] == ["unsubscribe"]


def test_head_requests_record_no_engagement(runtime, db, client, target):
    cid, rid = target
    head_open = client.head(url(runtime, cid, rid, "o"))
    head_click = client.head(url(runtime, cid, rid, "c", 0))
    assert head_open.status_code == 200 and head_open.data == b""
    assert head_click.status_code == 302
    assert _all(db, ENGAGEMENT) == [] and _all(db, EVENTS) == []


APPLE_PROXY = {"User-Agent": "Mozilla/5.0", "X-Forwarded-For": "17.58.1.2, 203.0.113.9"}
SCANNER = {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}
MAIL_CLIENT = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile"}


def test_prefetches_are_labelled_and_counted_apart(runtime, db, client, target):
    cid, rid = target
    assert client.get(url(runtime, cid, rid, "o"), headers=APPLE_PROXY).status_code == 200
    assert client.get(url(runtime, cid, rid, "c", 0), headers=SCANNER).status_code == 302
    [eng] = _all(db, ENGAGEMENT)
    assert (eng["opens"], eng["clicks"]) == (0, 0)
    assert (eng["machine_opens"], eng["machine_clicks"]) == (1, 1)
    labels = sorted((e["type"], e["machine"]) for e in _all(db, EVENTS))
    assert labels == [("click", "scanner"), ("open", "apple_mpp")]
    # The person's own open and click still count: the prefetch took nobody's place.
    client.get(url(runtime, cid, rid, "o"), headers=MAIL_CLIENT)
    client.get(url(runtime, cid, rid, "c", 0), headers=MAIL_CLIENT)
    [eng] = _all(db, ENGAGEMENT)
    assert (eng["opens"], eng["clicks"], eng["machine_opens"]) == (1, 1, 1)
    human = [e for e in _all(db, EVENTS) if not e.get("machine")]
    assert sorted(e["type"] for e in human) == ["click", "open"]


def test_prefetch_signatures() -> None:
    from shared.email.prefetch import APPLE_MPP, SCANNER, classify

    assert classify("Mozilla/5.0", "17.1.2.3") == APPLE_MPP
    assert classify("Mozilla/5.0", "::ffff:17.1.2.3") == APPLE_MPP
    assert classify("Mozilla/5.0", "198.51.100.4") is None  # bare agent, not Apple's network
    assert classify("", "198.51.100.4") == SCANNER
    assert classify("python-requests/2.32", None) == SCANNER
    assert classify("Microsoft Office Protocol Discovery", None) == SCANNER
    assert classify(MAIL_CLIENT["User-Agent"], "17.1.2.3") is None
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    assert classify(gmail, "66.249.84.1") is None  # Gmail fetches when the reader opens
