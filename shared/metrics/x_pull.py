"""The metrics pull: public metrics of one account's due posts, on any network.

X: 100 ids per `GET /2/tweets`, against the monthly read budget (X bills reads);
Bluesky: public AppView reads, 25 posts a request; Mastodon: the status endpoint
(shared.metrics.channel_reads). The same decaying schedule for all three. The action
keeps its first name (`x_pull`): it is the task contract.

Task payload (metrics queue, target collect_metrics):
    {"action": "x_pull", "workspace_id", "account_id", "post_ids": [...], "slot": ISO,
     "attempt": 0}

Per post it writes one snapshot (`post_metrics_snapshots/{post_id}_{slot}`: a repeated
delivery overwrites the same document) and the latest counters plus `next_metrics_at`
on the post. Only the thread's first part (x_ids[0]) is read: that is where a thread's
engagement lands, and pay-per-use bills every id looked up.

Failures: 429 stores the reset instant and re-enqueues the unread posts for it (no
retry spent); 5xx / network errors re-enqueue with backoff up to MAX_ATTEMPTS, then the
slot is skipped with the reason recorded on the post; 401/403 record the reason. A
spent read budget stops the pull and records `budget_exhausted` on the posts, which
come back at the start of the next budget month.

Over 400 lines because the three networks' reads share one schedule, one budget and
one failure policy, written once here rather than per network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import claims
from shared.channels.base import LABELS, Network, network_of
from shared.log import bound, get_logger
from shared.metrics import budget, schedule
from shared.metrics.channel_reads import fetch_bluesky, fetch_mastodon, mastodon_reader
from shared.metrics.model import (
    POSTS,
    SNAPSHOTS,
    X_ACCOUNTS,
    X_READ_RATE,
    engagements,
    slot_key,
)
from shared.metrics.x_api import (
    IDS_PER_REQUEST,
    SYNTHETIC_SOURCE,
    Fetch,
    RateLimited,
    Refused,
    Transient,
    fetch_x,
    synthetic_metrics,
    x_client,
)
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("metrics.x")

# Each post costs two writes (snapshot + post) in one batch, and a batch holds 500.
MAX_POSTS_PER_TASK = 2 * IDS_PER_REQUEST
UNUSABLE = ("revoked", "suspended", "disconnected", "pending")  # shared.x AccountStatus
MAX_ATTEMPTS = 5
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))


@dataclass
class PullResult:
    read: int = 0
    snapshots: int = 0
    deleted: int = 0
    deferred: int = 0
    budget_exhausted: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


def task_spec(
    workspace_id: str,
    account_id: str,
    post_ids: list[str],
    slot: str,
    *,
    attempt: int = 0,
    hop: int = 0,
    at: datetime | None = None,
) -> TaskSpec:
    digest = hashlib.sha256(",".join(sorted(post_ids)).encode()).hexdigest()[:16]
    return TaskSpec(
        kind="metrics",
        target="collect_metrics",
        payload={
            "action": "x_pull",
            "workspace_id": workspace_id,
            "account_id": account_id,
            "post_ids": post_ids,
            "slot": slot,
            "attempt": attempt,  # failed tries (5xx); rate-limit deferrals do not count
            "hop": hop,  # re-enqueues so far: part of the claim key and the task id
        },
        schedule_time=at,
        task_id=safe_task_id("mx", account_id, slot_key(_iso(slot)), digest, str(hop)),
    )


# -- the pull --------------------------------------------------------------------------------


def _load_posts(db: Any, workspace_id: str, account_id: str, post_ids: list[str]) -> list[Any]:
    refs = [db.collection(POSTS).document(pid) for pid in post_ids if pid and "/" not in pid]
    out = []
    for snap in db.get_all(refs):
        data = snap.to_dict() if snap.exists else None
        if (
            data
            and data.get("workspace_id") == workspace_id
            and data.get("account_id") == account_id
        ):
            out.append(snap)
    return out


def _record(
    runtime: Runtime, posts: Iterable[Any], status: str, reason: str, next_at: datetime
) -> None:
    now = runtime.clock.now()
    batch = runtime.db.batch()
    for snap in posts:
        batch.update(
            snap.reference,
            {
                "metrics_status": status,
                "metrics_error": {"reason": reason, "at": now},
                "next_metrics_at": next_at,
            },
        )
    batch.commit()


def _requeue(
    runtime: Runtime, payload: dict[str, Any], post_ids: list[str], at: datetime, attempt: int
) -> None:
    runtime.enqueuer.enqueue(
        task_spec(
            payload["workspace_id"],
            payload["account_id"],
            post_ids,
            payload["slot"],
            attempt=attempt,
            hop=int(payload.get("hop", 0)) + 1,
            at=at,
        )
    )


def pull(
    runtime: Runtime, payload: dict[str, Any], *, bluesky_transport: Any = None
) -> dict[str, Any]:
    """`bluesky_transport`: an httpx transport for the AppView reads (tests)."""
    workspace_id = str(payload["workspace_id"])
    account_id = str(payload["account_id"])
    post_ids = [str(p) for p in payload["post_ids"]]
    slot = str(payload["slot"])
    attempt = int(payload.get("attempt", 0))
    with bound(workspace_id=workspace_id, account_id=account_id, slot=slot):
        return _pull(
            runtime, payload, workspace_id, account_id, post_ids, slot, attempt, bluesky_transport
        )


def _pull(
    runtime: Runtime,
    payload: dict[str, Any],
    workspace_id: str,
    account_id: str,
    post_ids: list[str],
    slot: str,
    attempt: int,
    bluesky_transport: Any = None,
) -> dict[str, Any]:
    db, now = runtime.db, runtime.clock.now()
    result = PullResult()
    digest = hashlib.sha256(",".join(sorted(post_ids)).encode()).hexdigest()[:16]
    hop = str(int(payload.get("hop", 0)))
    key = claims.claim_id("mxpull", account_id, slot_key(_iso(slot)), digest, hop)
    if not claims.try_claim(db, key, owner="collect_metrics", now=now, workspace_id=workspace_id):
        return {"duplicate": True}
    posts = _load_posts(db, workspace_id, account_id, post_ids)
    if not posts:
        return {"posts": 0}  # deleted or of another workspace: nothing to read
    account_snap = db.collection(X_ACCOUNTS).document(account_id).get()
    account = account_snap.to_dict() if account_snap.exists else None
    if not account or account.get("workspace_id") != workspace_id:
        _record(runtime, posts, "error", "the account no longer exists", schedule.NEVER)
        return {"error": "account_missing", "posts": len(posts)}
    network = network_of(account)
    label = LABELS[network]
    sandbox = bool(account.get("sandbox")) or account.get("kind") == "sandbox"
    if sandbox and not runtime.settings.sandbox:
        _record(runtime, posts, "error", "sandbox accounts are not allowed here", schedule.NEVER)
        log.alert("metrics_sandbox_refused", "sandbox account in a non-sandbox deployment")
        return {"error": "sandbox_refused", "posts": len(posts)}
    if account.get("status") in UNUSABLE:
        # Reading with revoked tokens only earns 401s: skip the slot, say why.
        reason = f"the {label} account is {account['status']}; reconnect it to resume metrics"
        _skip_slot(runtime, posts, reason)
        return {"error": "account_unusable", "posts": len(posts)}
    if not sandbox:
        rate = db.collection(X_READ_RATE).document(account_id).get()
        reset_at = (rate.to_dict() or {}).get("reset_at") if rate.exists else None
        if reset_at and reset_at > now:
            _requeue(runtime, payload, [p.id for p in posts], reset_at, attempt)
            return {"deferred": len(posts), "until": reset_at.isoformat()}

    by_x_id: dict[str, Any] = {}
    unreadable = []
    for snap in posts:
        x_ids = snap.to_dict().get("x_ids")
        if x_ids and snap.to_dict().get("published_at"):
            by_x_id[str(x_ids[0])] = snap
        else:
            unreadable.append(snap)
    if unreadable:
        # Never published (or its X id was never recorded): nothing to read, ever.
        _record(runtime, unreadable, "error", f"the post has no {label} id to read", schedule.NEVER)
    if sandbox:
        readings = {
            x: synthetic_metrics(s.id, s.get("published_at"), now) for x, s in by_x_id.items()
        }
        _store(runtime, readings, set(), by_x_id, slot, SYNTHETIC_SOURCE, result)
        return result.as_dict()
    if network != Network.X:  # reads cost nothing there: no budget to reserve
        got = _fetch(runtime, network, account_id, account, list(by_x_id), now, bluesky_transport)
        return _settle(runtime, payload, got, list(by_x_id), by_x_id, network, result)

    reservation = budget.reserve(runtime, workspace_id, len(by_x_id), key=key)
    wanted = list(by_x_id)
    granted, refused = wanted[: reservation.granted], wanted[reservation.granted :]
    if refused:
        result.budget_exhausted = len(refused)
        _record(
            runtime,
            [by_x_id[x] for x in refused],
            "budget_exhausted",
            f"monthly X read budget of {reservation.limit} is spent",
            budget.next_period_start(now),
        )
        log.alert(
            "metrics_budget_exhausted",
            "X read budget exhausted; metrics pulls stop until next month",
            limit=reservation.limit,
            refused=len(refused),
        )
    if not granted:
        return result.as_dict()

    got = _fetch(runtime, network, account_id, account, granted, now)
    unanswered = len(set(granted) - set(got.fetched))
    budget.refund(runtime, workspace_id, reservation, unanswered)  # X bills what it answered
    return _settle(runtime, payload, got, granted, by_x_id, network, result)


def _fetch(
    runtime: Runtime,
    network: Network,
    account_id: str,
    account: dict[str, Any],
    ids: list[str],
    now: datetime,
    bluesky_transport: Any = None,
) -> Fetch:
    """The network's counters of `ids` (Refused when the account cannot sign)."""
    try:
        if network == Network.BLUESKY:
            return fetch_bluesky(ids, now, bluesky_transport)
        if network == Network.MASTODON:
            return fetch_mastodon(mastodon_reader(runtime, account_id, account), ids, now)
        return fetch_x(x_client(runtime, account_id, account), ids, now)
    except Refused as exc:
        return Fetch(failure=exc)


