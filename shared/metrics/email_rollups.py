"""Email engagement rollups: per workspace-day, per campaign-day and per campaign.

The email pipeline writes raw events to `email_events` (workspace_id, campaign_id,
type: sent | failed | open | click | unsubscribe | bounce, at, url, and recipient_id or,
for a whole batch, recipient_ids + count), the document id being the event's dedupe
key. A duplicate delivery of an event therefore lands on the same document and is
counted once.

Rollups are *recomputed* from a day's events, never incremented: a recompute is a pure
function of the events stored, so running it twice, concurrently, or after a crash
gives the same documents, and a late event (one whose `at` falls on a day already
rolled up) is picked up the next time that day is recomputed. Increment under
at-least-once delivery double counts, so a recompute is the exactly-once scheme.

Which days to recompute is decided cheaply with count() aggregations (one read per up
to 1,000 index entries): a workspace whose event count over the late window is what
was folded last time is skipped after two reads; otherwise only the days whose count
changed are re-read. Days older than the late window are not looked at again (an
event that arrives later than that is folded only by an explicit rebuild).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.log import get_logger
from shared.metrics.model import (
    DAILY,
    EMAIL_CAMPAIGN_METRICS,
    EMAIL_ROLLUP_STATE,
    daily_id,
    day_bounds,
    day_key,
    local_day,
    workspace_timezone,
)
from shared.queries import aggregate, pages
from shared.queries import metrics as q

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from shared.runtime import Runtime

log = get_logger("metrics.email")

EMAIL_CAMPAIGN_DAYS = "email_campaign_days"  # {campaign_id}_{yyyy-mm-dd}
EVENT_TYPES = ("sent", "failed", "open", "click", "unsubscribe", "bounce")
# Rollup field for each event type (plural, as the dashboards show them).
TYPE_FIELD = {
    "sent": "sent",
    "failed": "failed",
    "open": "opens",
    "click": "clicks",
    "unsubscribe": "unsubscribes",
    "bounce": "bounces",
}
UNIQUE_TYPES = ("open", "click")


def _recipients(event: dict[str, Any]) -> list[str]:
    many = event.get("recipient_ids")
    if isinstance(many, list):
        return [str(r) for r in many]
    one = event.get("recipient_id")
    return [str(one)] if one else []


def _weight(event: dict[str, Any]) -> int:
    """How many happenings one event document stands for: the send worker writes one
    `sent` / `failed` event per batch with `count` and `recipient_ids`."""
    count = event.get("count")
    if isinstance(count, int) and count >= 0:
        return count
    return len(event["recipient_ids"]) if isinstance(event.get("recipient_ids"), list) else 1


@dataclass
class Tally:
    """Counts of one scope (a day, a campaign-day or a campaign)."""

    counts: Counter[str] = field(default_factory=Counter)
    uniques: dict[str, set[str]] = field(default_factory=lambda: {t: set() for t in UNIQUE_TYPES})
    links: Counter[str] = field(default_factory=Counter)
    events: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self.events += 1
        if kind not in TYPE_FIELD:
            return  # unknown types are counted in `events` only
        weight = _weight(event)
        if event.get("machine") and kind in UNIQUE_TYPES:
            # A prefetch (Apple MPP, a scanner): shown apart, never as a person's.
            self.counts[f"machine_{kind}"] += weight
            return
        self.counts[kind] += weight
        if kind in self.uniques:
            self.uniques[kind].update(_recipients(event))
        if kind == "click" and event.get("url"):
            self.links[str(event["url"])] += weight
        at = event.get("at")
        if isinstance(at, datetime):
            self.first_at = at if self.first_at is None else min(self.first_at, at)
            self.last_at = at if self.last_at is None else max(self.last_at, at)

    def fields(self, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {f"{prefix}{TYPE_FIELD[t]}": self.counts[t] for t in EVENT_TYPES}
        out[f"{prefix}machine_opens"] = self.counts["machine_open"]
        out[f"{prefix}machine_clicks"] = self.counts["machine_click"]
        out[f"{prefix}unique_opens"] = len(self.uniques["open"])
        out[f"{prefix}unique_clicks"] = len(self.uniques["click"])
        out[f"{prefix}events"] = self.events
        return out


def _count(db: Any, workspace_id: str, start: datetime, end: datetime) -> int:
    """Events of the workspace in [start, end): one aggregation query."""
    n = aggregate(db, q.EMAIL_EVENT_COUNT, workspace_id=workspace_id, ge=start, lt=end)["n"]
    return int(n)


def recompute_day(
    db: Any, workspace_id: str, day: date, tz: ZoneInfo, now: datetime
) -> tuple[int, set[str]]:
    """Rebuild the email fields of one workspace-day and its campaign-day documents.

    Returns the number of events read and the campaigns seen that day.
    """
    start, end = day_bounds(day, tz)
    total = Tally()
    per_campaign: dict[str, Tally] = {}
    for page in pages(db, q.EMAIL_EVENTS, workspace_id=workspace_id, ge=start, lt=end):
        for snap in page:
            event = snap.to_dict()
            total.add(event)
            cid = event.get("campaign_id")
            if cid:
                per_campaign.setdefault(str(cid), Tally()).add(event)
    key = day_key(day)
    batch = db.batch()
    batch.set(
        db.collection(DAILY).document(daily_id(workspace_id, day)),
        {
            "workspace_id": workspace_id,
            "date": key,
            "timezone": str(tz),
            **total.fields("email_"),
            "email_updated_at": now,
        },
        merge=True,
    )
    for n, (cid, tally) in enumerate(per_campaign.items(), 1):
        if n % 400 == 0:  # a batch holds 500 writes
            batch.commit()
            batch = db.batch()
        batch.set(
            db.collection(EMAIL_CAMPAIGN_DAYS).document(f"{cid}_{key}"),
            {
                "workspace_id": workspace_id,
                "campaign_id": cid,
                "date": key,
                **tally.fields(),
                "last_event_at": tally.last_at,
                "updated_at": now,
            },
        )
    batch.commit()
    return total.events, set(per_campaign)


def recompute_campaign(
    db: Any, workspace_id: str, campaign_id: str, now: datetime
) -> dict[str, Any]:
    """Rebuild a campaign's totals from its campaign-day documents (reads ∝ active days),
    and its unique opens and clicks from its open and click events only."""
    days = pages(db, q.CAMPAIGN_DAYS, workspace_id=workspace_id, campaign_id=campaign_id)
    counts: Counter[str] = Counter()
    daily: dict[str, dict[str, int]] = {}
    last_at: datetime | None = None
    for page in days:  # one per campaign and date
        for snap in page:
            d = snap.to_dict()
            for t in EVENT_TYPES:
                counts[TYPE_FIELD[t]] += int(d.get(TYPE_FIELD[t], 0))
            counts["events"] += int(d.get("events", 0))
            for machine in ("machine_opens", "machine_clicks"):
                counts[machine] += int(d.get(machine, 0))
            daily[d["date"]] = {"opens": d.get("opens", 0), "clicks": d.get("clicks", 0)}
            if d.get("last_event_at") and (last_at is None or d["last_event_at"] > last_at):
                last_at = d["last_event_at"]
    engaged = Tally()
    events = pages(
        db,
        q.CAMPAIGN_UNIQUE_EVENTS,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        type=list(UNIQUE_TYPES),
    )
    for page in events:
        for snap in page:
            engaged.add(snap.to_dict())
    sent = counts["sent"]
    doc: dict[str, Any] = {
        "workspace_id": workspace_id,
        "campaign_id": campaign_id,
        **{TYPE_FIELD[t]: counts[TYPE_FIELD[t]] for t in EVENT_TYPES},
        "events": counts["events"],
        "machine_opens": counts["machine_opens"],
        "machine_clicks": counts["machine_clicks"],
        "unique_opens": len(engaged.uniques["open"]),
        "unique_clicks": len(engaged.uniques["click"]),
        "open_rate": _rate(len(engaged.uniques["open"]), sent),
        "click_rate": _rate(len(engaged.uniques["click"]), sent),
        "bounce_rate": _rate(counts["bounces"], sent),
        "unsubscribe_rate": _rate(counts["unsubscribes"], sent),
        "top_links": [{"url": u, "clicks": n} for u, n in engaged.links.most_common(20)],
        "daily": daily,
        "first_open_at": engaged.first_at,
        "last_event_at": last_at,
        "updated_at": now,
    }
    db.collection(EMAIL_CAMPAIGN_METRICS).document(campaign_id).set(doc)
    return doc


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def fold_workspace(runtime: Runtime, workspace_id: str) -> dict[str, int]:
    """Recompute what changed in the late window for one workspace (idempotent)."""
    db, now = runtime.db, runtime.clock.now()
    tz = workspace_timezone(db, workspace_id)
    window = max(1, runtime.settings.metrics_late_days)
    today = local_day(now, tz)
    days = [today - timedelta(days=i) for i in range(window)]
    state_ref = db.collection(EMAIL_ROLLUP_STATE).document(workspace_id)
    state_snap = state_ref.get()
    folded: dict[str, int] = dict((state_snap.to_dict() or {}).get("day_counts", {}))
    window_start = day_bounds(days[-1], tz)[0]
    window_end = day_bounds(today, tz)[1]
    total = _count(db, workspace_id, window_start, window_end)
    stats = {"days_checked": 0, "days_recomputed": 0, "campaigns_recomputed": 0, "events_read": 0}
    if total == sum(folded.get(day_key(d), 0) for d in days):
        return stats
    campaigns: set[str] = set()
    for d in days:
        start, end = day_bounds(d, tz)
        stats["days_checked"] += 1
        n = _count(db, workspace_id, start, end)
        before = folded.get(day_key(d))
        # Fewer events than folded means raw events expired (TTL): keep the rollup.
        if before is not None and n <= before:
            continue
        if before is None and n == 0:
            folded[day_key(d)] = 0
            continue
        read, seen = recompute_day(db, workspace_id, d, tz, now)
        folded[day_key(d)] = read
        campaigns |= seen
        stats["days_recomputed"] += 1
        stats["events_read"] += read
    for cid in sorted(campaigns):
        recompute_campaign(db, workspace_id, cid, now)
        stats["campaigns_recomputed"] += 1
    oldest = day_key(days[-1])
    state_ref.set(
        {
            "workspace_id": workspace_id,
            "day_counts": {k: v for k, v in folded.items() if k >= oldest},
            "folded_at": now,
        }
    )
    log.info("email rollups folded", workspace_id=workspace_id, **stats)
    return stats


def rebuild(runtime: Runtime, workspace_id: str, start: date, end: date) -> dict[str, int]:
    """Recompute every day in [start, end] unconditionally (events later than the window)."""
    if end < start or (end - start).days > 400:
        from shared.errors import ValidationError

        raise ValidationError("rebuild range must be 1 to 400 days, start before end")
    db, now = runtime.db, runtime.clock.now()
    tz = workspace_timezone(db, workspace_id)
    campaigns: set[str] = set()
    events = 0
    d = start
    while d <= end:
        read, seen = recompute_day(db, workspace_id, d, tz, now)
        events += read
        campaigns |= seen
        d += timedelta(days=1)
    for cid in sorted(campaigns):
        recompute_campaign(db, workspace_id, cid, now)
    return {"days": (end - start).days + 1, "campaigns": len(campaigns), "events_read": events}
