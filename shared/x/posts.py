"""Posts as authored: create, read, list, edit, delete, validate and estimate.

A post is one X post or a thread (`parts`); status changes (approve, schedule, cancel)
live in `shared.x.lifecycle`, groups (one post per channel) in `shared.x.groups`. Errors
are shared.errors with messages for a person. Over 400 lines because creating, editing
and validating a post share their helpers (parts, media, options, checks).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.channels.base import network_of
from shared.errors import Conflict, ValidationError
from shared.queries import x as q
from shared.tenancy import check_timezone
from shared.text import content_hash
from shared.x import store
from shared.x.accounts import usable_account
from shared.x.cost import estimate, pricing_of
from shared.x.guards import LIVE, OUT, already_publishing, withdraw
from shared.x.links import outgoing, outgoing_parts
from shared.x.models import (
    EDITABLE,
    MAX_MEDIA,
    POSTS,
    TERMINAL,
    AccountKind,
    AccountStatus,
    Campaign,
    Post,
    PostSource,
    PostStatus,
    XAccount,
)
from shared.x.validation import problems_for

if TYPE_CHECKING:
    from shared.runtime import Runtime


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
        raise ValidationError(f"at most {MAX_MEDIA} media items per post, got {len(ids)}")
    return check_ids(runtime, workspace_id, ids)


def _media_alt(alt: list[str] | None, refs: list[str], account: Any) -> list[str]:
    """One alt text per media item (empty where none was written), each within what the
    account's network accepts (X 1,000 characters, Bluesky 2,000, Mastodon 1,500)."""
    from shared.channels.base import LABELS
    from shared.channels.rules import rules_for

    texts = [str(a or "").strip() for a in (alt or [])]
    if len(texts) > len(refs):
        raise ValidationError("more alt texts than media items", {"field": "media_alt"})
    rules = rules_for(account)
    for i, text in enumerate(texts):
        if len(text) > rules.max_alt:
            raise ValidationError(
                f"alt text {i + 1} is {len(text)} characters; "
                f"{LABELS[rules.network]} accepts {rules.max_alt}",
                {"field": f"media_alt[{i}]"},
            )
    return texts + [""] * (len(refs) - len(texts))


def _media_focus(focus: list[dict[str, float]] | None, refs: list[str]) -> list[dict[str, float]]:
    """Each media item's focal point ({x, y} in -1..1; Mastodon crops around it)."""
    points = list(focus or [])
    if len(points) > len(refs):
        raise ValidationError("more focal points than media items", {"field": "media_focus"})
    out: list[dict[str, float]] = []
    for i, point in enumerate(points):
        if not point:
            out.append({})
            continue
        try:
            x, y = float(point["x"]), float(point["y"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"focal point {i + 1} needs numbers x and y") from exc
        if not (-1 <= x <= 1 and -1 <= y <= 1):
            raise ValidationError(f"focal point {i + 1} must lie within -1..1")
        out.append({"x": x, "y": y})
    return out + [{}] * (len(refs) - len(out))


def _options(account: XAccount, options: dict[str, Any] | None) -> dict[str, Any]:
    from shared.channels.rules import options_problem

    chosen = {k: v for k, v in (options or {}).items() if v is not None}
    problem = options_problem(account, chosen)
    if problem:
        raise ValidationError(problem, {"field": "options"})
    return chosen


def _cost(runtime: Runtime, account: XAccount, parts: list[str], media: list[str]) -> float:
    return float(estimate(pricing_of(runtime.settings, account), parts, len(media))["total_usd"])


def post_doc(post: Post) -> dict[str, Any]:
    doc = post.to_doc()
    doc["due_key"] = store.order_key(post.due_at, post.id)
    return doc


def create_post(runtime: Runtime, workspace_id: str, **fields: Any) -> dict[str, Any]:
    """A draft post (not validated against X yet: see validate_post / schedule_post);
    the fields are new_post's."""
    post = new_post(runtime, workspace_id, **fields)
    runtime.db.collection(POSTS).document(post.id).set(post_doc(post))
    return post.to_dict()


def new_post(
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
    media_alt: list[str] | None = None,
    link_in_reply: bool = False,
    media_focus: list[dict[str, float]] | None = None,
    options: dict[str, Any] | None = None,
    group_id: str | None = None,
    **extra: Any,
) -> Post:
    """A draft post, not written yet.

    `parts` is the whole thread (parts[0] == text) or only its continuation; `media`
    are shared.media refs (first part) and `media_alt` their alt texts; with
    `link_in_reply` the main post's links go out in a reply under it; `extra` fields
    (e.g. generation metadata: prompt, model, topic) are stored as they are.
    """
    if source not in set(PostSource):
        raise ValidationError(f"unknown post source {source!r}", {"allowed": list(PostSource)})
    account = usable_account(runtime, workspace_id, account_id)
    if campaign_id:
        store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    items = _parts(text, parts)
    if not items[0]:
        raise ValidationError("the post is empty")
    refs = _media(runtime, workspace_id, media)
    sent = outgoing(items, bool(link_in_reply))
    options = _options(account, options)
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
        media_alt=_media_alt(media_alt, refs, account),
        media_focus=_media_focus(media_focus, refs),
        options=options,
        network=network_of(account).value,
        group_id=group_id,
        link_in_reply=bool(link_in_reply),
        due_at=store.parse_instant(due_at, "due_at") if due_at else None,
        timezone=check_timezone(timezone),
        status=PostStatus.DRAFT.value,
        estimated_cost_usd=_cost(runtime, account, sent, refs),
        source=source,
        content_hash=content_hash(sent),
        template_id=template_id,
        series_id=series_id,
        sandbox=account.kind == AccountKind.SANDBOX,
        created_at=now,
        updated_at=now,
        extra={k: v for k, v in extra.items() if k not in reserved},
    )
    return post


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


