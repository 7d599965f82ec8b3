"""Email rollups folded incrementally from synthetic events: late, duplicate, concurrent,
batched, paged; and the recompute (rebuild) that agrees with the fold."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from google.api_core import exceptions

from shared.clock import FrozenClock
from shared.metrics import dashboards, email_rollups
from shared.runtime import Runtime


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def put(runtime: Runtime, events: dict[str, dict[str, Any]], ws: str = "ws1") -> None:
    """Events as the pipeline writes them: new, and pending until folded."""
    batch = runtime.db.batch()
    for i, (eid, event) in enumerate(events.items()):
        batch.set(
            runtime.db.collection("email_events").document(eid),
            {"workspace_id": ws, "fold_pending": True, **event},
        )
        if i % 400 == 399:
            batch.commit()
            batch = runtime.db.batch()
    batch.commit()


def daily(runtime: Runtime, key: str, ws: str = "ws1") -> dict[str, Any]:
    snap = runtime.db.collection("metrics_daily").document(f"{ws}_{key}").get()
    return snap.to_dict() or {}


def campaign(runtime: Runtime, cid: str, ws: str = "ws1") -> dict[str, Any]:
    """The campaign's metrics as the API answers them (rates and top links included)."""
    return dashboards.email_campaign_metrics(runtime, ws, cid)


def pending(runtime: Runtime) -> list[str]:
    return [
        d.id
        for d in runtime.db.collection("email_events").stream()
        if (d.to_dict() or {}).get("fold_pending")
    ]


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


def test_fold_counts_each_event_once_late_and_duplicate_included(
    runtime: Runtime, ws: str, clock: FrozenClock
) -> None:
    put(runtime, SCENARIO)
    first = email_rollups.fold_pending(runtime)
    assert (first["events"], first["more"]) == (len(SCENARIO), 0)
    assert pending(runtime) == []
    d4, d5 = daily(runtime, "2026-01-04"), daily(runtime, "2026-01-05")
    assert (d4["email_sent"], d4["email_failed"], d4["email_bounces"]) == (3, 1, 1)
    # Unique opens of a day: recipients whose first open it was (r1 opened twice).
    assert (d4["email_opens"], d4["email_unique_opens"]) == (2, 1)
    assert (d4["email_clicks"], d4["email_unique_clicks"]) == (1, 1)
    assert (d5["email_opens"], d5["email_unique_opens"], d5["email_unsubscribes"]) == (1, 1, 1)
    c1 = campaign(runtime, "c1")
    assert (c1["sent"], c1["opens"], c1["unique_opens"], c1["clicks"]) == (3, 3, 2, 1)
    assert c1["open_rate"] == 0.6667 and c1["click_rate"] == 0.3333
    assert (c1["bounces"], c1["unsubscribes"], c1["failed"]) == (1, 1, 1)
    assert c1["unsubscribe_rate"] == 0.3333 and c1["bounce_rate"] == 0.3333
    assert c1["top_links"] == [{"url": "https://acme.test/jobs", "clicks": 1}]
    assert c1["daily"]["2026-01-04"] == {"opens": 2, "clicks": 1}

    # Nothing pending: one read, nothing written.
    assert email_rollups.fold_pending(runtime)["events"] == 0

    # A duplicate delivery lands on the same dedupe id (create() refuses it): no event.
    with pytest.raises(exceptions.AlreadyExists):
        runtime.db.collection("email_events").document("open__c1__r1__1").create(
            {"workspace_id": ws, "fold_pending": True, **SCENARIO["open__c1__r1__1"]}
        )
    assert email_rollups.fold_pending(runtime)["events"] == 0

    # Late events: an open for yesterday and a click two days back, arriving today,
    # each land on their own day; r2's click is its first, r3's open too.
    clock.advance(hours=3)
    put(
        runtime,
        {
            "open__c1__r3__1": {"campaign_id": "c1", "type": "open", "at": at(4, 23),
                                "recipient_id": "r3"},
            "click__c1__r2__1": {"campaign_id": "c1", "type": "click", "at": at(3, 20),
                                 "recipient_id": "r2", "url": "https://acme.test/jobs"},
            "click__c1__r1__2": {"campaign_id": "c1", "type": "click", "at": at(5, 9),
                                 "recipient_id": "r1", "url": "https://acme.test/about"},
        }
    )  # fmt: skip
    assert email_rollups.fold_pending(runtime)["events"] == 3
    d4 = daily(runtime, "2026-01-04")
    assert (d4["email_opens"], d4["email_unique_opens"]) == (3, 2)
    assert daily(runtime, "2026-01-03")["email_clicks"] == 1
    assert daily(runtime, "2026-01-05").get("email_unique_clicks", 0) == 0  # r1 clicked before
    c1 = campaign(runtime, "c1")
    assert (c1["opens"], c1["unique_opens"], c1["clicks"], c1["unique_clicks"]) == (4, 3, 3, 2)
    assert c1["open_rate"] == 1.0
    assert c1["daily"]["2026-01-03"] == {"opens": 0, "clicks": 1}
    assert c1["top_links"] == [
        {"url": "https://acme.test/jobs", "clicks": 2},
        {"url": "https://acme.test/about", "clicks": 1},
    ]

    # A rebuild of the range recomputes the same numbers from the stored events.
    before = {k: daily(runtime, k) for k in ("2026-01-03", "2026-01-04", "2026-01-05")}
    email_rollups.rebuild(runtime, ws, date(2026, 1, 3), date(2026, 1, 5))
    for key, doc in before.items():
        after = daily(runtime, key)
        fields = [f for f in doc if f.startswith("email_") and f != "email_updated_at"]
        assert {f: after[f] for f in fields} == {f: doc[f] for f in fields}, key
    assert campaign(runtime, "c1") | {"updated_at": None} == c1 | {"updated_at": None}


