"""The cost governor: monthly budgets, the month's spend, and the check before scheduling.

Spend is counted, not estimated: post_tweet adds what X bills for each call it makes
to the post (`x_cost_usd`, in the UTC month `spend_month`), and the metrics pull counts
the posts it reads (`metrics_budgets/{workspace}_{month}.reads_used`, owned reads). For a
month (UTC calendar month) and a workspace or one account:
- `spent_usd`: what was billed so far (posts, and for the workspace the metrics reads);
- `committed_usd`: spent + the estimated cost of the posts scheduled for the rest of it;
- `projected_usd`: committed + what active series will add before it ends + the
  metrics reads at this month's pace.
Budgets (`x_budgets/{workspace}`: the workspace's and each account's monthly USD and
what to do past them, "confirm" or "refuse") are checked when a post is scheduled: past
one, the person confirms (or is refused); posts scheduled by a series or the generator
have no one to confirm: they stay drafts with the reason.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, ValidationError
from shared.x import cache, store
from shared.x.accounts import usable_account
from shared.x.cadence import occurrences
from shared.x.cost import estimate, pricing_of
from shared.x.models import Post, PostStatus, Series
from shared.x.prices import tier_pricing

if TYPE_CHECKING:
    from shared.queries import QuerySpec
    from shared.runtime import Runtime

BUDGETS = "x_budgets"
METRICS_BUDGETS = "metrics_budgets"  # written by shared.metrics.budget: reads per month
ON_EXCEED = ("confirm", "refuse")
PENDING = [PostStatus.SCHEDULED.value, PostStatus.QUEUED.value]  # not yet billed
BUDGET_TTL_S = 30.0  # a budget change reaches other instances within this
MAX_BUDGET_USD = 1_000_000


class OverBudget(Conflict):
    """Scheduling this post would take the month past a budget."""

    code = "over_budget"


# ---------------------------------------------------------------------------- budgets

_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def budgets(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    """The workspace's budgets (cached briefly: scheduling a burst reads them once)."""
    key = (runtime.settings.project_id, workspace_id)
    with _lock:
        hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < BUDGET_TTL_S:
        return hit[1]
    snap = runtime.db.collection(BUDGETS).document(workspace_id).get()
    data = snap.to_dict() if snap.exists else {}
    value = {
        "monthly_usd": data.get("monthly_usd"),
        "on_exceed": data.get("on_exceed") or "confirm",
        "accounts": data.get("accounts") or {},
    }
    with _lock:
        _cache[key] = (time.monotonic(), value)
    return value


def _checked(monthly_usd: Any, on_exceed: Any) -> dict[str, Any]:
    if monthly_usd is not None and (
        isinstance(monthly_usd, bool)
        or not isinstance(monthly_usd, int | float)
        or not 0 <= monthly_usd <= MAX_BUDGET_USD
    ):
        raise ValidationError(
            f"a monthly budget is a number of USD from 0 to {MAX_BUDGET_USD:,} (or none)",
            {"field": "monthly_usd"},
        )
    if on_exceed not in ON_EXCEED:
        raise ValidationError(
            "on_exceed must be 'confirm' (ask before going past) or 'refuse'",
            {"field": "on_exceed", "allowed": list(ON_EXCEED)},
        )
    return {"monthly_usd": monthly_usd, "on_exceed": on_exceed}


def set_budget(
    runtime: Runtime,
    workspace_id: str,
    monthly_usd: float | None,
    on_exceed: str = "confirm",
    account_id: str | None = None,
) -> dict[str, Any]:
    """Set (or, with None, remove) the workspace's or one account's monthly budget."""
    value = _checked(monthly_usd, on_exceed)
    ref = runtime.db.collection(BUDGETS).document(workspace_id)
    now = runtime.clock.now()
    if account_id is None:
        ref.set({"workspace_id": workspace_id, **value, "updated_at": now}, merge=True)
    else:
        usable_account(runtime, workspace_id, account_id)
        ref.set(
            {"workspace_id": workspace_id, "accounts": {account_id: value}, "updated_at": now},
            merge=True,
        )
    with _lock:
        _cache.pop((runtime.settings.project_id, workspace_id), None)
    return budgets(runtime, workspace_id)


# ------------------------------------------------------------------------------ spend


def month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValidationError(f"month must look like 2026-05, got {month!r}") from exc
    end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _sum(runtime: Runtime, spec: QuerySpec, **values: Any) -> float:
    from shared.queries import aggregate

    return float(aggregate(runtime.db, spec, **values).get("total") or 0)


def _reads_used(runtime: Runtime, workspace_id: str, month: str) -> int:
    snap = runtime.db.collection(METRICS_BUDGETS).document(f"{workspace_id}_{month}").get()
    return int((snap.to_dict() or {}).get("reads_used") or 0) if snap.exists else 0


def _series_usd(
    runtime: Runtime, workspace_id: str, account_id: str | None, now: datetime, end: datetime
) -> float:
    """What active series will post before `end`, at their texts' estimated cost."""
    from shared.queries import build
    from shared.queries.x import ACTIVE_SERIES

    query = build(runtime.db, ACTIVE_SERIES, workspace_id=workspace_id, active=True)
    total = 0.0
    for snap in query.stream():
        series = Series.from_doc(snap.id, snap.to_dict())
        if account_id and series.account_id != account_id:
            continue
        account = cache.account(runtime, series.account_id)
        if account is None or not series.texts:
            continue
        count = occurrences(series, now, end)
        pricing = pricing_of(runtime.settings, account)
        per_post = sum(estimate(pricing, [t])["total_usd"] for t in series.texts)
        total += count * per_post / len(series.texts)
    return total


