"""post_tweet publishing to Mastodon through the real Mastodon.py over `responses`:
the cases X's worker tests cover."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import requests
import responses

from shared.runtime import Runtime
from shared.x import service, worker
from shared.x.models import POSTS, X_ACCOUNTS
from tests.channels.conftest import INSTANCE, add_mastodon_account
from tests.images import png
from tests.x.conftest import deliver_concurrently, scheduled_post, task_payload

STATUSES = f"{INSTANCE}/api/v1/statuses"
MEDIA = f"{INSTANCE}/api/v2/media"


def _doc(runtime: Runtime, collection: str, doc_id: str) -> dict[str, Any]:
    return runtime.db.collection(collection).document(doc_id).get().to_dict()


def _deliver(runtime: Runtime, clock: Any, post_id: str) -> dict[str, Any]:
    payload = task_payload(runtime, post_id)
    spec = [t for t in runtime.enqueuer.tasks if t.payload == payload][-1]  # type: ignore[attr-defined]
    if spec.schedule_time and spec.schedule_time > clock.now():
        clock.set(spec.schedule_time)
    return worker.handle(runtime, payload)


def _status(status_id: str, text: str = "ok", reply_to: str | None = None) -> dict[str, Any]:
    return {
        "id": status_id,
        "created_at": "2026-01-05T09:00:05.000Z",
        "content": f"<p>{text}</p>",
        "in_reply_to_id": reply_to,
        "url": f"{INSTANCE}/@herald/{status_id}",
        "favourites_count": 0,
        "reblogs_count": 0,
        "replies_count": 0,
        "account": {"id": "109000000000000001", "acct": "herald"},
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
    }


def _creates(mock: responses.RequestsMock) -> list[Any]:
    return [c for c in mock.calls if c.request.method == "POST" and c.request.url == STATUSES]


def _form(call: Any) -> dict[str, list[str]]:
    body = call.request.body
    if isinstance(body, bytes):
        body = body.decode()
    return parse_qs(body)


def test_published_at_its_second_with_options_media_and_idempotency_key(
    runtime, clock, mastodon_api
) -> None:
    from shared import media

    account = add_mastodon_account(runtime)
    image = media.put(runtime, "ws1", png())["id"]
    post = scheduled_post(
        runtime,
        account.id,
        text="Launch day",
        due_in=20,
        media=[image],
        media_alt=["the launch chart"],
        media_focus=[{"x": 0.25, "y": -0.5}],
        options={"visibility": "unlisted", "spoiler_text": "launch spoilers"},
    )
    mastodon_api.add(
        responses.POST, MEDIA, json={"id": "m1", "type": "image", "url": f"{INSTANCE}/m1.png"}
    )
    mastodon_api.add(
        responses.POST,
        STATUSES,
        json=_status("111", "Launch day"),
        headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299"},
    )
    due = _doc(runtime, POSTS, post["id"])["due_at"]
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["published_at"] == due and stored["x_ids"] == ["111"]
    [create] = _creates(mastodon_api)
    assert create.request.headers["Idempotency-Key"] == f"herald-{post['id']}-0"
    assert create.request.headers["Authorization"] == "Bearer mtok-test"
    form = _form(create)
    assert form["status"] == ["Launch day"] and form["visibility"] == ["unlisted"]
    assert form["spoiler_text"] == ["launch spoilers"] and form["media_ids[]"] == ["m1"]
    upload = mastodon_api.calls[0].request
    assert b'name="description"\r\n\r\nthe launch chart' in upload.body
    assert b'name="focus"\r\n\r\n0.25,-0.5' in upload.body


def test_thread_parts_reply_in_order(runtime, clock, mastodon_api) -> None:
    account = add_mastodon_account(runtime)
    post = scheduled_post(runtime, account.id, text="1/3 a", parts=["2/3 b", "3/3 c"], due_in=5)
    for status_id in ("201", "202", "203"):
        mastodon_api.add(responses.POST, STATUSES, json=_status(status_id))
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    forms = [_form(c) for c in _creates(mastodon_api)]
    assert [f["status"][0] for f in forms] == ["1/3 a", "2/3 b", "3/3 c"]
    assert "in_reply_to_id" not in forms[0]
    assert forms[1]["in_reply_to_id"] == ["201"] and forms[2]["in_reply_to_id"] == ["202"]
    keys = [c.request.headers["Idempotency-Key"] for c in _creates(mastodon_api)]
    assert keys == [f"herald-{post['id']}-{i}" for i in range(3)]
    assert _doc(runtime, POSTS, post["id"])["x_ids"] == ["201", "202", "203"]


def test_duplicate_and_concurrent_deliveries_publish_once(runtime, clock, mastodon_api) -> None:
    account = add_mastodon_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=0)

    def slow_create(request: Any) -> tuple[int, dict[str, str], str]:
        threading.Event().wait(0.3)  # keep the request open while the others arrive
        return 200, {}, json.dumps(_status("301"))

    mastodon_api.add_callback(responses.POST, STATUSES, callback=slow_create)
    payload = task_payload(runtime, post["id"])
    results = deliver_concurrently(runtime, payload)
    assert len(_creates(mastodon_api)) == 1
    assert [r["result"] for r in results].count("published") == 1


def test_answer_cut_after_accept_is_reconciled_not_reposted(runtime, clock, mastodon_api) -> None:
    account = add_mastodon_account(runtime)
    post = scheduled_post(runtime, account.id, text="Launch & learn: https://example.com/x")
    mastodon_api.add(responses.POST, STATUSES, body=requests.exceptions.ReadTimeout("timed out"))
    assert _deliver(runtime, clock, post["id"])["result"] == "unconfirmed"
    assert _doc(runtime, POSTS, post["id"])["status"] == "unconfirmed"
    created = clock.now().isoformat().replace("+00:00", "Z")
    html = (
        '<p>Launch &amp; learn: <a href="https://example.com/x" rel="nofollow">'
        '<span class="invisible">https://</span><span class="">example.com/x</span></a></p>'
    )
    mastodon_api.add(
        responses.GET,
        f"{INSTANCE}/api/v1/accounts/{account.x_user_id}/statuses",
        json=[_status("401") | {"content": html, "created_at": created}],
    )
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    assert len(_creates(mastodon_api)) == 1  # settled by reading, not by posting again
    assert _doc(runtime, POSTS, post["id"])["x_ids"] == ["401"]
    # The account's id on its instance is known since it was connected: no lookup.
    assert not any("verify_credentials" in c.request.url for c in mastodon_api.calls)


def test_429_waits_for_reset_without_spending_a_retry(runtime, clock, mastodon_api) -> None:
    account = add_mastodon_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    reset = (clock.now() + timedelta(minutes=30)).replace(microsecond=0)
    mastodon_api.add(
        responses.POST,
        STATUSES,
        status=429,
        json={"error": "Too many requests"},
        headers={
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.isoformat(),
            "Date": format_datetime(clock.now(), usegmt=True),
        },
    )
    result = _deliver(runtime, clock, post["id"])
    assert result["result"] == "requeued" and result["reason"] == "rate_limited"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "queued" and stored["retries"] == 0
    task = runtime.enqueuer.tasks[-1]
    # Mastodon.py moves the reset by the server's clock offset; the task waits for it.
    assert abs((task.schedule_time - reset).total_seconds()) < 5
    assert _doc(runtime, X_ACCOUNTS, account.id)["rl_remaining"] == 0
    mastodon_api.add(responses.POST, STATUSES, json=_status("501"))
    assert _deliver(runtime, clock, post["id"])["result"] == "published"


def test_revoked_token_fails_with_reason_and_flags_account(runtime, clock, mastodon_api) -> None:
    account = add_mastodon_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    mastodon_api.add(
        responses.POST, STATUSES, status=401, json={"error": "The access token was revoked"}
    )
    assert _deliver(runtime, clock, post["id"])["result"] == "failed"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["last_error"]["code"] == 401
    assert "The access token was revoked" in stored["last_error"]["reason"]
    flagged = _doc(runtime, X_ACCOUNTS, account.id)
    assert flagged["status"] == "revoked" and "Mastodon" in flagged["status_reason"]


def test_validation_uses_the_instance_limit_and_counts_urls_as_23(runtime) -> None:
    account = add_mastodon_account(runtime, max_characters=100)
    url = "https://example.com/" + "a" * 200
    fits = service.create_post(runtime, "ws1", account_id=account.id, text="x" * 77 + url)
    assert service.validate_post(runtime, "ws1", fits["id"])["ok"]  # 77 + 23 = 100
    over = service.create_post(runtime, "ws1", account_id=account.id, text="x" * 78 + url)
    checked = service.validate_post(runtime, "ws1", over["id"])
    assert (
        "101 characters as Mastodon counts them; the limit is 100"
        in (checked["problems"][0]["message"])
    )


def test_alt_text_is_bounded_by_each_networks_own_limit(runtime) -> None:
    """Alt text within Mastodon's 1,500 characters is taken for a Mastodon post; X's
    1,000 and Bluesky's 2,000 apply to theirs, each refusal naming its network."""
    import pytest

    from shared import media
    from shared.errors import ValidationError
    from tests.channels.conftest import add_bluesky_account
    from tests.x.conftest import add_x_account

    image = media.put(runtime, "ws1", png())["id"]

    def post(account_id: str, alt: str) -> dict[str, Any]:
        return service.create_post(
            runtime, "ws1", account_id=account_id, text="alt", media=[image], media_alt=[alt]
        )

    toot = post(add_mastodon_account(runtime).id, "a" * 1200)
    assert len(toot["media_alt"][0]) == 1200
    with pytest.raises(ValidationError, match="Mastodon accepts 1500"):
        post(add_mastodon_account(runtime).id, "a" * 1501)
    with pytest.raises(ValidationError, match="X accepts 1000"):
        post(add_x_account(runtime).id, "a" * 1200)
    with pytest.raises(ValidationError, match="Bluesky accepts 2000"):
        post(add_bluesky_account(runtime).id, "a" * 2001)
