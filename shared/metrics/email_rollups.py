"""Email engagement rollups, folded incrementally: each event is counted once, within a
dispatch tick of happening.

The email pipeline writes raw events to `email_events` (workspace_id, campaign_id,
type: sent | failed | open | click | unsubscribe | bounce, at, url, and recipient_id or,
for a whole batch, recipient_ids + count), the document id being the event's dedupe
key, and marks each new event `fold_pending: true`. A duplicate delivery of an event
lands on the same document, so it is one event.

Every dispatch tick that finds a pending event (one read when none) enqueues a `fold`
task, which reads pending events a page at a time and, per group of events, commits
one atomic batch of:
- each event's update clearing `fold_pending`, preconditioned on the update time read:
  a fold that runs twice, or two folds side by side, cannot both count an event (the
  loser's batch fails whole, re-reads and skips what the winner folded);
- a first-of-its-kind marker `email_uniques/{campaign}__{type}__{recipient}` created
  (create() fails if it exists: same effect) for a recipient's first open or click of
  the campaign, which is what the unique counts add up;
- Increment transforms on the rollups the dashboards read: `metrics_daily/{ws}_{day}`
  (email_* fields), `email_campaign_days/{campaign}_{day}` and
  `email_campaign_metrics/{campaign}` (totals, per-day opens/clicks, clicks per link).

Cost: per event 1 read (the pending page) and 1 write (its update), plus 1 write for a
first open or click (the marker); per group 1 write per rollup document touched (a
workspace-day, a campaign-day and a campaign: 3 for a group of one campaign on one day);
per idle tick 1 read. Nothing is ever recomputed from all of a day's events, so
the fold costs the same whether a campaign has ten events or ten million, and
Increment on at most three documents per group keeps hot campaigns free of contention.

`rebuild` recomputes a date range from the stored events (a repair, e.g. for events
written before folding existed); it folds what is pending first.

Over 400 lines because the fold and the rebuild write the same rollup fields and must
agree on each; kept in one module so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.email.model import FOLD_PENDING
from shared.log import get_logger
from shared.metrics.model import (
    DAILY,
    EMAIL_CAMPAIGN_DAYS,
    EMAIL_CAMPAIGN_METRICS,
    daily_id,
    day_bounds,
    day_key,
    local_day,
    workspace_timezone,
)
from shared.queries import build, pages
from shared.queries import metrics as q

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from shared.runtime import Runtime

log = get_logger("metrics.email")

UNIQUES = "email_uniques"  # {campaign_id}__{open|click}__{recipient_id}: first of its kind
PENDING = FOLD_PENDING  # set by the event's writer, cleared by the fold
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
MACHINE_FIELDS = ("machine_opens", "machine_clicks")
PAGE = 150  # pending events read at a time
MAX_PAGES = 40  # per fold task; a larger backlog continues in the next task
GROUP_WRITES = 450  # a batch holds 500 writes


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


def is_machine(event: dict[str, Any]) -> bool:
    """An open or click no person made (shared.email.prefetch labelled it)."""
    return bool(event.get("machine")) and event.get("type") in UNIQUE_TYPES


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def day_field(d: str) -> str:
    """A map key for a day that needs no quoting in a field path: d20260104."""
    return "d" + d.replace("-", "")


def link_key(url: str) -> str:
    return "l" + hashlib.sha256(url.encode()).hexdigest()[:16]


def unique_id(campaign_id: str, kind: str, recipient_id: str) -> str:
    return f"{campaign_id}__{kind}__{recipient_id}"


# -- the incremental fold ---------------------------------------------------------------


@dataclass
class _Group:
    """The rollup increments of a group of events, and the writes that carry them."""

    events: list[Any] = field(default_factory=list)
    daily: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    campaign_days: dict[tuple[str, str, str], Counter[str]] = field(default_factory=dict)
    campaigns: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    links: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)
    last_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    markers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def writes(self) -> int:
        return (
            len(self.events)
            + len(self.markers)
            + len(self.daily)
            + len(self.campaign_days)
            + len(self.campaigns)
        )


class _Folder:
    def __init__(self, runtime: Runtime) -> None:
        self.db = runtime.db
        self.now = runtime.clock.now()
        self._zones: dict[str, ZoneInfo] = {}
        self.stats = {"events": 0, "groups": 0, "retries": 0, "skipped": 0}

    def zone(self, workspace_id: str) -> ZoneInfo:
        if workspace_id not in self._zones:
            self._zones[workspace_id] = workspace_timezone(self.db, workspace_id)
        return self._zones[workspace_id]

    def add(self, group: _Group, snap: Any, known_markers: set[str] | None) -> None:
        event = snap.to_dict() or {}
        group.events.append(snap)
        kind = event.get("type")
        ws = str(event.get("workspace_id") or "")
        at = event.get("at")
        if kind not in TYPE_FIELD or not ws or not isinstance(at, datetime):
            return  # nothing to count; the fold still clears the flag
        name = TYPE_FIELD[kind]
        weight = _weight(event)
        day = day_key(local_day(at, self.zone(ws)))
        cid = str(event.get("campaign_id") or "")
        if is_machine(event):
            # A prefetch (Apple MPP, a link scanner): shown apart, never as a person's.
            machine = Counter({f"machine_{name}": weight, "events": 1})
            group.daily.setdefault((ws, day), Counter()).update(machine)
            if cid:
                group.campaign_days.setdefault((ws, cid, day), Counter()).update(machine)
                group.campaigns.setdefault((ws, cid), Counter()).update(machine)
                if (cid, day) not in group.last_at or at > group.last_at[(cid, day)]:
                    group.last_at[(cid, day)] = at
            return
        counts: Counter[str] = Counter({name: weight, "events": 1})
        if kind in UNIQUE_TYPES and cid:
            for rid in _recipients(event):
                mid = unique_id(cid, kind, rid)
                if mid in group.markers or (known_markers is not None and mid in known_markers):
                    continue
                group.markers[mid] = {
                    "event_id": snap.id,
                    "workspace_id": ws,
                    "campaign_id": cid,
                    "type": kind,
                    "recipient_id": rid,
                    "at": at,
                    "date": day,
                    "expires_at": event.get("expires_at"),
                }
                counts[f"unique_{name}"] += 1
        group.daily.setdefault((ws, day), Counter()).update(counts)
        if not cid:
            return
        group.campaign_days.setdefault((ws, cid, day), Counter()).update(counts)
        group.campaigns.setdefault((ws, cid), Counter()).update(counts)
        if kind in UNIQUE_TYPES:
            per_day = group.campaigns[(ws, cid)]
            per_day[f"daily.{day_field(day)}.{name}"] += weight
        if kind == "click" and event.get("url"):
            url = str(event["url"])
            links = group.links.setdefault(cid, {})
            _, n = links.get(link_key(url), (url, 0))
            links[link_key(url)] = (url, n + weight)
        if (cid, day) not in group.last_at or at > group.last_at[(cid, day)]:
            group.last_at[(cid, day)] = at

    def commit(self, group: _Group, guarded: bool) -> None:
        """One atomic batch. `guarded`: markers are created (fail if one exists), events
        updated only if unchanged since read; any conflict fails the whole batch."""
        from google.cloud import firestore

        db = self.db
        batch = db.batch()
        for snap in group.events:
            batch.update(
                snap.reference,
                {PENDING: firestore.DELETE_FIELD, "folded_at": self.now},
                option=db.write_option(last_update_time=snap.update_time) if guarded else None,
            )
        for mid, marker in group.markers.items():
            batch.create(db.collection(UNIQUES).document(mid), marker)
        for (ws, day), counts in group.daily.items():
            batch.set(
                db.collection(DAILY).document(daily_id(ws, day)),
                {
                    "workspace_id": ws,
                    "date": day,
                    **{f"email_{k}": firestore.Increment(v) for k, v in counts.items()},
                    "email_updated_at": self.now,
                },
                merge=True,
            )
        for (ws, cid, day), counts in group.campaign_days.items():
            batch.set(
                db.collection(EMAIL_CAMPAIGN_DAYS).document(f"{cid}_{day}"),
                {
                    "workspace_id": ws,
                    "campaign_id": cid,
                    "date": day,
                    **{k: firestore.Increment(v) for k, v in counts.items()},
                    "last_event_ms": firestore.Maximum(_ms(group.last_at[(cid, day)])),
                    **self._first_open(group, cid, day),
                    "updated_at": self.now,
                },
                merge=True,
            )
        for (ws, cid), counts in group.campaigns.items():
            flat = {k: v for k, v in counts.items() if not k.startswith("daily.")}
            nested: dict[str, Any] = {}
            for key, n in counts.items():
                if key.startswith("daily."):
                    _, d, name = key.split(".")
                    nested.setdefault(d, {})[name] = firestore.Increment(n)
            links = {
                k: {"url": url, "clicks": firestore.Increment(n)}
                for k, (url, n) in group.links.get(cid, {}).items()
            }
            doc: dict[str, Any] = {
                "workspace_id": ws,
                "campaign_id": cid,
                **{k: firestore.Increment(v) for k, v in flat.items()},
                # Instants as epoch milliseconds: Maximum/Minimum take numbers only.
                "last_event_ms": firestore.Maximum(
                    _ms(max(at for (c, _), at in group.last_at.items() if c == cid))
                ),
                "updated_at": self.now,
            }
            if nested:
                doc["daily"] = nested
            if links:
                doc["links"] = links
            doc.update(self._first_open(group, cid))
            batch.set(db.collection(EMAIL_CAMPAIGN_METRICS).document(cid), doc, merge=True)
        batch.commit()

    @staticmethod
    def _first_open(group: _Group, cid: str, day: str | None = None) -> dict[str, Any]:
        """Minimum of the first opens this group adds (none: no field to write)."""
        from google.cloud import firestore

        ats = [
            m["at"]
            for m in group.markers.values()
            if m["campaign_id"] == cid and m["type"] == "open" and day in (None, m["date"])
        ]
        return {"first_open_ms": firestore.Minimum(_ms(min(ats)))} if ats else {}

    def fold(self, snaps: list[Any]) -> None:
        """Fold these pending events in groups of at most GROUP_WRITES writes."""
        group = _Group()
        for snap in snaps:
            self.add(group, snap, None)
            if group.writes() >= GROUP_WRITES - 6:
                self._commit_or_retry(group)
                group = _Group()
        if group.events:
            self._commit_or_retry(group)

    def _commit_or_retry(self, group: _Group) -> None:
        from google.api_core import exceptions

        for attempt in range(4):
            try:
                self.commit(group, guarded=True)
                self.stats["events"] += len(group.events)
                self.stats["groups"] += 1
                return
            except (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.Aborted):
                if attempt == 3:
                    raise
                self.stats["retries"] += 1
                group = self._reread(group)
                if not group.events:
                    return

    def _reread(self, group: _Group) -> _Group:
        """After a conflict: only the events still pending, and the markers that exist."""
        db = self.db
        fresh = [s for s in db.get_all([s.reference for s in group.events]) if s.exists]
        pending = [s for s in fresh if (s.to_dict() or {}).get(PENDING)]
        self.stats["skipped"] += len(group.events) - len(pending)
        wanted = {
            unique_id(str(e.get("campaign_id")), str(e.get("type")), rid)
            for e in (s.to_dict() or {} for s in pending)
            if e.get("type") in UNIQUE_TYPES and e.get("campaign_id")
            for rid in _recipients(e)
        }
        refs = [db.collection(UNIQUES).document(m) for m in sorted(wanted)]
        known = {s.id for s in db.get_all(refs) if s.exists} if refs else set()
        again = _Group()
        for snap in pending:
            self.add(again, snap, known)
        return again


def has_pending(db: Any) -> bool:
    """Whether any event waits to be folded (one read)."""
    query = build(db, q.EMAIL_FOLD_PENDING, **{PENDING: True})
    return bool(list(query.limit(1).stream()))


def fold_pending(runtime: Runtime, max_pages: int = MAX_PAGES) -> dict[str, int]:
    """Fold pending events (every workspace), up to `max_pages` pages; `more` says
    whether some were left for the next task."""
    folder = _Folder(runtime)
    query = build(runtime.db, q.EMAIL_FOLD_PENDING, **{PENDING: True})
    more = 0
    for _ in range(max_pages):
        snaps = list(query.limit(PAGE).stream())
        if not snaps:
            break
        folder.fold(snaps)
        more = int(len(snaps) == PAGE)
        if not more:
            break
    stats = {**folder.stats, "more": more}
    if folder.stats["events"]:
        log.info("email events folded", **stats)
    return stats


# -- rebuild: a recompute from the stored events ----------------------------------------


@dataclass
class Tally:
    """Counts of one scope (a day, a campaign-day or a campaign)."""

    counts: Counter[str] = field(default_factory=Counter)
    firsts: Counter[str] = field(default_factory=Counter)
    links: Counter[str] = field(default_factory=Counter)
    events: int = 0
    last_at: datetime | None = None
    first_open_at: datetime | None = None

    def add(self, event: dict[str, Any], firsts: int = 0) -> None:
        kind = event.get("type")
        self.events += 1
        if kind not in TYPE_FIELD:
            return  # unknown types are counted in `events` only
        weight = _weight(event)
        if is_machine(event):
            # A prefetch (Apple MPP, a scanner): shown apart, never as a person's.
            self.counts[f"machine_{kind}"] += weight
            return
        self.counts[kind] += weight
        if kind in UNIQUE_TYPES:
            self.firsts[kind] += firsts
        if kind == "click" and event.get("url"):
            self.links[str(event["url"])] += weight
        at = event.get("at")
        if isinstance(at, datetime):
            self.last_at = at if self.last_at is None else max(self.last_at, at)
            if (
                kind == "open"
                and firsts
                and (self.first_open_at is None or at < self.first_open_at)
            ):
                self.first_open_at = at

    def fields(self, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {f"{prefix}{TYPE_FIELD[t]}": self.counts[t] for t in EVENT_TYPES}
        out[f"{prefix}machine_opens"] = self.counts["machine_open"]
        out[f"{prefix}machine_clicks"] = self.counts["machine_click"]
        out[f"{prefix}unique_opens"] = self.firsts["open"]
        out[f"{prefix}unique_clicks"] = self.firsts["click"]
        out[f"{prefix}events"] = self.events
        return out


def _firsts(db: Any, event_id: str, event: dict[str, Any]) -> int:
    """How many of the event's recipients had it as their first of its kind. The marker
    names the earliest event seen (ties: the smaller id); it is made or moved here."""
    cid, kind, at = event.get("campaign_id"), event.get("type"), event.get("at")
    if kind not in UNIQUE_TYPES or is_machine(event) or not cid or not isinstance(at, datetime):
        return 0
    n = 0
    for rid in _recipients(event):
        ref = db.collection(UNIQUES).document(unique_id(str(cid), str(kind), rid))
        snap = ref.get()
        if snap.exists:
            mark = snap.to_dict() or {}
            if (mark.get("at"), str(mark.get("event_id") or "")) < (at, event_id):
                continue
        ref.set(
            {
                "event_id": event_id,
                "workspace_id": event.get("workspace_id"),
                "campaign_id": cid,
                "type": kind,
                "recipient_id": rid,
                "at": at,
                "expires_at": event.get("expires_at"),
            }
        )
        n += 1
    return n


def recompute_day(db: Any, workspace_id: str, day: date, tz: ZoneInfo, now: datetime) -> set[str]:
    """Rebuild the email fields of one workspace-day and its campaign-day documents from
    the events (in instant order, so a recipient's first open is the earliest). Returns
    the campaigns seen that day."""
    from google.cloud import firestore

    start, end = day_bounds(day, tz)
    total = Tally()
    per_campaign: dict[str, Tally] = {}
    for page in pages(db, q.EMAIL_EVENTS, workspace_id=workspace_id, ge=start, lt=end):
        batch = db.batch()
        for snap in page:
            event = snap.to_dict()
            firsts = _firsts(db, snap.id, event)
            total.add(event, firsts)
            cid = event.get("campaign_id")
            if cid:
                per_campaign.setdefault(str(cid), Tally()).add(event, firsts)
            if event.get(PENDING):
                batch.update(snap.reference, {PENDING: firestore.DELETE_FIELD, "folded_at": now})
        batch.commit()
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
        if n % 400 == 0:
            batch.commit()
            batch = db.batch()
        batch.set(
            db.collection(EMAIL_CAMPAIGN_DAYS).document(f"{cid}_{key}"),
            {
                "workspace_id": workspace_id,
                "campaign_id": cid,
                "date": key,
                **tally.fields(),
                "last_event_ms": _ms(tally.last_at) if tally.last_at else 0,
                **({"first_open_ms": _ms(tally.first_open_at)} if tally.first_open_at else {}),
                "links": {link_key(u): {"url": u, "clicks": c} for u, c in tally.links.items()},
                "updated_at": now,
            },
        )
    batch.commit()
    return set(per_campaign)


def recompute_campaign(db: Any, workspace_id: str, campaign_id: str, now: datetime) -> None:
    """A campaign's totals as the sum of its campaign-day documents (reads ∝ days)."""
    days = pages(db, q.CAMPAIGN_DAYS, workspace_id=workspace_id, campaign_id=campaign_id)
    counts: Counter[str] = Counter()
    daily: dict[str, dict[str, int]] = {}
    links: dict[str, dict[str, Any]] = {}
    last_ms = 0
    firsts: list[int] = []
    names = [
        *(TYPE_FIELD[t] for t in EVENT_TYPES),
        *MACHINE_FIELDS,
        "unique_opens",
        "unique_clicks",
        "events",
    ]
    for page in days:  # one per campaign and date
        for snap in page:
            d = snap.to_dict()
            for name in names:
                counts[name] += int(d.get(name, 0))
            daily[day_field(d["date"])] = {"opens": d.get("opens", 0), "clicks": d.get("clicks", 0)}
            for key, link in (d.get("links") or {}).items():
                entry = links.setdefault(key, {"url": link.get("url"), "clicks": 0})
                entry["clicks"] += int(link.get("clicks", 0))
            last_ms = max(last_ms, int(d.get("last_event_ms") or 0))
            if d.get("first_open_ms"):
                firsts.append(int(d["first_open_ms"]))
    db.collection(EMAIL_CAMPAIGN_METRICS).document(campaign_id).set(
        {
            "workspace_id": workspace_id,
            "campaign_id": campaign_id,
            **{name: counts[name] for name in names},
            "daily": daily,
            "links": links,
            "last_event_ms": last_ms,
            **({"first_open_ms": min(firsts)} if firsts else {}),
            "updated_at": now,
        }
    )


def rebuild(runtime: Runtime, workspace_id: str, start: date, end: date) -> dict[str, int]:
    """Recompute every day in [start, end] from the stored events, then the totals of
    the campaigns seen. Pending events are folded first; run it while the workspace's
    events are quiet (a fold that lands during the recompute of a day is overwritten)."""
    if end < start or (end - start).days > 400:
        from shared.errors import ValidationError

        raise ValidationError("rebuild range must be 1 to 400 days, start before end")
    fold_pending(runtime)
    db, now = runtime.db, runtime.clock.now()
    tz = workspace_timezone(db, workspace_id)
    campaigns: set[str] = set()
    d = start
    while d <= end:
        campaigns |= recompute_day(db, workspace_id, d, tz, now)
        d += timedelta(days=1)
    for cid in sorted(campaigns):
        recompute_campaign(db, workspace_id, cid, now)
    return {"days": (end - start).days + 1, "campaigns": len(campaigns)}
