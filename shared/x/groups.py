"""One post for several channels: a group (one post per channel sharing `group_id`).

Validate, create, schedule and cancel act on every channel at once. Each channel's text
(its own variant, or the shared text) is checked with its network's rules; when any
channel would refuse, nothing is written and the error lists every channel's problems
(`details.channels`). Scheduling moves all the group's posts in one transaction. Once
scheduled, each post goes through the pipeline on its own, with its network's
exactly-once story; `get_group` reads back each network's result.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.channels.base import LABELS, Network, network_of
from shared.errors import Conflict, NotFound, ValidationError
from shared.x import spend, store
from shared.x.accounts import usable_account
from shared.x.guards import OUT, is_withdrawn, read_guard, take_guard
from shared.x.lifecycle import due_instant, enqueue_if_queued, needs_approval, schedule_update
from shared.x.links import outgoing_parts
from shared.x.models import POSTS, TERMINAL, Post, PostStatus, XAccount
from shared.x.posts import check, new_post, post_doc

if TYPE_CHECKING:
    from shared.runtime import Runtime

MAX_CHANNELS = 10
_ORDER = {n: i for i, n in enumerate(Network)}
# What a group's schedule may move: not yet out, not ended.
_SCHEDULABLE = frozenset(
    {PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.SCHEDULED, PostStatus.QUEUED}
)


def _entry(account: XAccount) -> dict[str, Any]:
    """A channel in a report: which account, on which network."""
    network = network_of(account)
    return {
        "account_id": account.id,
        "handle": account.handle,
        "network": network.value,
        "label": LABELS[network],
    }


def _build(
    runtime: Runtime,
    workspace_id: str,
    group_id: str,
    channels: list[dict[str, Any]],
    shared: dict[str, Any],
) -> tuple[list[tuple[Post, XAccount]], list[dict[str, Any]]]:
    """Each channel's post (not written) and its report: the network's counter and
    everything that network would refuse."""
    from shared.channels.rules import describe

    if not channels:
        raise ValidationError("choose at least one channel", {"field": "channels"})
    if len(channels) > MAX_CHANNELS:
        raise ValidationError(f"at most {MAX_CHANNELS} channels per post", {"field": "channels"})
    ids = [c.get("account_id") for c in channels]
    if len(set(ids)) != len(ids):
        raise ValidationError("a channel is chosen twice", {"field": "channels"})
    built: list[tuple[Post, XAccount]] = []
    report: list[dict[str, Any]] = []
    for channel in channels:
        account = usable_account(runtime, workspace_id, str(channel.get("account_id")))
        fields = dict(shared)
        if channel.get("text"):  # the channel's variant replaces the whole text
            fields["text"], fields["parts"] = channel["text"], channel.get("parts")
        fields["options"] = channel.get("options")
        entry = _entry(account)
        try:
            post = new_post(
                runtime, workspace_id, account_id=account.id, group_id=group_id, **fields
            )
        except ValidationError as exc:
            entry |= {"ok": False, "problems": [{"field": "text", "message": exc.message}]}
            entry["counter"] = describe(account, [str(fields.get("text") or "")])
            report.append(entry)
            continue
        problems = check(runtime, post, account)
        entry |= {
            "ok": not problems,
            "problems": problems,
            "counter": describe(account, outgoing_parts(post)),
        }
        report.append(entry)
        built.append((post, account))
    return built, report


def _refuse(report: list[dict[str, Any]]) -> None:
    bad = [c for c in report if not c["ok"]]
    if not bad:
        return
    first = "; ".join(
        f"{c['label']} @{c['handle']}: {c['problems'][0]['message']}" for c in bad if c["problems"]
    )
    raise ValidationError(
        f"{len(bad)} of {len(report)} channels would refuse this post ({first}); nothing was saved",
        {"channels": report},
    )


def validate_group(
    runtime: Runtime, workspace_id: str, *, channels: list[dict[str, Any]], **shared: Any
) -> dict[str, Any]:
    """Each channel's counter (length and limit as its network counts) and problems,
    before anything is saved: the composer's live check."""
    shared.pop("schedule", None)
    shared.pop("confirm_over_budget", None)
    _, report = _build(runtime, workspace_id, "", channels, shared)
    return {"ok": all(c["ok"] for c in report), "channels": report}


def create_group(
    runtime: Runtime,
    workspace_id: str,
    *,
    channels: list[dict[str, Any]],
    schedule: bool = False,
    confirm_over_budget: bool = False,
    **shared: Any,
) -> dict[str, Any]:
    """One post per channel, all or none: drafts, or with `schedule` scheduled for
    `due_at` in the same write (tasks of posts due within the lookahead enqueued)."""
    group_id = store.new_id()
    built, report = _build(runtime, workspace_id, group_id, channels, shared)
    _refuse(report)
    now = runtime.clock.now()
    updates: list[dict[str, Any]] = []
    if schedule:
        due = due_instant(runtime, shared.get("due_at"), None)
        for post, _ in built:
            spend.check(runtime, post, due, confirmed=confirm_over_budget)
            updates.append(schedule_update(runtime, post, due, shared.get("timezone"), now))
    batch = runtime.db.batch()  # every channel's post, or none
    for i, (post, _) in enumerate(built):
        doc = post_doc(post) | (updates[i] if updates else {})
        batch.set(runtime.db.collection(POSTS).document(post.id), doc)
    batch.commit()
    for (post, _), update in zip(built, updates, strict=False):  # none unless scheduled
        enqueue_if_queued(runtime, post, update)
    return get_group(runtime, workspace_id, group_id)


