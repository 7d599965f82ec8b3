"""Warm-up of a sending domain: a day-by-day volume curve, held when trouble rises.

A new domain (or one that has not sent in a while) that jumps to full volume is
deferred, throttled and spam-foldered by Gmail, Outlook and Yahoo: receivers build a
domain's reputation from a gradual history. The plan lives on the workspace's
deliverability document (`warmup`): the domain it warms up, the first day, the curve
(the most the domain may send on its 1st, 2nd, ... UTC day) and how long it was held.

The quota (shared.email.quota) caps each UTC day at the curve's value for that day of
the plan; after the curve's last day there is no warm-up cap. The reputation guard
(shared.email.reputation) holds the plan, so the curve stops climbing, while deferrals
or bounces are above its lines; a held plan repeats the day it was held on, and days
spent held do not count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from shared.email.model import DELIVERABILITY
from shared.errors import ValidationError

# The curve most warm-up guides give for a new domain: about doubling daily, from 50 to
# 100,000 a day over two weeks.
DEFAULT_CURVE = (50, 100, 200, 400, 750, 1_500, 3_000, 5_000, 10_000, 20_000, 40_000, 70_000)
MAX_DAYS = 90


def from_domain(settings: dict[str, Any] | None) -> str:
    address = str((settings or {}).get("from_address") or "")
    return address.rpartition("@")[2].lower()


def plan_day(plan: dict[str, Any], day: date) -> int:
    """The plan's day number (0 = its first) that `day` counts as."""
    start = date.fromisoformat(plan["start"])
    hold = plan.get("hold_since")
    counted = min(day, date.fromisoformat(hold)) if hold else day
    return (counted - start).days - int(plan.get("held_days") or 0)


def cap_on(plan: dict[str, Any], day: date) -> int | None:
    """The most the plan lets its domain send on `day` (None: the warm-up is over)."""
    curve = plan.get("curve") or []
    n = plan_day(plan, day)
    if n >= len(curve):
        return None
    return int(curve[max(0, n)])


def day_cap(
    plan: dict[str, Any] | None, settings: dict[str, Any] | None
) -> Callable[[date], int | None] | None:
    """The quota's per-day cap: the plan's, when it warms up the domain sent from."""
    if not plan or not plan.get("enabled", True) or plan.get("domain") != from_domain(settings):
        return None
    frozen = dict(plan)
    return lambda day: cap_on(frozen, day)


def day_cap_for(
    db: Any, workspace_id: str, settings: dict[str, Any] | None
) -> Callable[[date], int | None] | None:
    snap = db.collection(DELIVERABILITY).document(workspace_id).get()
    plan = (snap.to_dict() or {}).get("warmup") if snap.exists else None
    return day_cap(plan, settings)


def new_plan(body: dict[str, Any], domain: str, today: date) -> dict[str, Any]:
    """A plan from the page's input: `curve` (daily volumes) or the default one."""
    curve = body.get("curve") or list(DEFAULT_CURVE)
    if (
        not isinstance(curve, list)
        or not 1 <= len(curve) <= MAX_DAYS
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in curve)
    ):
        raise ValidationError(
            f"curve must list 1 to {MAX_DAYS} daily volumes, each a whole number of at least 1",
            {"field": "curve"},
        )
    start = body.get("start") or today.isoformat()
    try:
        date.fromisoformat(str(start))
    except ValueError as exc:
        raise ValidationError("start must be a date (YYYY-MM-DD)", {"field": "start"}) from exc
    if not domain:
        raise ValidationError("set the SMTP from address first: the plan warms up its domain")
    return {
        "enabled": bool(body.get("enabled", True)),
        "domain": domain,
        "start": str(start),
        "curve": curve,
        "held_days": 0,
        "hold_since": None,
        "hold_reason": None,
    }


def hold(plan: dict[str, Any], today: date, reason: str) -> dict[str, Any]:
    if plan.get("hold_since"):
        return {**plan, "hold_reason": reason}
    return {**plan, "hold_since": today.isoformat(), "hold_reason": reason}


def release(plan: dict[str, Any], today: date) -> dict[str, Any]:
    hold_since = plan.get("hold_since")
    if not hold_since:
        return plan
    held = (today - date.fromisoformat(hold_since)).days
    return {
        **plan,
        "held_days": int(plan.get("held_days") or 0) + held,
        "hold_since": None,
        "hold_reason": None,
    }


def describe(plan: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """The plan as the page shows it: today's day number and cap, whether it is held."""
    if not plan:
        return None
    today = now.date()
    return {
        **plan,
        "day": plan_day(plan, today) + 1,
        "days": len(plan.get("curve") or []),
        "cap_today": cap_on(plan, today),
        "held": bool(plan.get("hold_since")),
    }
