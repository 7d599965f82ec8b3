"""Dispatch source: ad campaigns scheduled to start within the window get their publish
tasks (one per platform, on the "ads" queue, schedule_time = start_at).

Light on purpose (dispatch cold start): no ad SDK is imported here. Each campaign's
publish round is claimed with `create()`, so overlapping ticks enqueue once; a claim
left by a tick that died before moving the campaign to "publishing" is retried after
STALE, which is safe because the publisher itself never creates an object twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from shared import claims
from shared.ads.campaigns import CAMPAIGNS, enqueue_publish
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext

log = get_logger("dispatch.ads")
BATCH = 200
STALE = timedelta(minutes=5)


class AdPublishSource:
    name = "ads"

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        from shared.queries import build
        from shared.queries.jobs import DUE_AD_CAMPAIGNS

        db = ctx.runtime.db
        counts = {"due": 0, "enqueued": 0, "skipped": 0}
        query = build(db, DUE_AD_CAMPAIGNS, status="scheduled", le=ctx.horizon).limit(BATCH)
        for snap in query.stream():
            doc = snap.to_dict()
            counts["due"] += 1
            key = claims.claim_id("ads", snap.id, "dispatch", str(doc.get("publish_round", 0)))
            won = claims.try_claim(
                db, key, owner="dispatch", now=ctx.now, workspace_id=doc.get("workspace_id")
            )
            if not won:
                claim = claims.get_claim(db, key) or {}
                if ctx.now - claim.get("claimed_at", ctx.now) < STALE:
                    counts["skipped"] += 1
                    continue
                log.warning("re-enqueuing a stale ad publish claim", campaign_id=snap.id)
            enqueue_publish(ctx.runtime, doc, snap.id)
            db.collection(CAMPAIGNS).document(snap.id).update(
                {"status": "publishing", "updated_at": ctx.now}
            )
            counts["enqueued"] += 1
        return counts


SOURCE = AdPublishSource()
