"""What a dashboard load costs, counted at the RPC level, and what it shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.clock import FrozenClock
from shared.errors import NotFound, ValidationError
from shared.metrics import best_time, dashboards, email_rollups
from shared.metrics.ads_tasks import refresh_ads_days
from shared.runtime import Runtime
from tests.metrics.readcount import ReadCounter

TODAY = date(2026, 1, 5)
DAYS = 14


def seed_events(runtime: Runtime, per_day: int, tag: str) -> None:
    db = runtime.db
    batch, n = db.batch(), 0
    for d in range(DAYS):
        day = datetime(2026, 1, 5, 8, tzinfo=UTC) - timedelta(days=d)
        batch.set(
            db.collection("email_events").document(f"sent-{tag}-{d}"),
            {"workspace_id": "ws1", "campaign_id": "c1", "type": "sent", "at": day,
             "count": per_day, "recipient_ids": [f"r{i}" for i in range(per_day)]},
        )  # fmt: skip
        for i in range(per_day):
            batch.set(
                db.collection("email_events").document(f"open-{tag}-{d}-{i}"),
                {"workspace_id": "ws1", "campaign_id": "c1", "type": "open",
                 "at": day + timedelta(seconds=i), "recipient_id": f"r{i}"},
            )  # fmt: skip
            n += 1
            if n % 400 == 0:
                batch.commit()
                batch = db.batch()
    batch.commit()


def load(runtime: Runtime, days: int, **kw: Any) -> tuple[dict[str, Any], int]:
    with ReadCounter(runtime.db) as counter:
        view = dashboards.overview(runtime, "ws1", days=days, **kw)
    return view, counter.reads


def test_a_dashboard_load_reads_one_document_per_day_shown(runtime: Runtime, ws: str) -> None:
    seed_events(runtime, per_day=4, tag="a")
    email_rollups.rebuild(runtime, ws, TODAY - timedelta(days=DAYS - 1), TODAY)
    small: dict[int, int] = {}
    for days in (1, 7, 14, 30):
        view, reads = load(runtime, days, end=TODAY)
        small[days] = reads
        assert len(view["days"]) == days
    assert small == {1: 1, 7: 7, 14: 14, 30: 30}  # days before the events: missing docs
    view7, _ = load(runtime, 7, end=TODAY)
    assert view7["totals"]["email_opens"] == 7 * 4 and view7["totals"]["email_sent"] == 28

    # Ten times more events stored: the same loads cost the same reads.
    seed_events(runtime, per_day=40, tag="b")
    email_rollups.rebuild(runtime, ws, TODAY - timedelta(days=DAYS - 1), TODAY)
    for days in (1, 7, 14, 30):
        assert load(runtime, days, end=TODAY)[1] == small[days]
    view7, _ = load(runtime, 7, end=TODAY)
    assert view7["totals"]["email_opens"] == 7 * 44  # the rollups did see them
    # Unique opens of a day are the recipients whose first open of the campaign it was:
    # c1's 40 recipients (r0..r39) first opened on the oldest day, 14 days back.
    assert view7["totals"]["email_unique_opens"] == 0
    view14, _ = load(runtime, 14, end=TODAY)
    assert view14["totals"]["email_unique_opens"] == 40
    assert view14["rates"]["email_open_rate"] == round(40 / (14 * 44), 4)


def test_default_end_is_today_in_the_workspace_zone_for_one_more_read(
    runtime: Runtime, ws: str
) -> None:
    view, reads = load(runtime, 7)
    assert view["end"] == "2026-01-05" and reads == 7 + 1  # + the workspace's timezone


def test_the_day_rollup_carries_email_x_and_ads(runtime: Runtime, ws: str) -> None:
    db = runtime.db
    for platform, imp, clicks, spend in (("meta", 1000, 25, 12.5), ("google", 500, 5, 2.5)):
        db.collection("ad_insights").document(f"ad1__{platform}__2026-01-04").set(
            {"workspace_id": ws, "campaign_id": "ad1", "platform": platform,
             "date": "2026-01-04", "impressions": imp, "clicks": clicks, "spend": spend}
        )  # fmt: skip
    assert refresh_ads_days(runtime, ws, [date(2026, 1, 4), date(2026, 1, 3)]) == {"ads_days": 1}
    view, _ = load(runtime, 2, end=TODAY)
    day = view["days"][0]
    assert (day["ads_impressions"], day["ads_clicks"], day["ads_spend"]) == (1500, 30, 15.0)
    assert view["rates"]["ads_ctr"] == 0.02 and view["rates"]["ads_cpc"] == 0.5
    assert view["days"][1]["ads_impressions"] == 0


def test_bad_requests_are_refused_clearly(runtime: Runtime, ws: str) -> None:
    with pytest.raises(ValidationError, match="days must be between"):
        dashboards.overview(runtime, ws, days=0)
    with pytest.raises(ValidationError, match="end must be a date"):
        dashboards.overview(runtime, ws, days=3, end="yesterday")
    with pytest.raises(NotFound):
        dashboards.post_metrics(runtime, ws, "nope")


def test_other_views_read_one_rollup_each(runtime: Runtime, ws: str, clock: FrozenClock) -> None:
    seed_events(runtime, per_day=3, tag="a")
    email_rollups.rebuild(runtime, ws, TODAY - timedelta(days=DAYS - 1), TODAY)
    with ReadCounter(runtime.db) as counter:
        c1 = dashboards.email_campaign_metrics(runtime, ws, "c1")
    assert counter.reads == 1 and c1["opens"] == DAYS * 3 and c1["unique_opens"] == 3
    assert dashboards.email_campaign_metrics(runtime, "other", "c1")["opens"] == 0  # isolated
    with ReadCounter(runtime.db) as counter:
        top = dashboards.top_email_campaigns(runtime, ws, limit=5)
    assert [t["campaign_id"] for t in top] == ["c1"] and counter.reads == 1


def test_best_time_buckets_by_hour_of_week(runtime: Runtime, ws: str, clock: FrozenClock) -> None:
    db = runtime.db
    monday_9 = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday
    rows = [
        (monday_9 - timedelta(days=7), 50),
        (monday_9 - timedelta(days=14), 70),
        (monday_9 - timedelta(days=6, hours=-5), 5),  # Tuesday 14:00
        (monday_9 - timedelta(days=13, hours=-5), 7),
        (monday_9 - timedelta(days=200), 999),  # outside the history window
    ]
    for i, (published, eng) in enumerate(rows):
        db.collection("posts").document(f"h{i}").set(
            {"workspace_id": ws, "account_id": "acct1", "published_at": published,
             "metrics_at": published, "metrics_engagements": eng, "metrics_impressions": eng * 10}
        )  # fmt: skip
    doc = best_time.recompute(runtime, ws, "acct1")
    assert doc["posts"] == 4
    assert doc["buckets"][9] == {"posts": 2, "impressions": 1200, "engagements": 120}
    assert doc["buckets"][24 + 14]["posts"] == 2
    with ReadCounter(runtime.db) as counter:
        view = dashboards.best_time(runtime, ws, "acct1")
    assert counter.reads == 1
    assert [(b["weekday"], b["hour"]) for b in view["best"]] == [("Mon", 9), ("Tue", 14)]
    assert view["best"][0]["mean_engagements"] == 60.0
    assert dashboards.best_time(runtime, "other", "acct1")["best"] == []


def test_read_budget_is_set_per_workspace(runtime: Runtime, ws: str) -> None:
    from shared.metrics import budget

    assert dashboards.read_budget(runtime, ws)["limit"] == runtime.settings.metrics_read_budget
    assert budget.set_limit(runtime, ws, 250)["remaining"] == 250
    assert budget.reserve(runtime, ws, 100, key="pull-1").granted == 100
    assert dashboards.read_budget(runtime, ws)["used"] == 100
    with pytest.raises(ValidationError, match="whole number"):
        budget.set_limit(runtime, ws, -1)
    assert budget.set_limit(runtime, ws, None)["limit"] == runtime.settings.metrics_read_budget


def test_a_post_growth_curve(runtime: Runtime, ws: str, clock: FrozenClock) -> None:
    from shared.metrics import x_pull
    from tests.metrics.conftest import add_account, add_posts

    add_account(runtime, ws, "sand1", sandbox=True)
    (pid,) = add_posts(runtime, ws, "sand1", 1, clock.now() - timedelta(minutes=50))
    for hour in range(3):
        clock.advance(minutes=10 if hour == 0 else 60)
        body = {"workspace_id": ws, "account_id": "sand1", "post_ids": [pid],
                "slot": clock.now().isoformat()}  # fmt: skip
        x_pull.pull(runtime, body)
    with ReadCounter(runtime.db) as counter:
        curve = dashboards.post_metrics(runtime, ws, pid)
    assert counter.reads == 1 + 3  # the post and its snapshots
    impressions = [p["impressions"] for p in curve["snapshots"]]
    assert len(impressions) == 3 and impressions == sorted(impressions) and impressions[0] > 0
    assert curve["latest"]["impressions"] == impressions[-1]
    assert curve["status"] == "active" and curve["snapshots"][0]["source"] == "sandbox-synthetic"
    with pytest.raises(NotFound):
        dashboards.post_metrics(runtime, "other", pid)