def check(runtime: Runtime, post: Post, account: XAccount) -> list[dict[str, Any]]:
    sent = outgoing_parts(post)
    if post.link_in_reply and len(sent) > len(post.parts) and not sent[0]:
        return [
            {
                "field": "text",
                "message": "without its link the main post is empty: write a line to go "
                "with it, or post the link in the main post",
            }
        ]
    problems = problems_for(runtime.db, account, sent, post.media, post.id, runtime.clock.now())
    problems += _media_problems(runtime, post, account)
    if account.status != AccountStatus.ACTIVE:
        problems.append(
            {
                "field": "account_id",
                "message": f"account @{account.handle} is {account.status}: "
                f"{account.status_reason or 'reconnect it'}",
            }
        )
    return problems


def _media_problems(runtime: Runtime, post: Post, account: XAccount) -> list[dict[str, Any]]:
    """The network's media rules (Bluesky takes images only)."""
    from shared.channels.rules import media_problems
    from shared.media import find

    docs = [find(runtime, post.workspace_id, ref) or {} for ref in post.media]
    return media_problems(account, [str(d.get("content_type") or "") for d in docs])


def require_valid(runtime: Runtime, post: Post, account: XAccount) -> None:
    problems = check(runtime, post, account)
    if problems:
        raise ValidationError(problems[0]["message"], {"problems": problems})


def validate_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    """What would stop this post, and what it would cost (the composer shows both);
    lengths and limit as the account's network counts them."""
    from shared.channels.rules import describe

    post = store.load(runtime, Post, workspace_id, post_id, "post")
    account = usable_account(runtime, workspace_id, post.account_id)
    problems = check(runtime, post, account)
    sent = outgoing_parts(post)
    warnings = [
        {"field": f"media_alt[{i}]", "message": f"media item {i + 1} has no alt text"}
        for i, alt in enumerate(_media_alt(post.media_alt, post.media, account))
        if not alt
    ]
    counter = describe(account, sent)
    return {
        "ok": not problems,
        "problems": problems,
        "warnings": warnings,
        "outgoing": sent,
        "weighted_lengths": counter["lengths"],
        "limit": counter["limit"],
        "network": counter,
        "cost": estimate(pricing_of(runtime.settings, account), sent, len(post.media)),
    }


