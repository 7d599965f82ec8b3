"""Domain operations of the X pipeline, each `(runtime, workspace_id, ...)` -> plain dicts.

The API exposes these over REST; the generation team creates drafts with
`create_post(..., source="generated")`. Errors are shared.errors (ValidationError,
NotFound, Conflict, ...), with messages written for a person.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.docsize import ensure_fits
from shared.errors import Conflict, ValidationError
from shared.log import get_logger
from shared.queries import build, pages
from shared.queries import x as q
from shared.tenancy import check_timezone
from shared.text import content_hash
from shared.x import store
from shared.x.accounts import (
    begin_connection,
    complete_connection,
    create_sandbox_account,
    delete_account,
    get_account,
    list_accounts,
    update_account,
)
from shared.x.cost import estimate, pricing_of
from shared.x.models import (
    CAMPAIGNS,
    EDITABLE,
    MAX_MEDIA,
    POSTS,
    TEMPLATES,
    TERMINAL,
    AccountKind,
    AccountStatus,
    Campaign,
    CampaignStatus,
    Post,
    PostSource,
    PostStatus,
    Template,
    XAccount,
)
from shared.x.series import (
    create_plan,
    create_series,
    delete_series,
    get_plan,
    get_series,
    list_series,
    materialize_series,
    plan_slots,
)
from shared.x.validation import problems_for

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.service")

__all__ = [
    "approve_post",
    "begin_connection",
    "campaign_cost",
    "cancel_post",
    "complete_connection",
    "create_campaign",
    "create_plan",
    "create_post",
    "create_sandbox_account",
    "create_series",
    "create_template",
    "delete_account",
    "delete_campaign",
    "delete_post",
    "delete_series",
    "delete_template",
    "estimate_cost",
    "get_account",
    "get_campaign",
    "get_plan",
    "get_post",
    "get_series",
    "get_template",
    "list_accounts",
    "list_campaigns",
    "list_posts",
    "list_series",
    "list_templates",
    "materialize_series",
    "plan_slots",
    "render_template",
    "reschedule_post",
    "schedule_post",
    "update_account",
    "update_campaign",
    "update_post",
    "update_template",
    "validate_post",
]

# ---------------------------------------------------------------------------- campaigns

_CAMPAIGN_FIELDS = {
    "name",
    "description",
    "keywords",
    "hashtags",
    "target_audience",
    "start_at",
    "end_at",
    "timezone",
    "status",
    "topics",
    "tone",
    "language",
    "call_to_action",
    "links",
    "approval_required",
    "autopilot",
    "account_id",
}
_LIST_FIELDS = {"keywords", "hashtags", "topics", "links"}


def _campaign_values(values: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("id", "workspace_id", "created_at", "updated_at", "estimated_cost_usd"):
            continue
        if key in ("start_at", "end_at"):
            out[key] = store.parse_instant(value, key) if value is not None else None
        elif key == "timezone":
            out[key] = check_timezone(str(value))
        elif key == "status":
            if value not in set(CampaignStatus):
                raise ValidationError(
                    f"unknown campaign status {value!r}", {"allowed": list(CampaignStatus)}
                )
            out[key] = str(value)
        elif key in _LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValidationError(f"{key} must be a list of strings")
            out[key] = [v.strip() for v in value if v.strip()]
        elif key == "name":
            name = str(value).strip()
            if not name or len(name) > 200:
                raise ValidationError("campaign name must be 1-200 characters")
            out[key] = name
        else:
            # Open document: fields other teams add (tone, autopilot, ...) pass through.
            out[key] = value
    if not partial and "name" not in out:
        raise ValidationError("campaign name is required")
    start, end = out.get("start_at"), out.get("end_at")
    if start and end and end <= start:
        raise ValidationError("the campaign must end after it starts")
    return out


def create_campaign(runtime: Runtime, workspace_id: str, **values: Any) -> dict[str, Any]:
    now = runtime.clock.now()
    campaign = Campaign.from_doc(store.new_id(), _campaign_values(values, partial=False))
    campaign.workspace_id, campaign.created_at, campaign.updated_at = workspace_id, now, now
    if campaign.account_id:
        _account(runtime, workspace_id, campaign.account_id)
    store.insert(runtime, campaign)
    return campaign.to_dict()


def get_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    return store.load(runtime, Campaign, workspace_id, campaign_id, "campaign").to_dict()


def list_campaigns(
    runtime: Runtime,
    workspace_id: str,
    limit: int = 50,
    after: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    return store.page(
        runtime,
        Campaign,
        q.CAMPAIGNS,
        workspace_id,
        limit=limit,
        after=after,
        equals={"status": status},
    )


def update_campaign(
    runtime: Runtime, workspace_id: str, campaign_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    current = store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    update = _campaign_values(changes, partial=True)
    start = update.get("start_at", current.start_at)
    end = update.get("end_at", current.end_at)
    if start and end and end <= start:
        raise ValidationError("the campaign must end after it starts")
    update["updated_at"] = runtime.clock.now()
    ensure_fits(f"{CAMPAIGNS}/{campaign_id}", {**current.to_doc(), **update}, "campaign")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(update)
    return get_campaign(runtime, workspace_id, campaign_id)


def delete_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> None:
    store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    live = (
        build(
            runtime.db,
            q.CAMPAIGN_LIVE_POSTS,
            campaign_id=campaign_id,
            status=["scheduled", "queued", "publishing"],
        )
        .limit(1)
        .get()
    )
    if live:
        raise Conflict("the campaign has scheduled posts; cancel them first")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).delete()


def campaign_cost(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Sum of the estimated cost of the campaign's live and published posts."""
    store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    totals: dict[str, float] = {}
    count = 0
    posts = pages(
        runtime.db,
        q.CAMPAIGN_POSTS,
        fields=("status", "estimated_cost_usd"),
        workspace_id=workspace_id,
        campaign_id=campaign_id,
    )
    for docs in posts:
        for snap in docs:
            status = snap.get("status")
            if status in (PostStatus.CANCELLED, PostStatus.FAILED):
                continue
            totals[status] = totals.get(status, 0.0) + float(snap.get("estimated_cost_usd") or 0)
            count += 1
    total = round(sum(totals.values()), 6)
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update({"estimated_cost_usd": total})
    return {
        "campaign_id": campaign_id,
        "posts": count,
        "total_usd": total,
        "by_status_usd": {k: round(v, 6) for k, v in totals.items()},
    }


