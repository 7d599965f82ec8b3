"""The worker's side of the shared quota, the adaptive rate and configuration stops.

- Before a batch sends: the pace gate (shared.email.pace) while the workspace's rate
  is cut; a batch that comes early is queued again for when it may send.
- When it finishes: its retry batch reserves its slot in the shared quota (retries
  never bypass the per-minute rate or the day's caps), and what the provider said
  cuts or raises the workspace's rate.
- When the SMTP settings cannot work (the server refused the login, the TLS mode or
  certificate is wrong, no settings): nothing of the batch is failed. The batch is
  held with what it knows, the campaign is paused with the reason (`stop_reason`,
  shown on the page), and one `email_config` alert is logged. Resuming the campaign
  after fixing the settings sends the held batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.email import pace
from shared.email.model import CAMPAIGNS, DELIVERABILITY, PACE, SETTINGS
from shared.email.quota import Limits, reserve
from shared.email.warmup import day_cap
from shared.firestore import transact
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.send")


@dataclass(frozen=True)
class Side:
    """The workspace documents a batch reads beside its campaign (one get_all)."""

    settings: dict[str, Any]
    pace: dict[str, Any] | None
    deliverability: dict[str, Any]

    @property
    def configured_rate(self) -> int:
        return Limits.of(self.settings).per_minute

    @property
    def cut(self) -> bool:
        return pace.current(self.pace, self.configured_rate) is not None

    def limits(self) -> Limits:
        return Limits.of(self.settings, day_cap(self.deliverability.get("warmup"), self.settings))


def side_refs(db: Any, workspace_id: str) -> list[Any]:
    return [
        db.collection(SETTINGS).document(workspace_id),
        db.collection(PACE).document(workspace_id),
        db.collection(DELIVERABILITY).document(workspace_id),
    ]


def side_of(snaps: list[Any]) -> Side:
    settings, pace_doc, deliverability = snaps
    return Side(
        settings.to_dict() if settings.exists else {},
        pace_doc.to_dict() if pace_doc.exists else None,
        deliverability.to_dict() if deliverability.exists else {},
    )


def read_side(db: Any, workspace_id: str) -> Side:
    refs = side_refs(db, workspace_id)
    snaps = {s.reference.path: s for s in db.get_all(refs)}
    return side_of([snaps[r.path] for r in refs])


def gate(
    runtime: Runtime, workspace_id: str, side: Side, n: int, granted: datetime | None
) -> datetime | None:
    """None: send now. An instant: the rate is cut and this batch may send only then
    (`granted`: the slot an earlier gate gave it)."""
    if not side.cut or n == 0:
        return None
    now = runtime.clock.now()
    return pace.gate(runtime.db, workspace_id, n, now, side.configured_rate, granted)


def retry_slot(
    runtime: Runtime, workspace_id: str, side: Side, n: int, wanted: datetime
) -> datetime:
    """The retry batch's slot: its rung of the ladder, or later if the quota is full then."""
    now = runtime.clock.now()
    return reserve(runtime.db, workspace_id, [(n, wanted)], side.limits(), now)[0]


def after_batch(runtime: Runtime, workspace_id: str, side: Side, seen: pace.Seen) -> None:
    change = pace.record(
        runtime.db, workspace_id, seen, runtime.clock.now(), side.configured_rate, side.cut
    )
    if change is None:
        return
    if change.get("rate") is None:
        log.info("sending rate back to the configured rate", workspace_id=workspace_id)
    elif "cut_at" in change:
        log.warning(
            "the provider defers: sending rate cut",
            workspace_id=workspace_id,
            rate_per_minute=round(change["rate"], 1),
            configured=side.configured_rate,
            reason=change.get("reason"),
        )
    else:
        log.info(
            "sending rate raised",
            workspace_id=workspace_id,
            rate_per_minute=round(change["rate"], 1),
        )


def stop_campaign(
    runtime: Runtime, campaign_id: str, batch_id: str, kind: str, message: str
) -> None:
    """Pause the campaign (if it still sends) with the reason it stopped, and alert."""
    db, now = runtime.db, runtime.clock.now()
    ref = db.collection(CAMPAIGNS).document(campaign_id)
    reason = {"kind": kind, "message": message[:500], "at": now, "batch_id": batch_id}

    def pause(transaction: Any) -> None:
        snap = ref.get(transaction=transaction)
        status = snap.get("status") if snap.exists else None
        if status in ("sending", "scheduled"):
            transaction.update(
                ref,
                {
                    "status": "paused",
                    "paused_from": status,
                    "stop_reason": reason,
                    "updated_at": now,
                },
            )
        elif status == "paused":
            transaction.update(ref, {"stop_reason": reason})

    transact(db, pause)
    log.alert(
        "email_config",
        "the SMTP settings do not work: the campaign is paused, its batch held",
        campaign_id=campaign_id,
        batch_id=batch_id,
        reason=message,
        kind=kind,
    )