def estimate_cost(
    runtime: Runtime,
    workspace_id: str,
    *,
    account_id: str,
    text: str,
    parts: list[str] | None = None,
    media_count: int = 0,
    link_in_reply: bool = False,
) -> dict[str, Any]:
    """Cost of a post before it exists (the composer warns before scheduling)."""
    account = usable_account(runtime, workspace_id, account_id)
    sent = outgoing(_parts(text, parts), link_in_reply)
    return estimate(pricing_of(runtime.settings, account), sent, media_count) | {"outgoing": sent}


def update_post(
    runtime: Runtime, workspace_id: str, post_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Edit text, thread, images or campaign; a scheduled post is re-validated."""
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    before = Post.from_doc(post.id, post.to_doc())
    _editable(post)
    allowed = {
        "text",
        "parts",
        "media",
        "media_alt",
        "link_in_reply",
        "campaign_id",
        "timezone",
        "account_id",
        "options",
        "media_focus",
    }
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
    if "media" in changes or "media_focus" in changes:
        post.media_focus = _media_focus(changes.get("media_focus", post.media_focus), post.media)
    if "link_in_reply" in changes:
        post.link_in_reply = bool(changes["link_in_reply"])
    if changes.get("campaign_id"):
        store.load(runtime, Campaign, workspace_id, changes["campaign_id"], "campaign")
        post.campaign_id = changes["campaign_id"]
    if "timezone" in changes:
        post.timezone = check_timezone(changes["timezone"])
    if "account_id" in changes:
        post.account_id = changes["account_id"]
    account = usable_account(runtime, workspace_id, post.account_id)
    if changes.keys() & {"media", "media_alt", "account_id"}:
        alt = changes.get("media_alt", post.media_alt)
        post.media_alt = _media_alt(alt, post.media, account)
    if "options" in changes or "account_id" in changes:
        post.options = _options(account, changes.get("options", post.options))
    now = runtime.clock.now()
    if post.status == PostStatus.SCHEDULED:
        require_valid(runtime, post, account)
    elif post.status != PostStatus.DRAFT:
        post.status = PostStatus.DRAFT.value  # approved/failed/cancelled: edit → draft again
    update = {
        "text": post.text,
        "parts": post.parts,
        "media": post.media,
        "media_alt": post.media_alt,
        "media_focus": post.media_focus,
        "options": post.options,
        "network": network_of(account).value,
        "link_in_reply": post.link_in_reply,
        "campaign_id": post.campaign_id,
        "timezone": post.timezone,
        "account_id": post.account_id,
        "status": post.status,
        "content_hash": content_hash(outgoing_parts(post)),
        "estimated_cost_usd": _cost(runtime, account, outgoing_parts(post), post.media),
        "sandbox": account.kind == AccountKind.SANDBOX,
        "updated_at": now,
    }

    def decide(transaction: Any) -> None:
        # What was validated above must still be the post: a dispatcher or a worker may
        # have moved it on meanwhile (then X may already have the old text: 409).
        current = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        _editable(current)
        if current.status != before.status or current.to_doc() != before.to_doc():
            raise Conflict("the post changed while it was being edited; reload it")
        if current.status in LIVE:
            withdraw(transaction, runtime.db, current, now)
            update["try_n"] = current.try_n + 1  # a task of the old text is now stale
        transaction.update(runtime.db.collection(POSTS).document(post_id), update)

    store.transact(runtime, decide)
    return get_post(runtime, workspace_id, post_id)


def _editable(post: Post) -> None:
    if post.status in OUT:
        raise already_publishing(post)
    if post.status not in EDITABLE and post.status not in (
        PostStatus.FAILED,
        PostStatus.CANCELLED,
    ):
        raise Conflict(f"a {post.status} post cannot be edited")


def delete_post(runtime: Runtime, workspace_id: str, post_id: str) -> None:
    def decide(transaction: Any) -> None:
        post = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        if post.status in OUT:
            raise already_publishing(post)
        if post.status not in EDITABLE and post.status not in TERMINAL - {PostStatus.PUBLISHED}:
            raise Conflict(f"a {post.status} post cannot be deleted; cancel it first")
        withdraw(transaction, runtime.db, post, runtime.clock.now())
        transaction.delete(runtime.db.collection(POSTS).document(post_id))

    store.transact(runtime, decide)
