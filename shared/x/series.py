"""Recurring / evergreen series and 24-hour posting plans.

A series materializes scheduled posts on its cadence (every N hours, daily, weekly,
until `end_at`), rotating its text variants; when every variant was posted recently
it adds a dated variation, so no exact duplicate goes out. With `channels` (other
accounts, any network) each occurrence is a post group, one post per channel; every
variant is checked against every channel's network when the series is created, and a
channel that can no longer post is left out of later occurrences (said in
`last_error`), the others still go out. A posting plan spreads N
posts a day over a campaign's active hours in the campaign's timezone.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from shared.channels.base import LABELS, network_of
from shared.errors import HeraldError, ValidationError
from shared.log import get_logger
from shared.tenancy import check_timezone
from shared.x import cache, store
from shared.x.accounts import get_account
from shared.x.cadence import CADENCES, step
from shared.x.groups import MAX_CHANNELS
from shared.x.lifecycle import schedule_post
from shared.x.models import SERIES, AccountStatus, Campaign, PostingPlan, PostSource, Series
from shared.x.posts import create_post

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.series")
# Posts of a series exist this long before they are due (visible in the calendar).
MATERIALIZE_AHEAD = timedelta(hours=24)


def create_series(
    runtime: Runtime,
    workspace_id: str,
    *,
    name: str,
    account_id: str,
    texts: list[str],
    start_at: datetime | str,
    every: str = "daily",
    every_hours: int = 24,
    end_at: datetime | str | None = None,
    kind: str = "recurring",
    campaign_id: str | None = None,
    timezone: str = "UTC",
    channels: list[str] | None = None,
) -> dict[str, Any]:
    account = get_account(runtime, workspace_id, account_id)
    others = [c for c in dict.fromkeys(channels or []) if c != account_id]
    if len(others) + 1 > MAX_CHANNELS:
        raise ValidationError(f"a series posts to at most {MAX_CHANNELS} channels")
    targets = [account, *(get_account(runtime, workspace_id, c) for c in others)]
    if every not in CADENCES:
        raise ValidationError(f"every must be one of {sorted(CADENCES)}")
    if every == "hours" and not 1 <= every_hours <= 24 * 7:
        raise ValidationError("every_hours must be between 1 and 168")
    if kind not in ("recurring", "evergreen"):
        raise ValidationError("kind must be recurring or evergreen")
    variants = [t.strip() for t in texts if isinstance(t, str) and t.strip()]
    if not variants:
        raise ValidationError("a series needs at least one text")
    from shared.x.validation import content_problems

    for i, variant in enumerate(variants):
        for target in targets:
            problems = content_problems([variant], [], target)
            if problems:
                where = "" if not others else f" ({channel_name(target)})"
                raise ValidationError(
                    f"text {i + 1}{where}: {problems[0]['message']}",
                    {"problems": problems, "account_id": target["id"]},
                )
    start = store.parse_instant(start_at, "start_at")
    end = store.parse_instant(end_at, "end_at") if end_at else None
    if end and end <= start:
        raise ValidationError("the series must end after it starts")
    if kind == "recurring" and end is None:
        raise ValidationError("a recurring series needs an end (end_at)")
    now = runtime.clock.now()
    series = Series(
        id=store.new_id(),
        workspace_id=workspace_id,
        name=name.strip() or "series",
        account_id=account_id,
        channels=others,
        campaign_id=campaign_id,
        kind=kind,
        texts=variants,
        every=every,
        every_hours=every_hours,
        start_at=start,
        end_at=end,
        timezone=check_timezone(timezone),
        created_at=now,
        updated_at=now,
    )
    series.next_at, series.next_key = start, store.order_key(start, series.id)
    store.insert(runtime, series)
    created = materialize_series(runtime, workspace_id, series.id)
    return get_series(runtime, workspace_id, series.id) | {"posts": created}


def channel_name(account: dict[str, Any]) -> str:
    return f"{LABELS[network_of(account)]} @{account['handle']}"


def get_series(runtime: Runtime, workspace_id: str, series_id: str) -> dict[str, Any]:
    return store.load(runtime, Series, workspace_id, series_id, "series").to_dict()


def list_series(
    runtime: Runtime, workspace_id: str, limit: int = 50, after: str | None = None
) -> dict[str, Any]:
    from shared.queries.x import SERIES as SERIES_LIST

    return store.page(runtime, Series, SERIES_LIST, workspace_id, limit=limit, after=after)


def delete_series(runtime: Runtime, workspace_id: str, series_id: str) -> None:
    """Stops the series; posts it already scheduled stay (cancel them one by one)."""
    store.load(runtime, Series, workspace_id, series_id, "series")
    runtime.db.collection(SERIES).document(series_id).update(
        {"active": False, "updated_at": runtime.clock.now()}
    )


def _variant(series: Series, index: int, when: datetime, taken: set[str]) -> str:
    """The next text variant not taken; else the least recent one with a dated variation."""
    from shared.text import content_hash

    n = len(series.texts)
    for k in range(n):
        text = series.texts[(index + k) % n]
        if content_hash(text) not in taken:
            return text
    local = when.astimezone(ZoneInfo(series.timezone))
    return f"{series.texts[index % n]} ({local:%a %d %b %H:%M})"


def materialize_series(
    runtime: Runtime, workspace_id: str, series_id: str, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Create and schedule the series' posts due before `until` (default: 24 h ahead)."""
    from shared.claims import claim_id, try_claim
    from shared.x.validation import duplicates

    series = store.load(runtime, Series, workspace_id, series_id, "series")
    now = runtime.clock.now()
    until = until or now + MATERIALIZE_AHEAD
    next_at: datetime = series.next_at or series.start_at or now
    created: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    index = series.next_index
    while series.active and next_at <= until and (not series.end_at or next_at <= series.end_at):
        # One post per occurrence, however many materializers run at once.
        key = claim_id("xseries", series.id, store.instant_key(next_at))
        if next_at >= now and try_claim(
            runtime.db, key, owner="series", now=now, workspace_id=workspace_id
        ):
            taken: set[str] = set()
            for text in series.texts:
                if duplicates(runtime.db, series.account_id, [text], "", next_at):
                    from shared.text import content_hash

                    taken.add(content_hash(text))
            fields = {
                "text": _variant(series, index, next_at, taken),
                "campaign_id": series.campaign_id,
                "due_at": next_at,
                "timezone": series.timezone,
                "source": PostSource.SERIES.value,
                "series_id": series.id,
            }
            try:
                if series.channels:
                    created += _occurrence_group(runtime, series, fields, errors)
                else:
                    post = create_post(
                        runtime, workspace_id, account_id=series.account_id, **fields
                    )
                    created.append(schedule_post(runtime, workspace_id, post["id"]))
            except HeraldError as exc:
                # This occurrence stays a draft (or is skipped) with the reason on the
                # series; the next ones still go out.
                log.warning("series occurrence not scheduled", series_id=series.id, error=str(exc))
                errors.append({"at": next_at, "reason": exc.message})
            index += 1
        next_at = next_at + step(series)
    ended = bool(series.end_at and next_at > series.end_at)
    _advance(runtime, series.id, next_at, index, ended, errors[-1] if errors else None)
    return created