def _settle(
    runtime: Runtime,
    payload: dict[str, Any],
    got: Fetch,
    asked: list[str],
    by_x_id: dict[str, Any],
    network: Network,
    result: PullResult,
) -> dict[str, Any]:
    """Store what was answered (whatever happened to the pages after it), then defer,
    retry or skip the rest by why it was not read."""
    db, now = runtime.db, runtime.clock.now()
    account_id, slot = str(payload["account_id"]), str(payload["slot"])
    attempt, label = int(payload.get("attempt", 0)), LABELS[network]
    result.requests = got.requests
    answered = {x: by_x_id[x] for x in got.fetched}
    _store(runtime, got.found, got.missing, answered, slot, network.value, result)
    if got.failure is None:
        return result.as_dict()
    done = set(got.fetched)
    rest = [by_x_id[x] for x in asked if x not in done]
    failure = got.failure
    if isinstance(failure, RateLimited):
        db.collection(X_READ_RATE).document(account_id).set(
            {
                "workspace_id": payload["workspace_id"],
                "reset_at": failure.reset_at,
                "updated_at": now,
            }
        )
        _requeue(runtime, payload, [s.id for s in rest], failure.reset_at, attempt)
        log.warning(f"{label} read rate limited", until=failure.reset_at, deferred=len(rest))
        result.deferred = len(rest)
    elif isinstance(failure, Transient) and attempt + 1 < MAX_ATTEMPTS:
        delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
        _requeue(runtime, payload, [s.id for s in rest], now + delay, attempt + 1)
        log.warning(f"{label} metrics read failed; retrying", reason=str(failure), attempt=attempt)
        result.deferred = len(rest)
        result.errors["transient"] = str(failure)
    else:
        reason = str(failure)
        if isinstance(failure, Transient):
            reason = f"{label} unavailable after {MAX_ATTEMPTS} tries: {failure}"
        _skip_slot(runtime, rest, reason)
        log.alert(
            "metrics_pull_failed", f"{label} metrics pull failed; slot skipped", reason=reason
        )
        result.errors["failed"] = reason
    return result.as_dict()


