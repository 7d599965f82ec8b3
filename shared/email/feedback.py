"""What a bounce or a complaint that arrives after delivery does (mailbox or webhook).

A Report (shared.email.reports) names its message by the feedback token: a batch and
an index. Applying it:
1. The event `bounce__c__r` (hard), `soft_bounce__c__r` or `complaint__c__r` is
   created with create(): the same report applied twice (a webhook retried, a mail
   read again after a crash, a DSN for a 550 already seen at RCPT) finds it there and
   changes nothing more. Events carry workspace, campaign, type and sending domain:
   the campaign's figures and the reputation guard count them.
2. A hard bounce or a complaint suppresses the address (reasons `hard_bounce`,
   `complaint`). A soft bounce adds to the address's streak
   (`email_soft_bounces/{ws}__{hash}`: soft bounces of different campaigns, each
   within STREAK_GAP of the previous); at the workspace's limit (default 3 in a row)
   the address is suppressed (`soft_bounce_limit`). A delivery report ends the streak.
3. The recipient's outcome in its batch gets `bounce` (hard/soft) or `complaint`, with
   the report's text and time: the page shows it beside the SMTP answer.
A report whose token is missing or forged is not applied to any recipient; a webhook
that names the address still suppresses it for a hard bounce or a complaint, since
the provider says so for that workspace.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.email import deliverability
from shared.email.model import (
    BATCHES,
    EVENT_RETENTION,
    EVENTS,
    SOFT_BOUNCES,
    normalize_email,
    suppression_id,
)
from shared.email.reports import Report
from shared.email.suppression import suppress
from shared.firestore import is_already_exists, transact
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.feedback")

EVENT_TYPES = {"hard": "bounce", "soft": "soft_bounce", "complaint": "complaint"}
STREAK_GAP = timedelta(days=30)


def apply(runtime: Runtime, report: Report, workspace_id: str | None = None) -> str:
    """Apply one report; what it did: applied, duplicate, suppressed (no recipient
    found, but the address was suppressed), ignored (nothing to do), unknown.

    `workspace_id` is the webhook's workspace (the URL's); a report naming a batch of
    another workspace is refused. From a mailbox it is None: the token decides."""
    db, now = runtime.db, runtime.clock.now()
    found = _recipient(runtime, report, workspace_id)
    if found is None:
        return _unattributed(runtime, report, workspace_id, now)
    batch, index, rcpt = found
    ws, cid = batch["workspace_id"], batch["campaign_id"]
    if report.kind == "delivered":
        db.collection(SOFT_BOUNCES).document(
            suppression_id(ws, normalize_email(rcpt["email"]))
        ).delete()
        return "applied"
    kind = EVENT_TYPES[report.kind]
    event = {
        "workspace_id": ws,
        "campaign_id": cid,
        "batch_id": report.ref.batch_id if report.ref else None,
        "recipient_id": rcpt["id"],
        "type": kind,
        "count": 1,
        "domain": batch.get("sender_domain"),
        "source": report.source,
        "status": report.status,
        "detail": report.detail,
        "at": now,
        "expires_at": now + EVENT_RETENTION,
    }
    try:
        db.collection(EVENTS).document(f"{kind}__{cid}__{rcpt['id']}").create(event)
    except Exception as exc:
        if is_already_exists(exc):
            return "duplicate"
        raise
    email = str(rcpt["email"])
    if report.kind == "hard":
        suppress(db, ws, email, "hard_bounce", now, cid)
    elif report.kind == "complaint":
        suppress(db, ws, email, "complaint", now, cid)
    else:
        _soft(runtime, ws, email, cid, now)
    _annotate(db, batch, index, report, now)
    log.info(
        "feedback applied",
        workspace_id=ws,
        campaign_id=cid,
        kind=kind,
        source=report.source,
        status=report.status,
    )
    if report.kind in ("hard", "complaint"):
        from shared.email.reputation import check_soon

        check_soon(runtime, ws)
    return "applied"


def _recipient(
    runtime: Runtime, report: Report, workspace_id: str | None
) -> tuple[dict[str, Any], int, dict[str, Any]] | None:
    if report.ref is None:
        return None
    snap = runtime.db.collection(BATCHES).document(report.ref.batch_id).get()
    if not snap.exists:
        return None
    batch = snap.to_dict()
    if workspace_id is not None and batch.get("workspace_id") != workspace_id:
        log.warning(
            "a report names a batch of another workspace; ignored",
            workspace_id=workspace_id,
            batch_id=report.ref.batch_id,
        )
        return None
    recipients = batch.get("recipients") or []
    if not 0 <= report.ref.index < len(recipients):
        return None
    return batch, report.ref.index, recipients[report.ref.index]


def _unattributed(runtime: Runtime, report: Report, workspace_id: str | None, now: datetime) -> str:
    if workspace_id is None or report.kind not in ("hard", "complaint") or not report.recipient:
        return "unknown"
    reason = "hard_bounce" if report.kind == "hard" else "complaint"
    suppress(runtime.db, workspace_id, report.recipient, reason, now)
    log.info("feedback for a message Herald cannot name: address suppressed", kind=reason)
    return "suppressed"


def _soft(runtime: Runtime, ws: str, email: str, cid: str, now: datetime) -> None:
    """One more soft bounce in the address's streak; suppressed at the limit."""
    db = runtime.db
    norm = normalize_email(email)
    ref = db.collection(SOFT_BOUNCES).document(suppression_id(ws, norm))
    limit = deliverability.soft_bounce_limit(deliverability.load(runtime, ws))
    reached: list[int] = [0]

    def add(transaction: Any) -> None:
        snap = ref.get(transaction=transaction)
        doc = snap.to_dict() if snap.exists else {}
        last = doc.get("last_at")
        count = int(doc.get("count") or 0)
        if last is None or now - last > STREAK_GAP:
            count = 0
        campaigns = [c for c in doc.get("campaigns") or [] if c != cid][-9:]
        count += 1
        reached[0] = count
        transaction.set(
            ref,
            {
                "workspace_id": ws,
                "email_norm": norm,
                "count": count,
                "last_at": now,
                "campaigns": [*campaigns, cid],
            },
        )

    transact(db, add)
    if reached[0] >= limit:
        suppress(db, ws, email, "soft_bounce_limit", now, cid)
        log.info("soft bounces in a row reached the limit: address suppressed", limit=limit)


