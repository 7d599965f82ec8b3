"""Email rollups recomputed from synthetic events: late, duplicate, batched, paged."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clock import FrozenClock
from shared.metrics import email_rollups
from shared.runtime import Runtime


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def put(runtime: Runtime, events: dict[str, dict[str, Any]], ws: str = "ws1") -> None:
    batch = runtime.db.batch()
    for i, (eid, event) in enumerate(events.items()):
        batch.set(
            runtime.db.collection("email_events").document(eid), {"workspace_id": ws, **event}
        )
        if i % 400 == 399:
            batch.commit()
            batch = runtime.db.batch()
    batch.commit()


def daily(runtime: Runtime, key: str, ws: str = "ws1") -> dict[str, Any]:
    snap = runtime.db.collection("metrics_daily").document(f"{ws}_{key}").get()
    return snap.to_dict() or {}


def campaign(runtime: Runtime, cid: str) -> dict[str, Any]:
    return runtime.db.collection("email_campaign_metrics").document(cid).get().to_dict() or {}


SCENARIO = {
    # The send worker writes one event per batch with count + recipient_ids.
    "sent__c1__000000": {"campaign_id": "c1", "type": "sent", "at": at(4, 10), "count": 3,
                         "recipient_ids": ["r1", "r2", "r3"]},
    "failed__c1__000000": {"campaign_id": "c1", "type": "failed", "at": at(4, 10), "count": 1,
                           "recipient_ids": ["r4"]},
    "bounce__c1__r4": {"campaign_id": "c1", "type": "bounce", "at": at(4, 10, 1),
                       "recipient_id": "r4"},
    "open__c1__r1__1": {"campaign_id": "c1", "type": "open", "at": at(4, 11), "recipient_id": "r1"},
    "open__c1__r1__2": {"campaign_id": "c1", "type": "open", "at": at(4, 12), "recipient_id": "r1"},
    "click__c1__r1__1": {"campaign_id": "c1", "type": "click", "at": at(4, 11, 5),
                         "recipient_id": "r1", "url": "https://acme.test/jobs"},
    "open__c1__r2__1": {"campaign_id": "c1", "type": "open", "at": at(5, 8), "recipient_id": "r2"},
    "unsub__c1__r3": {"campaign_id": "c1", "type": "unsubscribe", "at": at(5, 8, 30),
                      "recipient_id": "r3"},
}  # fmt: skip


def test_rollups_late_and_duplicate_events(runtime: Runtime, ws: str, clock: FrozenClock) -> None:
    put(runtime, SCENARIO)
    first = email_rollups.fold_workspace(runtime, ws)
    assert first["days_recomputed"] == 2
    d4, d5 = daily(runtime, "2026-01-04"), daily(runtime, "2026-01-05")
    assert (d4["email_sent"], d4["email_failed"], d4["email_bounces"]) == (3, 1, 1)
    assert (d4["email_opens"], d4["email_unique_opens"]) == (2, 1)
    assert (d4["email_clicks"], d4["email_unique_clicks"]) == (1, 1)
    assert (d5["email_opens"], d5["email_unsubscribes"], d5["email_sent"]) == (1, 1, 0)
    c1 = campaign(runtime, "c1")
    assert (c1["sent"], c1["opens"], c1["unique_opens"], c1["clicks"]) == (3, 3, 2, 1)
    assert c1["open_rate"] == 0.6667 and c1["click_rate"] == 0.3333
    assert (c1["bounces"], c1["unsubscribes"], c1["failed"]) == (1, 1, 1)
    assert c1["top_links"] == [{"url": "https://acme.test/jobs", "clicks": 1}]

    # Nothing new: two reads (state + one count) and no recompute.
    assert email_rollups.fold_workspace(runtime, ws)["days_recomputed"] == 0

    # Duplicate deliveries land on the same dedupe id: nothing changes.
    put(runtime, {k: SCENARIO[k] for k in ("open__c1__r1__1", "sent__c1__000000")})
    assert email_rollups.fold_workspace(runtime, ws)["days_recomputed"] == 0
    assert daily(runtime, "2026-01-04")["email_opens"] == 2

    # Late events: an open for yesterday and a click two days back, arriving today.
    clock.advance(hours=3)
    put(
        runtime,
        {
            "open__c1__r3__1": {"campaign_id": "c1", "type": "open", "at": at(4, 23),
                                "recipient_id": "r3"},
            "click__c1__r2__1": {"campaign_id": "c1", "type": "click", "at": at(3, 20),
                                 "recipient_id": "r2", "url": "https://acme.test/jobs"},
        }
    )  # fmt: skip
    late = email_rollups.fold_workspace(runtime, ws)
    assert late["days_recomputed"] == 2  # 2026-01-03 and 2026-01-04, not today
    d4 = daily(runtime, "2026-01-04")
    assert (d4["email_opens"], d4["email_unique_opens"]) == (3, 2)
    assert daily(runtime, "2026-01-03")["email_clicks"] == 1
    c1 = campaign(runtime, "c1")
    assert (c1["opens"], c1["unique_opens"], c1["clicks"], c1["unique_clicks"]) == (4, 3, 2, 2)
    assert c1["open_rate"] == 1.0
    assert c1["daily"]["2026-01-03"] == {"opens": 0, "clicks": 1}

    # An event later than the late window is folded only by an explicit rebuild.
    old = at(5, 9) - timedelta(days=20)
    put(
        runtime,
        {"open__old": {"campaign_id": "c0", "type": "open", "at": old, "recipient_id": "r9"}},
    )
    assert email_rollups.fold_workspace(runtime, ws)["days_recomputed"] == 0
    old_day = old.date()
    email_rollups.rebuild(runtime, ws, old_day, old_day)
    assert daily(runtime, old_day.isoformat())["email_opens"] == 1
    assert campaign(runtime, "c0")["unique_opens"] == 1


def test_rollups_match_an_independent_count_of_many_events(runtime: Runtime, ws: str) -> None:
    rng = random.Random(7)
    events: dict[str, dict[str, Any]] = {}
    expected: Counter[tuple[str, str]] = Counter()
    uniques: dict[tuple[str, str], set[str]] = {}
    for i in range(700):
        kind = rng.choice(["open", "open", "click", "unsubscribe", "bounce"])
        when = at(rng.choice([3, 4, 5]), rng.randrange(0, 9), rng.choice([0, 30]))  # many ties
        rid = f"r{rng.randrange(60)}"
        cid = rng.choice(["c1", "c2"])
        events[f"e{i:04d}"] = {"campaign_id": cid, "type": kind, "at": when, "recipient_id": rid}
        day = when.date().isoformat()
        expected[(day, kind)] += 1
        uniques.setdefault((day, kind), set()).add(rid)
    put(runtime, events)
    stats = email_rollups.fold_workspace(runtime, ws)
    assert stats["events_read"] == 700
    plural = {
        "open": "opens",
        "click": "clicks",
        "unsubscribe": "unsubscribes",
        "bounce": "bounces",
    }
    for day in ("2026-01-03", "2026-01-04", "2026-01-05"):
        doc = daily(runtime, day)
        for kind, name in plural.items():
            assert doc[f"email_{name}"] == expected[(day, kind)], (day, kind)
        assert doc["email_unique_opens"] == len(uniques.get((day, "open"), set()))
    total_opens = sum(campaign(runtime, c)["opens"] for c in ("c1", "c2"))
    assert total_opens == sum(v for (d, k), v in expected.items() if k == "open")


def test_days_follow_the_workspace_timezone(runtime: Runtime) -> None:
    runtime.db.collection("workspaces").document("ny").set({"timezone": "America/New_York"})
    put(
        runtime,
        {"o1": {"campaign_id": "c9", "type": "open", "at": at(5, 3), "recipient_id": "r1"}},
        ws="ny",
    )
    email_rollups.fold_workspace(runtime, "ny")
    assert daily(runtime, "2026-01-04", ws="ny")["email_opens"] == 1  # 22:00 the day before
    assert daily(runtime, "2026-01-05", ws="ny") == {}


def test_pages_neither_skip_nor_repeat_across_runs_of_equal_values(runtime: Runtime) -> None:
    from shared.queries import pages
    from shared.queries.metrics import EMAIL_EVENTS

    # A run of 7 equal instants straddles page boundaries of 3.
    times = [at(4, 9)] + [at(4, 10)] * 7 + [at(4, 11)] * 2 + [at(5, 1)]
    put(runtime, {f"t{i:02d}": {"type": "open", "at": t} for i, t in enumerate(times)})
    found = list(
        pages(runtime.db, EMAIL_EVENTS, page_size=3, workspace_id="ws1", ge=at(4, 0), lt=at(5, 0))
    )
    ids = [d.id for page in found for d in page]
    assert ids == [f"t{i:02d}" for i in range(10)]  # t10 is on the next day: outside
    assert [len(p) for p in found] == [3, 3, 3, 1]  # cursors cut the run exactly


def test_machine_opens_and_clicks_are_counted_apart(runtime: Runtime, ws: str) -> None:
    put(
        runtime,
        {
            "sent__c2__0": {"campaign_id": "c2", "type": "sent", "at": at(4, 10), "count": 2,
                            "recipient_ids": ["r1", "r2"]},
            "machine_open__c2__r1": {"campaign_id": "c2", "type": "open", "at": at(4, 10, 1),
                                     "recipient_id": "r1", "machine": "apple_mpp"},
            "machine_click__c2__r2__0": {"campaign_id": "c2", "type": "click",
                                         "at": at(4, 10, 2), "recipient_id": "r2",
                                         "url": "https://acme.test/", "machine": "scanner"},
            "open__c2__r2": {"campaign_id": "c2", "type": "open", "at": at(4, 12),
                             "recipient_id": "r2"},
        },
    )  # fmt: skip
    email_rollups.fold_workspace(runtime, ws)
    d4 = daily(runtime, "2026-01-04")
    assert (d4["email_opens"], d4["email_unique_opens"], d4["email_clicks"]) == (1, 1, 0)
    assert (d4["email_machine_opens"], d4["email_machine_clicks"]) == (1, 1)
    c2 = campaign(runtime, "c2")
    assert (c2["unique_opens"], c2["unique_clicks"], c2["open_rate"]) == (1, 0, 0.5)
    assert (c2["machine_opens"], c2["machine_clicks"]) == (1, 1)
    assert c2["top_links"] == []
