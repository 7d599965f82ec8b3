"""Resend failed: queue again only the recipients whose failure was transient.

Round `g` (campaign.resend_gen) is guarded by the claim `email-resend:{campaign}:{g}`.
It first marks each picked outcome with `resent_in` (the new batch id, computed
deterministically), then creates the new batches with create(), then moves the
counters and bumps resend_gen in one write. A round that died midway is redone
with the same `g` and the same ids, so nobody is queued twice.

The new batches take their slots in the quota every batch of the workspace shares
(shared.email.quota): a resend never sends faster than the per-minute rate or past
the day's caps, whatever regular and retry batches have reserved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.claims import get_claim, try_claim
from shared.email.model import BATCHES, CAMPAIGNS
from shared.email.pacing import read_side
from shared.email.queue import enqueue_batch
from shared.email.quota import reserve
from shared.errors import Conflict, NotFound
from shared.firestore import is_already_exists
from shared.queries import pages
from shared.queries.email import CAMPAIGN_BATCHES
from shared.tenancy import scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

LEASE = timedelta(minutes=10)


def resend_failed(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    from google.cloud import firestore

    db = runtime.db
    campaign = scoped_get(db, CAMPAIGNS, workspace_id, campaign_id)
    if campaign is None:
        raise NotFound("no such campaign")
    if campaign["status"] in ("draft", "scheduled", "cancelled"):
        raise Conflict(f"a {campaign['status']} campaign has nothing to resend")
    gen = int(campaign.get("resend_gen") or 0)
    now = runtime.clock.now()
    key = f"email-resend:{campaign_id}:{gen}"
    if not try_claim(db, key, owner="resend", now=now, workspace_id=workspace_id):
        claim = get_claim(db, key) or {}
        if claim.get("claimed_at") and claim["claimed_at"] > now - LEASE:
            raise Conflict("a resend of this campaign is already running")
    prefix = f"{campaign_id}__s{gen}_"
    limits = read_side(db, workspace_id).limits()
    size = limits.batch_size(runtime.settings.email_batch_size, now.date())
    picked: list[dict[str, Any]] = []
    for page in pages(db, CAMPAIGN_BATCHES, campaign_id=campaign_id):
        for doc in page:
            if doc.id.startswith(prefix):
                continue
            batch = doc.to_dict()
            outcomes = dict(batch.get("outcomes") or {})
            changed = False
            for i, rcpt in enumerate(batch.get("recipients") or []):
                out = outcomes.get(str(i)) or {}
                if out.get("status") != "failed" or not out.get("transient"):
                    continue
                if out.get("resent_in") and not str(out["resent_in"]).startswith(prefix):
                    continue
                target = f"{prefix}{len(picked) // size:04d}"
                if out.get("resent_in") != target:
                    outcomes[str(i)] = {**out, "resent_in": target}
                    changed = True
                picked.append(rcpt)
            if changed:
                doc.reference.update({"outcomes": outcomes})
    batch_ids = []
    groups = [picked[k : k + size] for k in range(0, len(picked), size)]
    slots = reserve(db, workspace_id, [(len(g), now) for g in groups], limits, now)
    for k, (group, slot) in zip(
        range(0, len(picked), size), zip(groups, slots, strict=True), strict=True
    ):
        bid = f"{prefix}{k // size:04d}"
        batch_ids.append(bid)
        try:
            db.collection(BATCHES).document(bid).create(
                {
                    "workspace_id": workspace_id,
                    "campaign_id": campaign_id,
                    "key": bid,
                    "kind": "resend",
                    "attempt": 0,
                    "status": "queued",
                    "due_at": slot,
                    "enqueued_at": now,
                    "recipients": group,
                    "outcomes": {},
                    "run_gen": 0,
                }
            )
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            continue
        enqueue_batch(runtime, bid, workspace_id, slot, campaign_id, recipients=group)
    update: dict[str, Any] = {"resend_gen": gen + 1, "updated_at": now}
    if picked:
        update |= {
            "failed": firestore.Increment(-len(picked)),
            "batches_total": firestore.Increment(len(batch_ids)),
            "status": "sending",
        }
    db.collection(CAMPAIGNS).document(campaign_id).update(update)
    return {"requeued": len(picked), "batches": batch_ids}
