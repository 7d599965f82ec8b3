"""post_tweet publishing to Bluesky through the real atproto SDK over an httpx
MockTransport (tests/channels/fake_pds.py): the cases X's worker tests cover."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.channels.base import PartRef
from shared.channels.bluesky import record_key
from shared.runtime import Runtime
from shared.x import service, worker
from shared.x.models import POSTS, X_ACCOUNTS
from shared.x.registry import make_channel
from tests.channels.conftest import add_bluesky_account
from tests.channels.fake_pds import FakePDS
from tests.images import png
from tests.x.conftest import deliver_concurrently, scheduled_post, task_payload


def _doc(runtime: Runtime, collection: str, doc_id: str) -> dict[str, Any]:
    return runtime.db.collection(collection).document(doc_id).get().to_dict()


def _factory(pds: FakePDS) -> Any:
    return lambda rt, account: make_channel(rt, account, transport=pds.transport)


def _deliver(runtime: Runtime, clock: Any, pds: FakePDS, post_id: str) -> dict[str, Any]:
    """Deliver the post's latest task at its schedule time, as Cloud Tasks would."""
    payload = task_payload(runtime, post_id)
    spec = [t for t in runtime.enqueuer.tasks if t.payload == payload][-1]  # type: ignore[attr-defined]
    if spec.schedule_time and spec.schedule_time > clock.now():
        clock.set(spec.schedule_time)
    return worker.handle(runtime, payload, api_factory=_factory(pds))


def test_record_keys_are_tids_stable_per_part_and_ordered() -> None:
    due = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    keys = [record_key(PartRef("p1", i, 0, due)) for i in range(3)]
    assert all(
        re.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", k) for k in keys
    )
    assert keys == sorted(keys) and len(set(keys)) == 3  # a thread's parts in order
    assert record_key(PartRef("p1", 0, 7, due)) == keys[0]  # the same on every try
    assert record_key(PartRef("p2", 0, 0, due)) != keys[0]


def test_published_at_its_second_with_facets_and_images(runtime, clock, pds) -> None:
    from shared import media

    account = add_bluesky_account(runtime)
    image = media.put(runtime, "ws1", png())["id"]
    text = "Ship it 🚀 with @alice.bsky.social #herald https://example.com/launch"
    post = scheduled_post(
        runtime, account.id, text=text, due_in=20, media=[image], media_alt=["a chart"]
    )
    assert post["network"] == "bluesky"
    due = _doc(runtime, POSTS, post["id"])["due_at"]
    result = _deliver(runtime, clock, pds, post["id"])
    assert result["result"] == "published"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["published_at"] == due  # the exact second
    [created] = pds.creates
    record = created["record"]
    assert created["rkey"] == record_key(PartRef(post["id"], 0, stored["try_n"], due))
    assert stored["x_ids"] == [f"{pds.posts()[0]['uri']}|{pds.posts()[0]['cid']}"]
    # Facets carry UTF-8 byte offsets (the rocket is 4 bytes, 1 character).
    raw = record["text"].encode()
    spans = {
        f["features"][0]["$type"].split("#")[1]: raw[
            f["index"]["byteStart"] : f["index"]["byteEnd"]
        ]
        for f in record["facets"]
    }
    assert spans == {
        "mention": b"@alice.bsky.social",
        "tag": b"#herald",
        "link": b"https://example.com/launch",
    }
    [embedded] = record["embed"]["images"]
    assert embedded["alt"] == "a chart" and embedded["image"]["mimeType"] == "image/png"
    assert record["embed"]["$type"] == "app.bsky.embed.images"


