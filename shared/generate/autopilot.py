"""Autopilot: keep the next N days of a campaign planned.

An active campaign with `autopilot: {enabled: true, days_ahead, posts_per_day,
post_times}` gets its empty slots filled with generated drafts, each with `due_at` at
its slot (dispatch enqueues the run hourly, see shared.generate.dispatch). Slots are
local times in the campaign's timezone; a day counts as planned when it already has
`posts_per_day` live posts of the campaign, whatever created them. A post group (one
post per channel: the campaign's account and its `channels`) is one post of the plan,
however many networks it goes to.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared.generate.brief import Autopilot
from shared.log import get_logger
from shared.zones import zone_or_utc

log = get_logger("generate.autopilot")

# Never plan a slot this close to now: the draft still needs review and dispatch.
MIN_LEAD = timedelta(minutes=15)
# Post statuses that do not occupy a slot.
_FREE = frozenset({"cancelled", "failed"})


def plan_slots(
    autopilot: Autopilot,
    timezone: str,
    now: datetime,
    existing: list[dict[str, Any]],
    end_at: datetime | None = None,
) -> list[datetime]:
    """UTC instants of the slots to fill, earliest first.

    `existing`: the campaign's posts due from now on (dicts with due_at and status; the
    posts of a group, sharing its `group_id`, hold one slot).
    """
    tz = zone_or_utc(timezone)
    local_now = now.astimezone(tz)
    taken: dict[date, list[datetime]] = {}
    groups: set[str] = set()
    for post in existing:
        due = post.get("due_at")
        if not isinstance(due, datetime) or post.get("status") in _FREE:
            continue
        group = post.get("group_id")
        if group:
            if group in groups:
                continue
            groups.add(group)
        taken.setdefault(due.astimezone(tz).date(), []).append(due)
    slots: list[datetime] = []
    for offset in range(autopilot.days_ahead):
        day = local_now.date() + timedelta(days=offset)
        occupied = taken.get(day, [])
        need = autopilot.posts_per_day - len(occupied)
        if need <= 0:
            continue
        for hhmm in autopilot.times():
            if need <= 0:
                break
            hour, minute = (int(x) for x in hhmm.split(":"))
            instant = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
            if instant < now + MIN_LEAD or (end_at is not None and instant > end_at):
                continue
            # Skip a time another post already holds (within the same minute).
            if any(abs((instant - t).total_seconds()) < 60 for t in occupied):
                continue
            slots.append(instant)
            need -= 1
    return sorted(slots)


def run_key(now: datetime) -> str:
    """The hour bucket: one autopilot run per campaign per hour at most."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H")


def run(runtime: Any, workspace_id: str, campaign_id: str, key: str) -> dict[str, Any]:
    """Fill the campaign's empty slots; one run per campaign and hour (claim).

    The outcome is noted on the campaign (`autopilot_last_run`) for the admin page. A
    brief a person must fix ends the run (200, reason recorded: retrying cannot help);
    an outside failure (Gemini) releases the claim and raises, so the task is retried.
    """
    from shared.claims import CLAIMS, claim_id, try_claim
    from shared.errors import NotFound, ValidationError
    from shared.generate.brief import Brief
    from shared.generate.service import MAX_COUNT, GenerateRequest, generate
    from shared.queries import build
    from shared.queries.generate import UPCOMING_POSTS
    from shared.x import service as xs

    now = runtime.clock.now()
    claim = claim_id("generate-run", campaign_id, key)
    if not try_claim(runtime.db, claim, owner="generate", now=now, workspace_id=workspace_id):
        return {"status": "skipped", "reason": "this hour's autopilot run already happened"}
    note = runtime.db.collection("campaigns").document(campaign_id)
    try:
        campaign = xs.get_campaign(runtime, workspace_id, campaign_id)
        brief = Brief.from_campaign(campaign)
        if not brief.autopilot.enabled or campaign.get("status") != "active":
            return {"status": "skipped", "reason": "autopilot is off or the campaign inactive"}
        query = build(runtime.db, UPCOMING_POSTS, campaign_id=campaign_id, ge=now)
        existing = [s.to_dict() for s in query.stream()]
        slots = plan_slots(
            brief.autopilot,
            str(campaign.get("timezone") or "UTC"),
            now,
            existing,
            campaign.get("end_at"),
        )[:MAX_COUNT]
        result: dict[str, Any] = {"status": "planned", "slots": len(slots), "drafts": []}
        if slots:
            outcome = generate(
                runtime,
                GenerateRequest(
                    workspace_id, campaign_id, count=len(slots), due_at=list(slots), schedule=True
                ),
            )
            result.update(outcome.to_dict())
    except (ValidationError, NotFound) as exc:
        log.alert("autopilot_failed", exc.message, campaign_id=campaign_id, details=exc.details)
        failed = {"at": now, "status": "failed", "reason": exc.message, "run_key": key}
        if not isinstance(exc, NotFound):
            note.update({"autopilot_last_run": failed})
        return {**failed, "details": exc.details}
    except Exception:
        # Let the task's retry run again instead of waiting for the next hour.
        runtime.db.collection(CLAIMS).document(claim).delete()
        raise
    note.update(
        {
            "autopilot_last_run": {
                "at": now,
                "status": "planned",
                "run_key": key,
                "slots": len(slots),
                "drafts": len(result["drafts"]),
                "rejected": [r.get("reason") for r in result.get("rejected", [])],
                "error": result.get("error"),
                "skipped_channels": result.get("skipped_channels", []),
            }
        }
    )
    return result