# -------------------------------------------------------------------------------- posts


def _account(runtime: Runtime, workspace_id: str, account_id: str) -> XAccount:
    from shared.errors import NotFound
    from shared.firestore import is_doc_id
    from shared.x import cache

    account = cache.account(runtime, account_id) if is_doc_id(account_id) else None
    if account is None or account.workspace_id != workspace_id:
        raise NotFound(f"X account {account_id[:64]!r} not found")
    if account.kind == AccountKind.SANDBOX and not runtime.settings.sandbox:
        raise ValidationError("sandbox accounts cannot post here: HERALD_SANDBOX is off")
    return account


def _parts(text: str | None, parts: list[str] | None) -> list[str]:
    if parts is not None:
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            raise ValidationError("parts must be a list of strings")
        items = list(parts)
        if text is not None and items and items[0] != text:
            items = [text, *items]  # `parts` given as the continuation only
        elif text is not None and not items:
            items = [text]
    else:
        items = [text or ""]
    if not items:
        raise ValidationError(
            "a post needs text", [{"field": "text", "message": "give text or parts"}]
        )
    return [p.strip() for p in items]


def _media(runtime: Runtime, workspace_id: str, media: list[str] | None) -> list[str]:
    from shared.media import check_ids

    ids = list(media or [])
    if len(ids) > MAX_MEDIA:
        raise ValidationError(f"at most {MAX_MEDIA} images per post, got {len(ids)}")
    return check_ids(runtime, workspace_id, ids)


def _cost(account: XAccount, parts: list[str], media: list[str]) -> float:
    return float(estimate(pricing_of(account), parts, len(media))["total_usd"])


def _post_doc(post: Post) -> dict[str, Any]:
    doc = post.to_doc()
    doc["due_key"] = store.order_key(post.due_at, post.id)
    return doc