def _group_posts(runtime: Runtime, workspace_id: str, group_id: str) -> list[Post]:
    from shared.queries import build
    from shared.queries.x import GROUP_POSTS

    query = build(runtime.db, GROUP_POSTS, workspace_id=workspace_id, group_id=group_id)
    posts = [Post.from_doc(s.id, s.to_dict()) for s in query.limit(MAX_CHANNELS * 2).stream()]
    if not posts:
        raise NotFound(f"post group {group_id[:64]!r} not found")
    return sorted(posts, key=lambda p: (_ORDER.get(Network(p.network or "x"), 9), p.id))


def get_group(runtime: Runtime, workspace_id: str, group_id: str) -> dict[str, Any]:
    """The group's posts, each with its network's result (status, ids, link, error)."""
    from shared.channels.urls import post_url
    from shared.x import cache

    posts = _group_posts(runtime, workspace_id, group_id)
    items = []
    for post in posts:
        account = cache.account(runtime, post.account_id)
        network = Network(post.network or "x")
        error = post.last_error or {}
        items.append(
            post.to_dict()
            | {
                "result": {
                    "network": network.value,
                    "label": LABELS[network],
                    "handle": account.handle if account else None,
                    "status": post.status,
                    "published_at": post.published_at,
                    "ids": post.x_ids,
                    "url": post_url(account, post.x_ids[0])
                    if account and post.x_ids and not post.sandbox
                    else None,
                    "error": error.get("reason"),
                }
            }
        )
    statuses = {p.status for p in posts}
    return {
        "group_id": group_id,
        "status": statuses.pop() if len(statuses) == 1 else "mixed",
        "due_at": min((p.due_at for p in posts if p.due_at), default=None),
        "posts": items,
    }


def schedule_group(
    runtime: Runtime,
    workspace_id: str,
    group_id: str,
    due_at: datetime | str | None = None,
    timezone: str | None = None,
    confirm_over_budget: bool = False,
) -> dict[str, Any]:
    """Validate every channel's post, then schedule them all for `due_at` (default: the
    group's due instant) in one transaction; nothing moves if any channel would refuse."""
    ids = [p.id for p in _group_posts(runtime, workspace_id, group_id)]

    def decide(transaction: Any) -> list[tuple[Post, dict[str, Any]]]:
        posts = [store.load(runtime, Post, workspace_id, i, "post", transaction) for i in ids]
        stuck = [p for p in posts if p.status not in _SCHEDULABLE]
        if stuck:
            raise Conflict(
                "only a group whose posts have not gone out can be scheduled: "
                + ", ".join(f"{LABELS[Network(p.network or 'x')]} is {p.status}" for p in stuck),
                {"posts": [{"id": p.id, "status": p.status} for p in stuck]},
            )
        if any(needs_approval(runtime, p) for p in posts):
            raise Conflict("this campaign requires approval before generated posts are scheduled")
        due = due_instant(runtime, due_at, min((p.due_at for p in posts if p.due_at), default=None))
        report = []
        for post in posts:
            account = usable_account(runtime, workspace_id, post.account_id)
            problems = check(runtime, post, account)
            report.append(_entry(account) | {"ok": not problems, "problems": problems})
        _refuse(report)
        for post in posts:
            spend.check(runtime, post, due, confirmed=confirm_over_budget)
        guards = [read_guard(transaction, runtime.db, p) for p in posts]  # reads, then writes
        now = runtime.clock.now()
        moved = []
        for post, guard in zip(posts, guards, strict=True):
            take_guard(transaction, runtime.db, post, guard, now)
            update = schedule_update(runtime, post, due, timezone, now)
            transaction.update(runtime.db.collection(POSTS).document(post.id), update)
            moved.append((post, update))
        return moved

    for post, update in store.transact(runtime, decide):
        enqueue_if_queued(runtime, post, update)
    return get_group(runtime, workspace_id, group_id)


def cancel_group(runtime: Runtime, workspace_id: str, group_id: str) -> dict[str, Any]:
    """Cancel every post of the group that has not gone out, in one transaction with the
    workers' part guards; a network already publishing or done keeps its result (listed
    in `not_cancelled` with why)."""
    ids = [p.id for p in _group_posts(runtime, workspace_id, group_id)]

    def decide(transaction: Any) -> list[dict[str, Any]]:
        posts = [store.load(runtime, Post, workspace_id, i, "post", transaction) for i in ids]
        kept: list[dict[str, Any]] = []
        chosen: list[tuple[Post, Any]] = []
        for post in posts:
            if post.status in TERMINAL or post.status in OUT:
                kept.append({"id": post.id, "network": post.network, "reason": post.status})
                continue
            guard = read_guard(transaction, runtime.db, post)
            if guard is not None and guard.exists and not is_withdrawn(guard.to_dict() or {}):
                kept.append({"id": post.id, "network": post.network, "reason": "publishing"})
                continue
            chosen.append((post, guard))
        now = runtime.clock.now()
        for post, guard in chosen:
            take_guard(transaction, runtime.db, post, guard, now)
            transaction.update(
                runtime.db.collection(POSTS).document(post.id),
                {
                    "status": PostStatus.CANCELLED.value,
                    "try_n": post.try_n + 1,  # any queued task for it is now stale
                    "updated_at": now,
                },
            )
        return kept

    kept = store.transact(runtime, decide)
    return get_group(runtime, workspace_id, group_id) | {"not_cancelled": kept}
