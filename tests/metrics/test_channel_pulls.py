"""Bluesky and Mastodon metrics: the same pull and schedule as X's, through the real
SDKs (atproto over an httpx MockTransport AppView; Mastodon.py over `responses`)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import responses

from shared.clock import FrozenClock
from shared.metrics import budget, dispatch, worker, x_pull
from shared.runtime import Runtime
from shared.tasks import RecordingEnqueuer
from tests.channels.conftest import INSTANCE, add_mastodon_account
from tests.metrics.test_x_pull import payload

DID = "did:plc:herald123"
APPVIEW = "https://public.api.bsky.app/xrpc/app.bsky.feed.getPosts"
STATUS = re.compile(rf"{re.escape(INSTANCE)}/api/v1/statuses/(\d+)")


def _uri(i: int) -> str:
    return f"at://{DID}/app.bsky.feed.post/3k{i:011d}"


def _add_bluesky(runtime: Runtime, ws: str) -> str:
    runtime.db.collection("x_accounts").document("bsky1").set(
        {
            "workspace_id": ws,
            "kind": "bluesky",
            "network": "bluesky",
            "handle": "herald.bsky.social",
            "x_user_id": DID,
            "service_url": "https://pds.test",
            "status": "active",
        }
    )
    return "bsky1"


def _add_posts(
    runtime: Runtime, ws: str, account_id: str, network: str, ids: list[str], published: Any
) -> list[str]:
    batch = runtime.db.batch()
    out = []
    for i, network_id in enumerate(ids):
        pid = f"{network[0]}{i:04d}"
        batch.set(
            runtime.db.collection("posts").document(pid),
            {
                "workspace_id": ws,
                "account_id": account_id,
                "network": network,
                "status": "published",
                "text": f"post {i}",
                "parts": [f"post {i}"],
                "x_ids": [network_id],
                "published_at": published,
            },
        )
        out.append(pid)
    batch.commit()
    return out


class AppView:
    """app.bsky.feed.getPosts: post views with counters; `gone` are not returned."""

    def __init__(self, gone: set[str] = frozenset(), limited_after: int | None = None) -> None:  # type: ignore[assignment]
        self.gone, self.limited_after = gone, limited_after
        self.requests: list[httpx.Request] = []
        self.reset_epoch = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.path == "/xrpc/app.bsky.feed.getPosts"
        if self.limited_after is not None and len(self.requests) > self.limited_after:
            headers = {"ratelimit-remaining": "0", "ratelimit-reset": str(self.reset_epoch)}
            return httpx.Response(429, headers=headers, json={"error": "RateLimitExceeded"})
        uris = parse_qs(urlparse(str(request.url)).query)["uris"]
        views = [
            {
                "uri": uri,
                "cid": "bafyreib" + uri[-6:],
                "author": {"did": DID, "handle": "herald.bsky.social"},
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": "t",
                    "createdAt": "2026-01-05T00:00:00Z",
                },
                "indexedAt": "2026-01-05T00:00:00Z",
                "likeCount": int(uri[-3:]) % 9,
                "repostCount": 2,
                "replyCount": 1,
                "quoteCount": 0,
            }
            for uri in uris
            if uri not in self.gone
        ]
        return httpx.Response(200, json={"posts": views})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def test_bluesky_counters_through_public_reads_on_xs_schedule(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    account = _add_bluesky(runtime, ws)
    network_ids = [f"{_uri(i)}|bafyreicid{i}" for i in range(30)]
    posts = _add_posts(runtime, ws, account, "bluesky", network_ids, now - timedelta(hours=3))
    view = AppView(gone={_uri(7)})
    result = x_pull.pull(
        runtime, payload(ws, account, posts, now), bluesky_transport=view.transport
    )
    assert result["snapshots"] == 29 and result["deleted"] == 1 and result["requests"] == 2
    sizes = [len(parse_qs(urlparse(str(r.url)).query)["uris"]) for r in view.requests]
    assert sizes == [25, 5]
    assert all("authorization" not in r.headers for r in view.requests)  # public reads
    stored = runtime.db.collection("posts").document("b0012").get().to_dict()
    likes = int(_uri(12)[-3:]) % 9
    assert (stored["metrics_likes"], stored["metrics_reposts"], stored["metrics_replies"]) == (
        likes,
        2,
        1,
    )
    assert stored["metrics_engagements"] == likes + 3 and stored["metrics_source"] == "bluesky"
    # The same decaying frequency as X: published 3 h ago, next at + 4 h.
    assert stored["next_metrics_at"] == stored["published_at"] + timedelta(hours=4)
    gone = runtime.db.collection("posts").document("b0007").get().to_dict()
    assert gone["metrics_status"] == "deleted"
    assert gone["metrics_error"]["reason"] == "Bluesky reports the post deleted or hidden"
    assert budget.usage(runtime, ws)["used"] == 0  # Bluesky reads are free
    snap = runtime.db.collection("post_metrics_snapshots").document(f"b0012_{_slot(now)}").get()
    assert snap.to_dict()["network"] == "bluesky"
    # Best time to post, for this account on its network.
    best = runtime.db.collection("best_time").document(account).get().to_dict()
    assert best["network"] == "bluesky" and best["posts"] == 29


def _slot(now: Any) -> str:
    from shared.metrics.model import slot_key

    return slot_key(now)


def test_bluesky_429_keeps_the_first_page_and_defers_the_rest(
    runtime: Runtime, ws: str, enqueuer: RecordingEnqueuer
) -> None:
    now = runtime.clock.now()
    account = _add_bluesky(runtime, ws)
    network_ids = [f"{_uri(i)}|cid{i}" for i in range(30)]
    posts = _add_posts(runtime, ws, account, "bluesky", network_ids, now - timedelta(hours=2))
    view = AppView(limited_after=1)
    view.reset_epoch = int((now + timedelta(minutes=4)).timestamp())
    result = x_pull.pull(
        runtime, payload(ws, account, posts, now), bluesky_transport=view.transport
    )
    assert result["snapshots"] == 25 and result["deferred"] == 5
    (task,) = [t for t in enqueuer.of_kind("metrics") if t.payload["action"] == "x_pull"]
    assert sorted(task.payload["post_ids"]) == posts[25:]
    assert abs((task.schedule_time - (now + timedelta(minutes=4))).total_seconds()) <= 1


def _status(request: Any) -> tuple[int, dict[str, str], str]:
    status_id = STATUS.match(request.url).group(1)  # type: ignore[union-attr]
    if status_id.endswith("4"):
        return 404, {}, json.dumps({"error": "Record not found"})
    n = int(status_id[-2:])
    body = {
        "id": status_id,
        "created_at": "2026-01-05T00:00:00.000Z",
        "content": "<p>t</p>",
        "favourites_count": n,
        "reblogs_count": n // 2,
        "replies_count": 1,
        "account": {"id": "1", "acct": "herald"},
    }
    return 200, {}, json.dumps(body)


def test_mastodon_counters_from_the_status_endpoint(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    account = add_mastodon_account(runtime, ws)
    ids = [str(110_000_000_000_000_000 + i) for i in range(6)]
    posts = _add_posts(runtime, ws, account.id, "mastodon", ids, now - timedelta(days=3, hours=1))
    with responses.RequestsMock() as api:
        api.add_callback(responses.GET, STATUS, callback=_status)
        result = worker.handle(runtime, payload(ws, account.id, posts, now))
        assert {c.request.headers["Authorization"] for c in api.calls} == {"Bearer mtok-test"}
    assert result["snapshots"] == 5 and result["deleted"] == 1 and result["requests"] == 6
    stored = runtime.db.collection("posts").document("m0003").get().to_dict()
    assert (stored["metrics_likes"], stored["metrics_reposts"], stored["metrics_replies"]) == (
        3,
        1,
        1,
    )
    assert stored["metrics_engagements"] == 5
    # Past the first day: daily, anchored on publication.
    assert stored["next_metrics_at"] == stored["published_at"] + timedelta(days=4)
    gone = runtime.db.collection("posts").document("m0004").get().to_dict()
    assert gone["metrics_status"] == "deleted"
    # The day rollup keeps each network apart (X's fields keep their names).
    (day_task,) = [t for t in runtime.enqueuer.of_kind("metrics") if t.payload["action"] == "x_day"]  # type: ignore[attr-defined]
    worker.handle(runtime, day_task.payload)
    day = runtime.db.collection("metrics_daily").document(f"{ws}_{day_task.payload['day']}")
    totals = day.get().to_dict()
    assert totals["mastodon_posts"] == 6 and totals["x_posts"] == 0
    assert totals["mastodon_likes"] == sum(int(i[-2:]) for i in ids if not i.endswith("4"))


def test_mastodon_429_defers_and_401_skips_the_slot_with_the_reason(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: RecordingEnqueuer
) -> None:
    now = clock.now()
    account = add_mastodon_account(runtime, ws)
    posts = _add_posts(
        runtime, ws, account.id, "mastodon", ["1001", "1002"], now - timedelta(hours=1)
    )
    reset = (now + timedelta(minutes=3)).replace(microsecond=0)
    with responses.RequestsMock() as api:
        api.add(
            responses.GET,
            f"{INSTANCE}/api/v1/statuses/1001",
            status=429,
            headers={
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.isoformat(),
                "Date": format_datetime(now, usegmt=True),
            },
            json={"error": "Too many requests"},
        )
        result = x_pull.pull(runtime, payload(ws, account.id, posts, now))
    assert result["deferred"] == 2
    (task,) = [t for t in enqueuer.of_kind("metrics") if t.payload["action"] == "x_pull"]
    assert abs((task.schedule_time - reset).total_seconds()) < 5
    clock.set(reset + timedelta(seconds=5))  # the account's read window is open again
    with responses.RequestsMock() as api:
        api.add(
            responses.GET,
            f"{INSTANCE}/api/v1/statuses/1001",
            status=401,
            json={"error": "The access token was revoked"},
        )
        result = x_pull.pull(runtime, payload(ws, account.id, posts, clock.now()))
    assert "The access token was revoked" in result["errors"]["failed"]
    stored = runtime.db.collection("posts").document("m0000").get().to_dict()
    assert stored["metrics_status"] == "error"
    assert stored["metrics_error"]["reason"].startswith("Mastodon refused the read")


def test_dispatch_schedules_every_networks_posts_the_same_way(
    runtime: Runtime, ws: str, enqueuer: RecordingEnqueuer
) -> None:
    now = runtime.clock.now()
    bluesky = _add_bluesky(runtime, ws)
    mastodon = add_mastodon_account(runtime, ws)
    published = now - timedelta(minutes=70)
    _add_posts(runtime, ws, bluesky, "bluesky", [f"{_uri(1)}|c"], published)
    _add_posts(runtime, ws, mastodon.id, "mastodon", ["2001"], published)
    assert dispatch.discover(runtime, now) == 2
    counts = dispatch.enqueue_due(runtime, now, now + timedelta(minutes=1))
    pulls = [t for t in enqueuer.of_kind("metrics") if t.payload["action"] == "x_pull"]
    # One pull per account, whatever its network, at the first slot (published + 1 h).
    assert {t.payload["account_id"] for t in pulls} == {bluesky, mastodon.id}, counts