def month_spend(
    runtime: Runtime,
    workspace_id: str,
    month: str | None = None,
    account_id: str | None = None,
    projected: bool = True,
) -> dict[str, Any]:
    """The month's spend for the workspace (or one account): spent, committed, projected."""
    from shared.queries.x import PENDING_SPEND, SPENT_IN_MONTH

    now = runtime.clock.now()
    month = month or store.month_key(now)
    start, end = month_bounds(month)
    scope = {"workspace_id": workspace_id, "account_id": account_id or None}
    spent_posts = _sum(runtime, SPENT_IN_MONTH, spend_month=month, **scope)
    scheduled = (
        _sum(
            runtime,
            PENDING_SPEND,
            status=PENDING,
            ge=store.instant_key(max(start, now)),
            lt=store.instant_key(end),
            **scope,
        )
        if end > now
        else 0.0
    )
    reads = 0 if account_id else _reads_used(runtime, workspace_id, month)
    # Metrics reads are the account's own posts with its token: owned reads.
    reads_usd = reads * tier_pricing(runtime.settings, "pay_per_use").owned_read_usd
    spent = spent_posts + reads_usd
    committed = spent + scheduled
    out: dict[str, Any] = {
        "month": month,
        "currency": "USD",
        "account_id": account_id,
        "spent_usd": round(spent, 4),
        "spent_posts_usd": round(spent_posts, 4),
        "spent_reads_usd": round(reads_usd, 4),
        "metrics_reads": reads,
        "scheduled_usd": round(scheduled, 4),
        "committed_usd": round(committed, 4),
    }
    if projected:
        series = _series_usd(runtime, workspace_id, account_id, now, end) if end > now else 0.0
        elapsed = min(max((now - start).total_seconds(), 86400.0), (end - start).total_seconds())
        remaining = max(0.0, (end - max(now, start)).total_seconds())
        reads_ahead = reads_usd * remaining / elapsed if start <= now else 0.0
        out |= {
            "series_usd": round(series, 4),
            "reads_ahead_usd": round(reads_ahead, 4),
            "projected_usd": round(committed + series + reads_ahead, 4),
        }
    limits = budgets(runtime, workspace_id)
    scope = limits["accounts"].get(account_id, {}) if account_id else limits
    out["budget_usd"] = scope.get("monthly_usd")
    out["on_exceed"] = scope.get("on_exceed") or "confirm"
    return out


def spend_report(
    runtime: Runtime, workspace_id: str, month: str | None = None, account_id: str | None = None
) -> dict[str, Any]:
    """What the composer and the calendar show: the workspace's month, and the account's."""
    if account_id:
        usable_account(runtime, workspace_id, account_id)
    workspace = month_spend(runtime, workspace_id, month)
    account = month_spend(runtime, workspace_id, month, account_id) if account_id else None
    return {"month": workspace["month"], "workspace": workspace, "account": account}


# ------------------------------------------------------------------------------ check


def check(
    runtime: Runtime,
    post: Post,
    due: datetime,
    *,
    confirmed: bool = False,
) -> None:
    """Before `post` is scheduled for `due`: would it take its month past a budget?

    Free when no budget applies (the budgets are cached); otherwise two aggregation
    reads per budget. Raises OverBudget, with `needs_confirmation` when a person may
    go ahead by confirming.
    """
    limits = budgets(runtime, post.workspace_id)
    account_limit = limits["accounts"].get(post.account_id) or {}
    scopes = [
        ("workspace", None, limits.get("monthly_usd"), limits.get("on_exceed")),
        (
            "account",
            post.account_id,
            account_limit.get("monthly_usd"),
            account_limit.get("on_exceed"),
        ),
    ]
    month = store.month_key(due)
    # A post already scheduled in that month is in its committed spend already.
    counted = (
        post.status in PENDING and post.due_at is not None and store.month_key(post.due_at) == month
    )
    cost = 0.0 if counted else float(post.estimated_cost_usd or 0.0)
    if cost <= 0:
        return  # adds nothing to that month (a move within it, a free post)
    for scope, account_id, budget, on_exceed in scopes:
        if budget is None:
            continue
        spend = month_spend(runtime, post.workspace_id, month, account_id, projected=False)
        after = round(spend["committed_usd"] + cost, 6)
        if after <= float(budget) + 1e-9:
            continue
        refuse = on_exceed == "refuse"
        if not refuse and confirmed:
            continue
        what = "the workspace's" if scope == "workspace" else "this account's"
        message = (
            f"scheduling this post takes {month}'s X spend to ${after:.3f}, past {what} "
            f"budget of ${float(budget):.2f}"
        )
        message += (
            " (the budget refuses posts past it)" if refuse else "; confirm to schedule it anyway"
        )
        raise OverBudget(
            message,
            {
                "scope": scope,
                "month": month,
                "budget_usd": float(budget),
                "committed_usd": spend["committed_usd"],
                "post_usd": cost,
                "after_usd": after,
                "needs_confirmation": not refuse,
            },
        )
