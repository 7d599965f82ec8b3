"""One post to several channels through the API: validate, create, schedule, cancel, and
each network's result, with every network's own rules."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import responses

from shared import media
from shared.x import worker
from shared.x.models import POSTS
from tests.api.conftest import Api
from tests.channels.conftest import INSTANCE, add_mastodon_account
from tests.images import mp4, png
from tests.x.conftest import task_payload


def _channel(api: Api, token: str, ws: str, network: str, handle: str) -> dict[str, Any]:
    r = api.call(
        "POST",
        f"/workspaces/{ws}/x/accounts/sandbox",
        token,
        json={"handle": handle, "network": network},
    )
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def _three(api: Api, token: str, ws: str) -> dict[str, dict[str, Any]]:
    return {n: _channel(api, token, ws, n, f"acme-{n}") for n in ("x", "bluesky", "mastodon")}


def _posts(api: Api) -> list[dict[str, Any]]:
    return [s.to_dict() for s in api.runtime.db.collection(POSTS).stream()]


def test_validate_counts_each_network_its_own_way(api: Api, owner) -> None:
    token, ws = owner
    accounts = _three(api, token, ws)
    url = "https://example.com/" + "a" * 60  # 80 characters: X and Mastodon count 23
    text = "Launch 🎉 " + url  # the emoji weighs 2 on X, one grapheme elsewhere
    r = api.call(
        "POST",
        f"/workspaces/{ws}/post-groups/validate",
        token,
        json={"text": text, "channels": [{"account_id": a["id"]} for a in accounts.values()]},
    )
    assert r.status_code == 200, r.get_json()
    checked = {c["network"]: c for c in r.get_json()["channels"]}
    assert r.get_json()["ok"] is True
    assert checked["x"]["counter"]["lengths"] == [7 + 2 + 1 + 23]
    assert checked["bluesky"]["counter"]["lengths"] == [7 + 1 + 1 + 80]
    assert checked["mastodon"]["counter"]["lengths"] == [7 + 1 + 1 + 23]
    assert {n: c["counter"]["limit"] for n, c in checked.items()} == {
        "x": 280,
        "bluesky": 300,
        "mastodon": 500,
    }
    assert checked["bluesky"]["counter"]["unit"] == "graphemes"
    assert _posts(api) == []  # validating saves nothing


def test_one_refusing_network_saves_nothing_and_names_every_problem(api: Api, owner) -> None:
    token, ws = owner
    accounts = _three(api, token, ws)
    long = "word " * 64  # 320 characters: over X's 280 and Bluesky's 300, within 500
    body = {
        "text": long.strip(),
        "channels": [{"account_id": a["id"]} for a in accounts.values()],
        "due_at": (api.runtime.clock.now() + timedelta(hours=1)).isoformat(),
        "schedule": True,
    }
    r = api.call("POST", f"/workspaces/{ws}/post-groups", token, json=body)
    assert r.status_code == 400, r.get_json()
    err = r.get_json()["error"]
    assert (
        "2 of 3 channels would refuse" in err["message"] and "nothing was saved" in err["message"]
    )
    by_network = {c["network"]: c for c in err["details"]["channels"]}
    assert by_network["mastodon"]["ok"] is True
    assert "the limit is 300" in by_network["bluesky"]["problems"][0]["message"]
    assert by_network["bluesky"]["counter"]["lengths"] == [319]
    assert by_network["x"]["ok"] is False and by_network["x"]["counter"]["limit"] == 280
    assert _posts(api) == []
    # Short variants for X and Bluesky: all three are created and scheduled in one call.
    body["channels"] = [
        {"account_id": accounts["x"]["id"], "text": "Short for X"},
        {"account_id": accounts["bluesky"]["id"], "text": "Short for Bluesky", "parts": ["2/2"]},
        {"account_id": accounts["mastodon"]["id"], "options": {"visibility": "unlisted"}},
    ]
    r = api.call("POST", f"/workspaces/{ws}/post-groups", token, json=body)
    assert r.status_code == 201, r.get_json()
    group = r.get_json()
    assert group["status"] == "scheduled"
    texts = {p["network"]: p["parts"] for p in group["posts"]}
    assert texts == {
        "x": ["Short for X"],
        "bluesky": ["Short for Bluesky", "2/2"],
        "mastodon": [long.strip()],
    }
    mastodon = next(p for p in group["posts"] if p["network"] == "mastodon")
    assert mastodon["options"] == {"visibility": "unlisted"}
    assert {p["group_id"] for p in _posts(api)} == {group["group_id"]}
    # Mastodon options on a Bluesky channel are refused, with the network named.
    body["channels"][1]["options"] = {"visibility": "public"}
    r = api.call("POST", f"/workspaces/{ws}/post-groups", token, json=body)
    assert r.status_code == 400
    refused = {c["network"]: c for c in r.get_json()["error"]["details"]["channels"]}
    assert (
        "Bluesky posts take no option ['visibility']"
        in (refused["bluesky"]["problems"][0]["message"])
    )
    assert len(_posts(api)) == 3


def test_bluesky_refuses_a_video_the_others_take(api: Api, owner) -> None:
    token, ws = owner
    accounts = _three(api, token, ws)
    video = media.put(api.runtime, ws, mp4())
    r = api.call(
        "POST",
        f"/workspaces/{ws}/post-groups/validate",
        token,
        json={
            "text": "Watch this",
            "media": [video["id"]],
            "channels": [{"account_id": a["id"]} for a in accounts.values()],
        },
    )
    checked = {c["network"]: c for c in r.get_json()["channels"]}
    assert checked["x"]["ok"] and checked["mastodon"]["ok"]
    assert checked["bluesky"]["problems"] == [
        {"field": "media[0]", "message": "Bluesky takes images only, not video/mp4"}
    ]


def test_schedule_publish_and_each_networks_result(api: Api, owner) -> None:
    token, ws = owner
    x = _channel(api, token, ws, "x", "acme")
    bluesky = _channel(api, token, ws, "bluesky", "acme.bsky.social")
    mastodon = add_mastodon_account(api.runtime, ws)  # a real instance, answering 401
    r = api.call(
        "POST",
        f"/workspaces/{ws}/media",
        token,
        data={"file": (io.BytesIO(png((2, 2))), "dot.png", "image/png")},
        content_type="multipart/form-data",
    )
    image = r.get_json()["id"]
    r = api.call(
        "POST",
        f"/workspaces/{ws}/post-groups",
        token,
        json={
            "text": "Three networks, one second",
            "media": [image],
            "media_alt": ["a dot"],
            "channels": [
                {"account_id": x["id"]},
                {"account_id": bluesky["id"]},
                {"account_id": mastodon.id},
            ],
        },
    )
    assert r.status_code == 201, r.get_json()
    group = r.get_json()
    assert group["status"] == "draft" and len(group["posts"]) == 3
    due = api.runtime.clock.now() + timedelta(seconds=20)
    r = api.call(
        "POST",
        f"/workspaces/{ws}/post-groups/{group['group_id']}/schedule",
        token,
        json={"due_at": due.isoformat()},
    )
    assert r.status_code == 200, r.get_json()
    scheduled = r.get_json()
    assert scheduled["status"] == "queued"  # due within the lookahead: enqueued at once
    tasks = api.runtime.enqueuer.tasks  # type: ignore[attr-defined]
    assert {t.payload["post_id"] for t in tasks} == {p["id"] for p in scheduled["posts"]}
    assert {t.schedule_time for t in tasks} == {due}
    api.runtime.clock.set(due)  # type: ignore[attr-defined]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as instance:
        instance.add(
            responses.POST,
            f"{INSTANCE}/api/v2/media",
            status=401,
            json={"error": "The access token was revoked"},
        )
        instance.add(
            responses.POST,
            f"{INSTANCE}/api/v1/statuses",
            status=401,
            json={"error": "The access token was revoked"},
        )
        for post in scheduled["posts"]:
            worker.handle(api.runtime, task_payload(api.runtime, post["id"]))
    r = api.call("GET", f"/workspaces/{ws}/post-groups/{group['group_id']}", token)
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["status"] == "mixed"
    results = {p["network"]: p["result"] for p in done["posts"]}
    assert [p["network"] for p in done["posts"]] == ["x", "bluesky", "mastodon"]
    assert results["x"]["status"] == results["bluesky"]["status"] == "published"
    assert results["x"]["ids"] and results["x"]["url"] is None  # sandbox: nowhere to see it
    assert results["mastodon"]["status"] == "failed"
    assert "The access token was revoked" in results["mastodon"]["error"]
    assert results["mastodon"]["handle"] == "herald@social.test"
    # Cancelling now keeps what went out and says so.
    r = api.call("POST", f"/workspaces/{ws}/post-groups/{group['group_id']}/cancel", token)
    assert r.status_code == 200, r.get_json()
    kept = {k["network"]: k["reason"] for k in r.get_json()["not_cancelled"]}
    assert kept == {"x": "published", "bluesky": "published", "mastodon": "failed"}


def test_cancel_withdraws_every_channel_and_stales_the_tasks(api: Api, owner) -> None:
    token, ws = owner
    accounts = _three(api, token, ws)
    due = api.runtime.clock.now() + timedelta(seconds=30)
    r = api.call(
        "POST",
        f"/workspaces/{ws}/post-groups",
        token,
        json={
            "text": "Maybe not",
            "due_at": due.isoformat(),
            "schedule": True,
            "channels": [{"account_id": a["id"]} for a in accounts.values()],
        },
    )
    group = r.get_json()
    assert group["status"] == "queued", group
    r = api.call("POST", f"/workspaces/{ws}/post-groups/{group['group_id']}/cancel", token)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled" and r.get_json()["not_cancelled"] == []
    api.runtime.clock.set(due)  # type: ignore[attr-defined]
    for post in group["posts"]:  # the tasks already queued arrive and send nothing
        result = worker.handle(api.runtime, task_payload(api.runtime, post["id"]))
        assert result["result"] != "published", result
    assert {p["status"] for p in _posts(api)} == {"cancelled"}
    # Scheduling a cancelled group again is refused, naming the networks.
    r = api.call(
        "POST",
        f"/workspaces/{ws}/post-groups/{group['group_id']}/schedule",
        token,
        json={"due_at": due.isoformat()},
    )
    assert r.status_code == 409 and "X is cancelled" in r.get_json()["error"]["message"]


def test_a_group_is_not_found_elsewhere_and_a_channel_may_not_repeat(api: Api, owner) -> None:
    token, ws = owner
    x = _channel(api, token, ws, "x", "acme")
    r = api.call("GET", f"/workspaces/{ws}/post-groups/nope", token)
    assert r.status_code == 404
    r = api.call(
        "POST",
        f"/workspaces/{ws}/post-groups",
        token,
        json={"text": "twice", "channels": [{"account_id": x["id"]}, {"account_id": x["id"]}]},
    )
    assert r.status_code == 400 and "chosen twice" in r.get_json()["error"]["message"]
    r = api.call(
        "POST", f"/workspaces/{ws}/post-groups", token, json={"text": "none", "channels": []}
    )
    assert r.status_code == 400


def test_a_channels_variant_is_bounded_as_a_whole(api: Api, owner) -> None:
    token, ws = owner
    x = _channel(api, token, ws, "x", "acme")
    variant = {"account_id": x["id"], "text": "a" * 4000, "parts": ["b" * 4000] * 8}
    r = api.call("POST", f"/workspaces/{ws}/post-groups", token, json={"channels": [variant]})
    assert r.status_code == 400 and "at most 32 KiB" in str(r.get_json()), r.get_json()
    assert _posts(api) == []


def test_group_cancels_racing_the_workers_at_the_due_instant(api: Api, owner, capsys) -> None:
    """A group cancel racing its three posts' deliveries at the due instant: each network
    is either cancelled with nothing recorded, or listed in `not_cancelled` and recorded
    once; never cancelled while it went out, never out twice."""
    import json
    import random
    import threading

    from shared.x.models import SANDBOX_POSTS

    token, ws = owner
    accounts = _three(api, token, ws)
    rng = random.Random(21)
    outcomes: dict[str, int] = {}
    wrong: list[Any] = []
    for i in range(12):
        text = f"group race {i}"
        due = api.runtime.clock.now() + timedelta(seconds=30)
        group = api.call(
            "POST",
            f"/workspaces/{ws}/post-groups",
            token,
            json={
                "text": text,
                "due_at": due.isoformat(),
                "schedule": True,
                "channels": [{"account_id": a["id"]} for a in accounts.values()],
            },
        ).get_json()
        api.runtime.clock.set(due)  # type: ignore[attr-defined]
        start = threading.Barrier(4)
        answer: list[Any] = []

        def deliver(post_id: str, start: Any = start) -> None:
            start.wait()
            threading.Event().wait(rng.random() * 0.08)  # the cancel's request is slower
            worker.handle(api.runtime, task_payload(api.runtime, post_id))

        def cancel(group_id: str = group["group_id"], start: Any = start, answer: list = answer):
            client = api.client.application.test_client()
            start.wait()
            answer.append(
                client.post(
                    f"/api/v1/workspaces/{ws}/post-groups/{group_id}/cancel",
                    headers={"Authorization": f"Bearer {token}"},
                )
            )

        threads = [threading.Thread(target=deliver, args=(p["id"],)) for p in group["posts"]]
        threads.append(threading.Thread(target=cancel))
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answer[0].status_code == 200, answer[0].get_json()
        kept = {k["id"] for k in answer[0].get_json()["not_cancelled"]}
        records = [
            r.to_dict()
            for r in api.runtime.db.collection(SANDBOX_POSTS).stream()
            if (r.to_dict() or {}).get("text") == text and not (r.to_dict() or {}).get("withdrawn")
        ]
        for post in group["posts"]:
            sent = sum(1 for r in records if r.get("account_id") == post["account_id"])
            final = api.runtime.db.collection(POSTS).document(post["id"]).get().get("status")
            key = f"{'kept' if post['id'] in kept else 'cancelled'} sent={sent} final={final}"
            outcomes[key] = outcomes.get(key, 0) + 1
            if (post["id"] in kept, sent, final) not in (
                (False, 0, "cancelled"),
                (True, 1, "published"),
            ):
                wrong.append((post["network"], key))
    with capsys.disabled():
        counts = json.dumps(outcomes, sort_keys=True)
        print(f"\n12 group cancels x 3 networks at the due instant: {counts}")
    assert wrong == [], outcomes