def create_post(
    runtime: Runtime,
    workspace_id: str,
    *,
    account_id: str,
    text: str,
    parts: list[str] | None = None,
    media: list[str] | None = None,
    campaign_id: str | None = None,
    due_at: datetime | str | None = None,
    timezone: str = "UTC",
    source: str = PostSource.MANUAL.value,
    template_id: str | None = None,
    series_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A draft post (not validated against X yet: see validate_post / schedule_post).

    `parts` is the whole thread (parts[0] == text) or only its continuation; `media`
    are shared.media refs (first part); `extra` fields (e.g. generation metadata:
    prompt, model, topic) are stored as they are.
    """
    if source not in set(PostSource):
        raise ValidationError(f"unknown post source {source!r}", {"allowed": list(PostSource)})
    account = _account(runtime, workspace_id, account_id)
    if campaign_id:
        store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    items = _parts(text, parts)
    if not items[0]:
        raise ValidationError("the post is empty")
    refs = _media(runtime, workspace_id, media)
    now = runtime.clock.now()
    reserved = set(Post.__dataclass_fields__) | {"due_key", "created_key"}
    post = Post(
        id=store.new_id(),
        workspace_id=workspace_id,
        account_id=account_id,
        campaign_id=campaign_id,
        text=items[0],
        parts=items,
        media=refs,
        due_at=store.parse_instant(due_at, "due_at") if due_at else None,
        timezone=check_timezone(timezone),
        status=PostStatus.DRAFT.value,
        estimated_cost_usd=_cost(account, items, refs),
        source=source,
        content_hash=content_hash(items),
        template_id=template_id,
        series_id=series_id,
        sandbox=account.kind == AccountKind.SANDBOX,
        created_at=now,
        updated_at=now,
        extra={k: v for k, v in extra.items() if k not in reserved},
    )
    runtime.db.collection(POSTS).document(post.id).set(_post_doc(post))
    return post.to_dict()


def get_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    return store.load(runtime, Post, workspace_id, post_id, "post").to_dict()


def list_posts(
    runtime: Runtime,
    workspace_id: str,
    *,
    status: str | None = None,
    campaign_id: str | None = None,
    account_id: str | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> dict[str, Any]:
    """Posts by due instant (calendar: start/end; history: status=published)."""
    if status is not None and status not in set(PostStatus):
        raise ValidationError(f"unknown status {status!r}", {"allowed": list(PostStatus)})
    lower = store.instant_key(store.parse_instant(start, "start")) if start else None
    upper = store.instant_key(store.parse_instant(end, "end")) if end else None
    return store.page(
        runtime,
        Post,
        q.POSTS,
        workspace_id,
        limit=limit,
        after=after,
        equals={"status": status, "campaign_id": campaign_id, "account_id": account_id},
        at_least=lower,
        below=upper,
    )


def _check(runtime: Runtime, post: Post, account: XAccount) -> list[dict[str, Any]]:
    problems = problems_for(
        runtime.db, account, post.parts, post.media, post.id, runtime.clock.now()
    )
    if account.status != AccountStatus.ACTIVE:
        problems.append(
            {
                "field": "account_id",
                "message": f"account @{account.handle} is {account.status}: "
                f"{account.status_reason or 'reconnect it'}",
            }
        )
    return problems


def validate_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    """What would stop this post, and what it would cost (the composer shows both)."""
    from shared.text import weighted_length

    post = store.load(runtime, Post, workspace_id, post_id, "post")
    account = _account(runtime, workspace_id, post.account_id)
    problems = _check(runtime, post, account)
    return {
        "ok": not problems,
        "problems": problems,
        "weighted_lengths": [weighted_length(p) for p in post.parts],
        "limit": int(account.limits.get("weighted_length") or 280),
        "cost": estimate(pricing_of(account), post.parts, len(post.media)),
    }


def estimate_cost(
    runtime: Runtime,
    workspace_id: str,
    *,
    account_id: str,
    text: str,
    parts: list[str] | None = None,
    media_count: int = 0,
) -> dict[str, Any]:
    """Cost of a post before it exists (the composer warns before scheduling)."""
    account = _account(runtime, workspace_id, account_id)
    return estimate(pricing_of(account), _parts(text, parts), media_count)


def _require_valid(runtime: Runtime, post: Post, account: XAccount) -> None:
    problems = _check(runtime, post, account)
    if problems:
        raise ValidationError(problems[0]["message"], {"problems": problems})


def _transition(post: Post, target: PostStatus) -> None:
    from shared.x.models import TRANSITIONS

    if target not in TRANSITIONS[PostStatus(post.status)]:
        raise Conflict(f"a {post.status} post cannot become {target}")


def approve_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    _transition(post, PostStatus.APPROVED)
    _require_valid(runtime, post, _account(runtime, workspace_id, post.account_id))
    runtime.db.collection(POSTS).document(post_id).update(
        {"status": PostStatus.APPROVED.value, "updated_at": runtime.clock.now()}
    )
    return get_post(runtime, workspace_id, post_id)


def _needs_approval(runtime: Runtime, post: Post) -> bool:
    # Only machine-written text waits for a person; series, plans and templates were
    # set up by one.
    if post.status == PostStatus.APPROVED or post.source != PostSource.GENERATED:
        return False
    if not post.campaign_id:
        return False
    campaign = store.load(runtime, Campaign, post.workspace_id, post.campaign_id, "campaign")
    return bool(campaign.approval_required)


def schedule_post(
    runtime: Runtime,
    workspace_id: str,
    post_id: str,
    due_at: datetime | str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Validate and schedule for `due_at` (or the post's own due instant).

    A post due within the dispatch lookahead is enqueued right away, so it goes out at
    its second even if the next dispatcher tick comes after it.
    """
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    if post.status not in (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.SCHEDULED):
        raise Conflict(f"a {post.status} post cannot be scheduled")
    if _needs_approval(runtime, post):
        raise Conflict("this campaign requires approval before generated posts are scheduled")
    now = runtime.clock.now()
    due = store.parse_instant(due_at, "due_at") if due_at else post.due_at
    if due is None:
        raise ValidationError("due_at is required to schedule a post")
    if due < now - timedelta(minutes=1):
        raise ValidationError("due_at is in the past")
    due = max(due, now)
    account = _account(runtime, workspace_id, post.account_id)
    _require_valid(runtime, post, account)
    return _set_schedule(runtime, post, due, timezone)


def _set_schedule(runtime: Runtime, post: Post, due: datetime, timezone: str | None) -> dict:
    from shared.x.dispatch import task_spec

    now = runtime.clock.now()
    try_n = post.try_n + (1 if post.status != PostStatus.DRAFT else 0)
    update = {
        "status": PostStatus.SCHEDULED.value,
        "due_at": due,
        "due_key": store.order_key(due, post.id),
        "next_at": due,
        "next_key": store.order_key(due, post.id),
        "try_n": try_n,
        "updated_at": now,
    }
    if timezone:
        update["timezone"] = check_timezone(timezone)
    ref = runtime.db.collection(POSTS).document(post.id)
    if due > now + timedelta(seconds=runtime.settings.dispatch_lookahead_s):
        ref.update(update)  # the dispatcher enqueues it when it comes within the lookahead
        return post.to_dict() | update
    # Due before the next tick could see it: queue it now, in the same single write.
    update |= {"status": PostStatus.QUEUED.value, "queued_at": now}
    ref.update(update)
    spec = task_spec(
        post.id, post.workspace_id, try_n=try_n, at=due, now=now, account_id=post.account_id
    )
    try:
        runtime.enqueuer.enqueue(spec)
    except Exception as exc:
        # Cloud Tasks unreachable: back to scheduled, the dispatcher retries it.
        log.exception("could not enqueue a post due soon", exc=exc, post_id=post.id)
        update["status"] = PostStatus.SCHEDULED.value
        ref.update({"status": update["status"]})
    return post.to_dict() | update


def reschedule_post(
    runtime: Runtime,
    workspace_id: str,
    post_id: str,
    due_at: datetime | str,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Move a scheduled or queued post; a task already queued for it becomes stale."""
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    if post.status not in (PostStatus.SCHEDULED, PostStatus.QUEUED):
        raise Conflict(f"a {post.status} post cannot be rescheduled")
    now = runtime.clock.now()
    due = store.parse_instant(due_at, "due_at")
    if due < now - timedelta(minutes=1):
        raise ValidationError("due_at is in the past")
    return _set_schedule(runtime, post, max(due, now), timezone)


def cancel_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    _transition(post, PostStatus.CANCELLED)
    runtime.db.collection(POSTS).document(post_id).update(
        {
            "status": PostStatus.CANCELLED.value,
            "try_n": post.try_n + 1,  # any queued task for it is now stale
            "updated_at": runtime.clock.now(),
        }
    )
    return get_post(runtime, workspace_id, post_id)


def update_post(
    runtime: Runtime, workspace_id: str, post_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Edit text, thread, images or campaign; a scheduled post is re-validated."""
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    if post.status not in EDITABLE and post.status not in (
        PostStatus.FAILED,
        PostStatus.CANCELLED,
    ):
        raise Conflict(f"a {post.status} post cannot be edited")
    allowed = {"text", "parts", "media", "campaign_id", "timezone", "account_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"cannot change {sorted(unknown)}", {"allowed": sorted(allowed)})
    if "text" in changes or "parts" in changes:
        text = changes["text"] if changes.get("text") is not None else post.text
        parts = changes["parts"] if changes.get("parts") is not None else post.parts[1:]
        post.parts = _parts(text, parts)
        post.text = post.parts[0]
    if "media" in changes:
        post.media = _media(runtime, workspace_id, changes["media"])
    if changes.get("campaign_id"):
        store.load(runtime, Campaign, workspace_id, changes["campaign_id"], "campaign")
        post.campaign_id = changes["campaign_id"]
    if "timezone" in changes:
        post.timezone = check_timezone(changes["timezone"])
    if "account_id" in changes:
        post.account_id = changes["account_id"]
    account = _account(runtime, workspace_id, post.account_id)
    if post.status == PostStatus.SCHEDULED:
        _require_valid(runtime, post, account)
    elif post.status != PostStatus.DRAFT:
        post.status = PostStatus.DRAFT.value  # approved/failed/cancelled: edit → draft again
    update = {
        "text": post.text,
        "parts": post.parts,
        "media": post.media,
        "campaign_id": post.campaign_id,
        "timezone": post.timezone,
        "account_id": post.account_id,
        "status": post.status,
        "content_hash": content_hash(post.parts),
        "estimated_cost_usd": _cost(account, post.parts, post.media),
        "sandbox": account.kind == AccountKind.SANDBOX,
        "updated_at": runtime.clock.now(),
    }
    runtime.db.collection(POSTS).document(post_id).update(update)
    return get_post(runtime, workspace_id, post_id)


def delete_post(runtime: Runtime, workspace_id: str, post_id: str) -> None:
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    if post.status not in EDITABLE and post.status not in TERMINAL - {PostStatus.PUBLISHED}:
        raise Conflict(f"a {post.status} post cannot be deleted; cancel it first")
    runtime.db.collection(POSTS).document(post_id).delete()


# ---------------------------------------------------------------------------- templates

_FORMATTER = string.Formatter()


def _placeholders(text: str) -> list[str]:
    names: list[str] = []
    try:
        for _, name, spec, conv in _FORMATTER.parse(text):
            if name is None:
                continue
            if not name.isidentifier() or spec or conv:
                raise ValidationError(
                    f"placeholder {{{name}}} must be a plain name like {{product}}"
                )
            if name not in names:
                names.append(name)
    except ValueError as exc:
        raise ValidationError(
            f"template text is malformed: {exc} (write {{{{ for a literal brace)"
        ) from exc
    return names


def create_template(
    runtime: Runtime, workspace_id: str, *, name: str, text: str, **extra: Any
) -> dict[str, Any]:
    if not name.strip() or not text.strip():
        raise ValidationError("a template needs a name and a text")
    now = runtime.clock.now()
    template = Template(
        id=store.new_id(),
        workspace_id=workspace_id,
        name=name.strip(),
        text=text,
        placeholders=_placeholders(text),
        created_at=now,
        updated_at=now,
        extra=extra,
    )
    store.insert(runtime, template)
    return template.to_dict()


def get_template(runtime: Runtime, workspace_id: str, template_id: str) -> dict[str, Any]:
    return store.load(runtime, Template, workspace_id, template_id, "template").to_dict()


def list_templates(
    runtime: Runtime, workspace_id: str, limit: int = 50, after: str | None = None
) -> dict[str, Any]:
    return store.page(runtime, Template, q.TEMPLATES, workspace_id, limit=limit, after=after)


def update_template(
    runtime: Runtime, workspace_id: str, template_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    current = store.load(runtime, Template, workspace_id, template_id, "template")
    update: dict[str, Any] = {"updated_at": runtime.clock.now()}
    if "name" in changes:
        if not str(changes["name"]).strip():
            raise ValidationError("template name is empty")
        update["name"] = str(changes["name"]).strip()
    if "text" in changes:
        update["text"] = str(changes["text"])
        update["placeholders"] = _placeholders(update["text"])
    ensure_fits(f"{TEMPLATES}/{template_id}", {**current.to_doc(), **update}, "template")
    runtime.db.collection(TEMPLATES).document(template_id).update(update)
    return get_template(runtime, workspace_id, template_id)


def delete_template(runtime: Runtime, workspace_id: str, template_id: str) -> None:
    store.load(runtime, Template, workspace_id, template_id, "template")
    runtime.db.collection(TEMPLATES).document(template_id).delete()


def render_template(
    runtime: Runtime, workspace_id: str, template_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """The template's text with its placeholders filled; all of them are required."""
    from shared.text import weighted_length

    template = store.load(runtime, Template, workspace_id, template_id, "template")
    missing = [n for n in template.placeholders if str(values.get(n, "")).strip() == ""]
    if missing:
        raise ValidationError(
            f"missing values for {', '.join('{' + m + '}' for m in missing)}",
            {"missing": missing},
        )
    text = template.text.format_map({n: str(values[n]) for n in template.placeholders})
    return {"text": text, "weighted_length": weighted_length(text)}
