"""The ad-insights contract between collect_metrics and the ads function (publish_ads).

collect_metrics never imports an ad SDK. Once a day it enqueues, on the "ads" queue,
one task per active or paused ad campaign and reporting date:

    target:  publish_ads          queue kind: "ads"
    payload: {"action": "insights",
              "workspace_id": "<workspace id>",
              "ad_campaign_id": "<ad_campaigns document id>",
              "date": "YYYY-MM-DD"}      # a reporting day, in the ad account's zone
    task id: "adins-<ad_campaign_id>-<date>" (real Cloud Tasks drops a repeat)

The ads function pulls that day's insights from every platform the campaign is
published on (Meta: impressions, clicks, spend; Google Ads GAQL: metrics.impressions,
metrics.clicks, metrics.cost_micros / 1e6) and *sets* (never increments) one document
per campaign, platform and day, so a repeated task overwrites the same numbers:

    ad_insights/{ad_campaign_id}__{platform}__{date}:
        workspace_id, campaign_id, platform, date, impressions (int), clicks (int),
        spend (float, account currency major units), currency, updated_at

CTR (clicks / impressions, a fraction) and CPC (spend / clicks) are derived by the
readers, so Meta's percentage CTR and Google's fraction never mix. The same date is
asked again for LOOKBACK_DAYS days, because platforms revise recent days
(late-attributed clicks). collect_metrics then folds the workspace's `ad_insights` of
those days into `metrics_daily` (ads_* fields) on its next rollup.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import claims
from shared.metrics.model import DAILY, daily_id, day_key
from shared.queries import build, pages
from shared.queries.metrics import AD_INSIGHT_DAYS, PULL_AD_CAMPAIGNS
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

ACTION = "insights"
QUEUE = "ads"
TARGET = "publish_ads"
LOOKBACK_DAYS = 3  # yesterday and the two days before it
PULL_STATUSES = ["active", "paused"]


def insights_payload(workspace_id: str, ad_campaign_id: str, day: date | str) -> dict[str, str]:
    return {
        "action": ACTION,
        "workspace_id": workspace_id,
        "ad_campaign_id": ad_campaign_id,
        "date": day if isinstance(day, str) else day_key(day),
    }


def insights_task(workspace_id: str, ad_campaign_id: str, day: date | str) -> TaskSpec:
    payload = insights_payload(workspace_id, ad_campaign_id, day)
    return TaskSpec(
        kind=QUEUE,
        target=TARGET,
        payload=payload,
        task_id=safe_task_id("adins", ad_campaign_id, payload["date"]),
    )


def reporting_days(today: date) -> list[date]:
    return [today - timedelta(days=i) for i in range(1, LOOKBACK_DAYS + 1)]


def fan_out(runtime: Runtime) -> dict[str, int]:
    """Enqueue the insight pulls of every running ad campaign for the reporting days.

    Each (campaign, date) is claimed with create(), so a repeated sweep enqueues nothing
    twice, even after task-name dedup's hour has passed. Reads ∝ ad campaigns.
    """
    db, now = runtime.db, runtime.clock.now()
    # The claim is per day of the sweep: the same reporting date is asked again on the
    # next days (platforms revise them), but only once per sweep day.
    sweep_day = day_key(now.date())
    days = reporting_days(now.date())
    counts = {"campaigns": 0, "tasks": 0}
    campaigns = pages(db, PULL_AD_CAMPAIGNS, page_size=300, status=list(PULL_STATUSES))
    for page in campaigns:
        for snap in page:
            campaign = snap.to_dict()
            workspace_id = campaign.get("workspace_id")
            if not workspace_id:
                continue
            counts["campaigns"] += 1
            start, end = campaign.get("start_at"), campaign.get("end_at")
            for d in days:
                # Days outside the campaign's flight have nothing to report.
                if isinstance(start, datetime) and d < start.date():
                    continue
                if isinstance(end, datetime) and d > end.date():
                    continue
                key = claims.claim_id("adins", snap.id, day_key(d), sweep_day)
                if claims.try_claim(
                    db, key, owner="collect_metrics", now=now, workspace_id=workspace_id,
                    ttl=timedelta(days=7),
                ):  # fmt: skip
                    runtime.enqueuer.enqueue(insights_task(workspace_id, snap.id, d))
                    counts["tasks"] += 1
    return counts


def refresh_ads_days(runtime: Runtime, workspace_id: str, days: list[date]) -> dict[str, int]:
    """Fold the workspace's ad insights of these dates into `metrics_daily` (ads_* fields).

    Reads grow with campaigns, platforms and days. Idempotent (a recompute, not an increment).
    """
    db, now = runtime.db, runtime.clock.now()
    keys = [day_key(d) for d in days]
    totals: dict[str, Counter[str]] = {k: Counter() for k in keys}
    spend: dict[str, float] = dict.fromkeys(keys, 0.0)
    for i in range(0, len(keys), 30):  # `in` takes at most 30 values
        query = build(db, AD_INSIGHT_DAYS, workspace_id=workspace_id, date=keys[i : i + 30])
        for snap in query.stream():
            row = snap.to_dict()
            k = row.get("date")
            if k not in totals:
                continue
            totals[k]["impressions"] += int(row.get("impressions", 0) or 0)
            totals[k]["clicks"] += int(row.get("clicks", 0) or 0)
            totals[k]["rows"] += 1
            spend[k] += float(row.get("spend", 0) or 0)
    written = 0
    for k in keys:
        if not totals[k]["rows"]:
            continue
        db.collection(DAILY).document(daily_id(workspace_id, k)).set(
            {
                "workspace_id": workspace_id,
                "date": k,
                "ads_impressions": totals[k]["impressions"],
                "ads_clicks": totals[k]["clicks"],
                "ads_spend": round(spend[k], 2),
                "ads_updated_at": now,
            },
            merge=True,
        )
        written += 1
    return {"ads_days": written}


def ads_row(row: dict[str, Any]) -> dict[str, Any]:
    """An insights row with derived CTR and CPC (for exports and dashboards)."""
    impressions = int(row.get("impressions", 0) or 0)
    clicks = int(row.get("clicks", 0) or 0)
    spend_value = float(row.get("spend", 0) or 0)
    return {
        **row,
        "ctr": round(clicks / impressions, 6) if impressions else 0.0,
        "cpc": round(spend_value / clicks, 4) if clicks else 0.0,
    }