def test_thread_parts_reply_to_root_and_parent_in_order(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    post = scheduled_post(
        runtime, account.id, text="1/3 a thread", parts=["2/3 goes on", "3/3 ends"], due_in=5
    )
    assert _deliver(runtime, clock, pds, post["id"])["result"] == "published"
    records = [c["record"] for c in pds.creates]
    assert [r["text"] for r in records] == ["1/3 a thread", "2/3 goes on", "3/3 ends"]
    first, second = ({"uri": r["uri"], "cid": r["cid"]} for r in pds.posts()[:2])

    def ref(reply: dict[str, Any], which: str) -> dict[str, Any]:
        return {k: v for k, v in reply[which].items() if k != "$type"}

    assert records[0].get("reply") is None
    assert ref(records[1]["reply"], "root") == first == ref(records[1]["reply"], "parent")
    assert ref(records[2]["reply"], "root") == first
    assert ref(records[2]["reply"], "parent") == second
    assert len(_doc(runtime, POSTS, post["id"])["x_ids"]) == 3


def test_duplicate_and_concurrent_deliveries_publish_once(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=0)
    payload = task_payload(runtime, post["id"])
    results = deliver_concurrently(runtime, payload, api_factory=_factory(pds))
    assert len(pds.records) == 1 and len(pds.creates) == 1
    assert [r["result"] for r in results].count("published") == 1
    assert pds.sessions == 1  # one session for the process, shared by the deliveries


def test_retry_of_an_accepted_part_meets_its_record_not_a_second_post(runtime, clock, pds) -> None:
    """The record key is the part's: a new try that sends it again (the part guard of
    the earlier try no longer stands in its way) gets "already exists" and takes the
    record that is there."""
    account = add_bluesky_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    pds.faults = ["cut"]
    pds.get_fails = 1  # the check right after the lost answer cannot read either
    assert _deliver(runtime, clock, pds, post["id"])["result"] == "unconfirmed"
    pds.list_lags = True  # reconciliation does not see the record
    for _ in range(worker.RECONCILE_TRIES):
        _deliver(runtime, clock, pds, post["id"])
    assert _doc(runtime, POSTS, post["id"])["status"] == "queued"  # to be posted again
    result = _deliver(runtime, clock, pds, post["id"])  # posted again under the same key
    assert result["result"] == "published"
    assert len(pds.records) == 1 and len(pds.creates) == 2
    assert pds.creates[0]["rkey"] == pds.creates[1]["rkey"]
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["x_ids"] == [f"{pds.posts()[0]['uri']}|{pds.posts()[0]['cid']}"]


def test_answer_cut_after_accept_is_reconciled_not_reposted(runtime, clock, pds, capsys) -> None:
    account = add_bluesky_account(runtime)
    post = scheduled_post(runtime, account.id, text="Reconcile me", due_in=5)
    pds.faults = ["cut"]
    pds.get_fails = 1
    assert _deliver(runtime, clock, pds, post["id"])["result"] == "unconfirmed"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "unconfirmed" and stored["unknown_outcome"] is True
    alerts = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"alert"' in x]
    assert [a["alert"] for a in alerts] == ["x_post_unconfirmed"]
    assert _deliver(runtime, clock, pds, post["id"])["result"] == "published"
    assert len(pds.creates) == 1  # settled by reading the repo, not by posting again
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["x_ids"] == [f"{pds.posts()[0]['uri']}|{pds.posts()[0]['cid']}"]


def test_answer_cut_is_settled_at_once_by_the_record_key(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    pds.faults = ["cut"]
    assert _deliver(runtime, clock, pds, post["id"])["result"] == "published"
    assert len(pds.creates) == 1 and len(pds.records) == 1


def test_429_waits_for_reset_without_spending_a_retry(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    pds.faults = ["429"]
    reset = clock.now().replace(microsecond=0) + timedelta(minutes=7)
    pds.reset_epoch = int(reset.timestamp())
    result = _deliver(runtime, clock, pds, post["id"])
    assert result["result"] == "requeued" and result["reason"] == "rate_limited"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "queued" and stored["retries"] == 0
    task = runtime.enqueuer.tasks[-1]
    assert task.schedule_time >= reset
    assert _doc(runtime, X_ACCOUNTS, account.id)["rl_remaining"] == 0
    # The governor holds another post of the account until the reset: the PDS is not asked.
    other = scheduled_post(runtime, account.id, text="another post", due_in=5)
    clock.advance(5)
    deferred = worker.handle(runtime, task_payload(runtime, other["id"]), api_factory=_factory(pds))
    assert deferred["reason"] == "governor" and len(pds.creates) == 1
    assert _deliver(runtime, clock, pds, post["id"])["result"] == "published"


def test_revoked_app_password_fails_with_reason_and_flags_account(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    pds.password = "revoked-now"  # the person revoked Herald's app password
    result = _deliver(runtime, clock, pds, post["id"])
    assert result["result"] == "failed"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "failed" and stored["last_error"]["code"] == 401
    assert "Invalid identifier or password" in stored["last_error"]["reason"]
    flagged = _doc(runtime, X_ACCOUNTS, account.id)
    assert flagged["status"] == "revoked" and "Bluesky" in flagged["status_reason"]
    assert not pds.creates


def test_session_refresh_is_single_under_concurrency(runtime, clock, pds) -> None:
    """Access tokens near expiry: the threads of a process renew through the account's
    session lineage, one refresh per version, and a refresh the PDS refuses falls back
    to the app password."""
    account = add_bluesky_account(runtime)
    pds.access_ttl_s = 60  # inside the SDK's 15-minute refresh margin
    pds.refresh_delay_s = 0.2
    posts = [
        scheduled_post(runtime, account.id, text=f"concurrent {i}", due_in=0) for i in range(4)
    ]
    channel = make_channel(runtime, account, transport=pds.transport)
    assert pds.sessions == 1
    done: list[str] = []

    def publish(post_id: str) -> None:
        done.append(
            worker.handle(runtime, task_payload(runtime, post_id), api_factory=lambda *_: channel)[
                "result"
            ]
        )

    threads = [threading.Thread(target=publish, args=(p["id"],)) for p in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert done == ["published"] * 4
    # The lineage renews before each call while the new token is inside the margin too,
    # one refresh at a time: every refresh token was used once, none was refused.
    assert pds.refreshes >= 1 and pds.sessions == 1
    assert pds.refused_refresh == set()
    # The PDS revokes the session: the next call opens a new one with the app password.
    pds.live_refresh.clear()
    later = scheduled_post(runtime, account.id, text="after a revoked session", due_in=0)
    assert (
        worker.handle(runtime, task_payload(runtime, later["id"]), api_factory=lambda *_: channel)[
            "result"
        ]
        == "published"
    )
    assert pds.sessions == 2


def test_validation_counts_graphemes_against_300(runtime, clock) -> None:
    account = add_bluesky_account(runtime)
    family = "👨‍👩‍👧‍👦"  # one grapheme, 7 code points, 25 bytes
    ok = service.create_post(runtime, "ws1", account_id=account.id, text=family * 100)
    assert service.validate_post(runtime, "ws1", ok["id"])["ok"] is True
    long = service.create_post(runtime, "ws1", account_id=account.id, text="a" * 301)
    checked = service.validate_post(runtime, "ws1", long["id"])
    assert not checked["ok"]
    assert (
        "301 graphemes as Bluesky counts them; the limit is 300"
        in checked["problems"][0]["message"]
    )
    with pytest.raises(Exception, match="Bluesky posts take no option"):
        service.create_post(
            runtime, "ws1", account_id=account.id, text="hi", options={"visibility": "unlisted"}
        )