def test_two_folds_of_the_same_events_count_them_once(runtime: Runtime, ws: str) -> None:
    """At-least-once: a fold task delivered twice, or two side by side, read the same
    pending events; the second commit fails on its precondition and skips them."""
    from shared.queries import build
    from shared.queries.metrics import EMAIL_FOLD_PENDING

    put(runtime, SCENARIO)
    query = build(runtime.db, EMAIL_FOLD_PENDING, fold_pending=True)
    stale = list(query.stream())  # what both folds read
    first, second = email_rollups._Folder(runtime), email_rollups._Folder(runtime)
    first.fold(stale)
    second.fold(stale)
    assert first.stats["events"] == len(SCENARIO)
    assert (second.stats["events"], second.stats["skipped"]) == (0, len(SCENARIO))
    c1 = campaign(runtime, "c1")
    assert (c1["opens"], c1["unique_opens"], c1["sent"]) == (3, 2, 3)


def test_a_recipients_second_click_folded_apart_is_not_a_second_unique(
    runtime: Runtime, ws: str
) -> None:
    """Two clicks of one recipient folded by different groups: the second group's marker
    create fails, it re-reads the markers and counts the click as a repeat."""
    put(runtime, {"k1": {"campaign_id": "c1", "type": "click", "at": at(4, 9),
                         "recipient_id": "r1", "url": "https://a.test/1"}})  # fmt: skip
    email_rollups.fold_pending(runtime)
    put(runtime, {"k2": {"campaign_id": "c1", "type": "click", "at": at(4, 10),
                         "recipient_id": "r1", "url": "https://a.test/2"}})  # fmt: skip
    stats = email_rollups.fold_pending(runtime)
    assert (stats["events"], stats["retries"]) == (1, 1)
    c1 = campaign(runtime, "c1")
    assert (c1["clicks"], c1["unique_clicks"]) == (2, 1)