def _skip_slot(runtime: Runtime, posts: list[Any], reason: str) -> None:
    """Record the failure and move each post to its next slot (the schedule goes on)."""
    now = runtime.clock.now()
    batch = runtime.db.batch()
    for snap in posts:
        batch.update(
            snap.reference,
            {
                "metrics_status": "error",
                "metrics_error": {"reason": reason, "at": now},
                "next_metrics_at": schedule.next_pull_at(published, now)
                if (published := snap.to_dict().get("published_at"))
                else schedule.NEVER,
            },
        )
    batch.commit()


def _label(post: dict[str, Any]) -> str:
    return LABELS[network_of(post)]


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _store(
    runtime: Runtime,
    readings: dict[str, dict[str, int]],
    missing: set[str],
    by_x_id: dict[str, Any],
    slot: str,
    source: str,
    result: PullResult,
) -> None:
    from shared.metrics import best_time, x_daily

    if not by_x_id:
        return
    db, now = runtime.db, runtime.clock.now()
    slot_at = _iso(slot)
    batch = db.batch()
    days: set[tuple[str, datetime]] = set()
    accounts: set[tuple[str, str]] = set()
    for x_id, snap in by_x_id.items():
        post = snap.to_dict()
        if x_id in readings:
            metrics = readings[x_id]
            next_at = schedule.next_pull_at(post["published_at"], now)
            batch.set(
                db.collection(SNAPSHOTS).document(f"{snap.id}_{slot_key(slot_at)}"),
                {
                    "workspace_id": post["workspace_id"],
                    "post_id": snap.id,
                    "account_id": post.get("account_id"),
                    "x_id": x_id,  # the network's id of the post
                    "network": post.get("network") or "x",
                    "at": now,
                    "slot": slot_at,
                    "source": source,
                    **metrics,
                    "engagements": engagements(metrics),
                },
            )
            batch.update(
                snap.reference,
                {
                    **{f"metrics_{k}": v for k, v in metrics.items()},
                    "metrics_engagements": engagements(metrics),
                    "metrics_at": now,
                    "metrics_source": source,
                    "metrics_status": "final" if schedule.is_final(next_at) else "active",
                    "next_metrics_at": next_at,
                },
            )
            result.snapshots += 1
            days.add((post["workspace_id"], post["published_at"]))
            accounts.add((post["workspace_id"], str(post.get("account_id"))))
        elif x_id in missing:
            batch.update(
                snap.reference,
                {
                    "metrics_status": "deleted",
                    "metrics_error": {
                        "reason": f"{_label(post)} reports the post deleted or hidden",
                        "at": now,
                    },
                    "next_metrics_at": schedule.NEVER,
                },
            )
            result.deleted += 1
        else:
            # Neither returned nor reported: try again at the next slot.
            batch.update(
                snap.reference,
                {"next_metrics_at": schedule.next_pull_at(post["published_at"], now)},
            )
    batch.commit()
    result.read = len(readings)
    x_daily.schedule_refresh(runtime, days)  # the day rollups, once per window
    for workspace_id, account_id in accounts:
        best_time.refresh_if_stale(runtime, workspace_id, account_id)