def _annotate(db: Any, batch: dict[str, Any], index: int, report: Report, now: datetime) -> None:
    from google.cloud.firestore_v1.field_path import FieldPath

    def path(name: str) -> str:
        return str(FieldPath("outcomes", str(index), name).to_api_repr())

    if report.kind == "complaint":
        changes = {path("complaint"): True, path("complained_at"): now}
    else:
        changes = {
            path("bounce"): report.kind,
            path("bounce_status"): report.status,
            path("bounce_text"): report.detail,
            path("bounced_at"): now,
        }
    db.collection(BATCHES).document(batch["key"]).update(changes)


def campaign_feedback(runtime: Runtime, campaign_id: str) -> dict[str, int]:
    """The campaign's bounces (hard, soft) and complaints: counts of its events."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.queries import aggregate
    from shared.queries.email import CAMPAIGN_FEEDBACK

    def count(kind: str) -> int:
        got = aggregate(runtime.db, CAMPAIGN_FEEDBACK, campaign_id=campaign_id, type=kind)
        return int(got.get("count", 0))

    names = {"bounce": "hard_bounces", "soft_bounce": "soft_bounces", "complaint": "complaints"}
    with ThreadPoolExecutor(3) as pool:
        values = list(pool.map(count, names))
    return dict(zip(names.values(), values, strict=True))