def test_fold_matches_an_independent_count_of_many_events(runtime: Runtime, ws: str) -> None:
    rng = random.Random(7)
    events: dict[str, dict[str, Any]] = {}
    expected: Counter[tuple[str, str]] = Counter()
    firsts: dict[tuple[str, str, str], datetime] = {}
    for i in range(700):
        kind = rng.choice(["open", "open", "click", "unsubscribe", "bounce"])
        when = at(rng.choice([3, 4, 5]), rng.randrange(0, 9), rng.choice([0, 30]))  # many ties
        rid = f"r{rng.randrange(60)}"
        cid = rng.choice(["c1", "c2"])
        events[f"e{i:04d}"] = {"campaign_id": cid, "type": kind, "at": when, "recipient_id": rid}
        expected[(when.date().isoformat(), kind)] += 1
        firsts.setdefault((cid, kind, rid), when)
    put(runtime, events)
    stats = email_rollups.fold_pending(runtime, max_pages=2)  # a backlog: 300 of 700
    assert (stats["events"], stats["more"]) == (300, 1)
    while email_rollups.fold_pending(runtime)["more"]:
        pass
    assert pending(runtime) == []
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
    # Unique: one per (campaign, recipient) whatever the fold order; the fold reads
    # pending events by id, not by instant, so a day holds the first *folded* open.
    for cid in ("c1", "c2"):
        assert campaign(runtime, cid)["unique_opens"] == sum(
            1 for (c, k, _r) in firsts if (c, k) == (cid, "open")
        )
    total_opens = sum(campaign(runtime, c)["opens"] for c in ("c1", "c2"))
    assert total_opens == sum(v for (d, k), v in expected.items() if k == "open")


def test_days_follow_the_workspace_timezone(runtime: Runtime) -> None:
    runtime.db.collection("workspaces").document("ny").set({"timezone": "America/New_York"})
    put(
        runtime,
        {"o1": {"campaign_id": "c9", "type": "open", "at": at(5, 3), "recipient_id": "r1"}},
        ws="ny",
    )
    email_rollups.fold_pending(runtime)
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


def test_the_fold_costs_one_read_and_one_write_per_event(runtime: Runtime, ws: str) -> None:
    """Counted at the RPC level, as billed: per event one read and one write (its flag),
    a first open one write more (its marker); per group of events one write per rollup
    document touched; an idle tick one read."""
    from tests.metrics.readcount import ReadCounter

    opens = {
        f"open__c1__r{i:03d}": {
            "campaign_id": "c1",
            "type": "open",
            "at": at(4, 10),
            "recipient_id": f"r{i:03d}",
        }
        for i in range(200)
    }
    sent = {"sent__c1__000000": {"campaign_id": "c1", "type": "sent", "at": at(4, 9), "count": 200,
                                 "recipient_ids": [f"r{i:03d}" for i in range(200)]}}  # fmt: skip
    put(runtime, {**opens, **sent})
    with ReadCounter(runtime.db) as counter:
        stats = email_rollups.fold_pending(runtime)
    assert stats["events"] == 201
    groups = stats["groups"]
    # Reads: the 201 events (pages of 150 and 51) and the workspace's zone.
    assert counter.reads == 201 + 1
    # Writes: 201 flags, 200 first-open markers, and per group (here one per page:
    # 150 flags + 150 markers + 3 fit in one batch) 3 rollup documents: the
    # workspace-day, the campaign-day and the campaign.
    assert groups == 2
    assert counter.writes == 201 + 200 + 3 * groups
    assert campaign(runtime, "c1")["unique_opens"] == 200
    with ReadCounter(runtime.db) as idle:
        assert email_rollups.has_pending(runtime.db) is False
    assert (idle.reads, idle.writes) == (1, 0)


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
            # A campaign whose only engagement so far is a machine's.
            "machine_open__c3__r9": {"campaign_id": "c3", "type": "open", "at": at(4, 13),
                                     "recipient_id": "r9", "machine": "apple_mpp"},
        },
    )  # fmt: skip
    email_rollups.fold_pending(runtime)
    check_machines_apart(runtime)
    # A rebuild from the stored events counts them the same way.
    email_rollups.rebuild(runtime, ws, date(2026, 1, 4), date(2026, 1, 4))
    check_machines_apart(runtime)


def check_machines_apart(runtime: Runtime) -> None:
    d4 = Counter(daily(runtime, "2026-01-04"))  # the fold writes only what it counted
    assert (d4["email_opens"], d4["email_unique_opens"], d4["email_clicks"]) == (1, 1, 0)
    assert (d4["email_machine_opens"], d4["email_machine_clicks"]) == (2, 1)
    c2 = campaign(runtime, "c2")
    assert (c2["unique_opens"], c2["unique_clicks"], c2["open_rate"]) == (1, 0, 0.5)
    assert (c2["machine_opens"], c2["machine_clicks"]) == (1, 1)
    assert c2["top_links"] == []
    c3 = campaign(runtime, "c3")
    assert (c3["opens"], c3["unique_opens"], c3["machine_opens"]) == (0, 0, 1)