def _occurrence_group(
    runtime: Runtime, series: Series, fields: dict[str, Any], errors: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One occurrence for the series' account and its channels, scheduled together; a
    channel that can no longer post is left out, with the reason noted."""
    from shared.x.groups import create_group

    channels = [{"account_id": series.account_id}]
    for account_id in series.channels:
        account = cache.account(runtime, account_id)
        if account is None or account.status != AccountStatus.ACTIVE:
            handle = f"@{account.handle}" if account else account_id
            state = account.status if account else "gone"
            errors.append({"at": fields["due_at"], "reason": f"{handle} is {state}: left out"})
            continue
        channels.append({"account_id": account_id})
    group = create_group(runtime, series.workspace_id, channels=channels, schedule=True, **fields)
    return list(group["posts"])


def _advance(
    runtime: Runtime,
    series_id: str,
    next_at: datetime,
    next_index: int,
    ended: bool,
    error: dict[str, Any] | None,
) -> None:
    """Move the series past what this run materialized, in a transaction: a concurrent
    run (the dispatcher and the API) never moves it back, and a series stopped meanwhile
    stays stopped."""
    ref = runtime.db.collection(SERIES).document(series_id)

    def advance(transaction: Any) -> None:
        stored = ref.get(transaction=transaction).to_dict() or {}
        at = max(next_at, stored.get("next_at") or next_at)
        update: dict[str, Any] = {
            "next_at": at,
            "next_key": store.order_key(at, series_id),
            "next_index": max(next_index, int(stored.get("next_index") or 0)),
            "active": bool(stored.get("active")) and not ended,
            "updated_at": runtime.clock.now(),
        }
        if error:
            update["last_error"] = error
        transaction.update(ref, update)

    store.transact(runtime, advance)


def materialize_due(runtime: Runtime) -> int:
    """Materialize every active series whose next occurrence is within MATERIALIZE_AHEAD.

    Reads only the series that have something to create (`active == True` and
    `next_key <= now + ahead`, paged with cursors); called by the X dispatch source.
    """
    from shared.queries import pages
    from shared.queries.x import DUE_SERIES

    upto = store.instant_key(runtime.clock.now() + MATERIALIZE_AHEAD) + "|~"
    count = 0
    due = pages(runtime.db, DUE_SERIES, page_size=100, active=True, le=upto)
    for docs in due:
        for snap in docs:
            count += len(materialize_series(runtime, snap.get("workspace_id"), snap.id))
    return count


# ------------------------------------------------------------------------ posting plans


def _clock_time(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field} must be a local time like 09:00") from exc


def plan_slots(
    posts_per_day: int,
    active_from: str,
    active_to: str,
    timezone: str,
    start: datetime,
) -> list[datetime]:
    """N instants in the 24 hours from `start`, evenly spread over the local active hours.

    Each local day's window [from, to) is split into N equal intervals and a post goes
    in the middle of each; windows are computed per local date, so DST days are right.
    """
    if not 1 <= posts_per_day <= 100:
        raise ValidationError("posts_per_day must be between 1 and 100")
    zone = ZoneInfo(check_timezone(timezone))
    t_from, t_to = _clock_time(active_from, "active_from"), _clock_time(active_to, "active_to")
    if t_to <= t_from:
        raise ValidationError("active hours must end after they start (same local day)")
    end = start + timedelta(hours=24)
    slots: list[datetime] = []
    local_day = start.astimezone(zone).date()
    for offset in (0, 1):
        day = local_day + timedelta(days=offset)
        w_start = datetime.combine(day, t_from, zone).astimezone(UTC)
        w_end = datetime.combine(day, t_to, zone).astimezone(UTC)
        step = (w_end - w_start) / posts_per_day
        for i in range(posts_per_day):
            slot = w_start + step * i + step / 2
            if start <= slot < end:
                slots.append(slot.replace(microsecond=0))
    return slots[:posts_per_day] if len(slots) > posts_per_day else slots


def create_plan(
    runtime: Runtime,
    workspace_id: str,
    *,
    campaign_id: str,
    account_id: str,
    posts_per_day: int,
    active_from: str = "09:00",
    active_to: str = "18:00",
) -> dict[str, Any]:
    """A 24-hour plan in the campaign's timezone; `slots` are the next posting instants."""
    campaign = store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    get_account(runtime, workspace_id, account_id)
    now = runtime.clock.now()
    slots = plan_slots(posts_per_day, active_from, active_to, campaign.timezone, now)
    plan = PostingPlan(
        id=store.new_id(),
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        account_id=account_id,
        posts_per_day=posts_per_day,
        active_from=active_from,
        active_to=active_to,
        timezone=campaign.timezone,
        slots=[store.instant_key(s) for s in slots],
        created_at=now,
        updated_at=now,
    )
    store.insert(runtime, plan)
    return plan.to_dict()


def get_plan(runtime: Runtime, workspace_id: str, plan_id: str) -> dict[str, Any]:
    """The plan with its slots recomputed for the next 24 hours from now."""
    plan = store.load(runtime, PostingPlan, workspace_id, plan_id, "posting plan")
    slots = plan_slots(
        plan.posts_per_day, plan.active_from, plan.active_to, plan.timezone, runtime.clock.now()
    )
    return plan.to_dict() | {"slots": [store.instant_key(s) for s in slots]}
