"""Dispatch source: autopilot campaigns get a generate task once an hour, and soon
after they are created or changed.

Light module (no SDK imports). On a tick it reads one marker document
(`system/generate_autopilot`: the hour last scanned, and the newest campaign
`updated_at` seen), then either
- once per UTC hour (the tick that wins the claim `generate-autopilot-scan:<hour>`):
  pages through the active campaigns and enqueues a generate task for each whose
  `autopilot.enabled` is true; or
- on other ticks: looks only at campaigns updated since the marker (a single-field
  range query, usually empty), so a campaign whose autopilot was just switched on is
  planned within a minute instead of at the next hour.
The `autopilot` switch (a nested field) is checked here, not in the query: the scan
reads the active campaigns once an hour either way, and needs no index more.

A repeated task for a campaign and hour is harmless: the worker's run claim
(`generate-run:<campaign>:<hour>`) lets one of them work. A tick that dies mid-scan
leaves the remaining campaigns to the next hour's scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.generate.autopilot import run_key
from shared.log import get_logger
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext

log = get_logger("generate.dispatch")

MARKER = ("system", "generate_autopilot")
QUEUE_KIND = "generate"
PAGE = 200


class AutopilotSource:
    name = "generate_autopilot"

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        from shared.claims import claim_id, try_claim
        from shared.queries import build, pages
        from shared.queries.generate import ACTIVE_CAMPAIGNS, CHANGED_CAMPAIGNS

        db = ctx.runtime.db
        key = run_key(ctx.now)
        counts = {"campaigns": 0, "enqueued": 0}
        marker = db.collection(MARKER[0]).document(MARKER[1])
        snap = marker.get()
        state = snap.to_dict() if snap.exists else {}
        if state.get("run_key") != key:
            claim = claim_id("generate-autopilot-scan", key)
            if not try_claim(db, claim, owner="dispatch", now=ctx.now):
                return counts  # another tick scans this hour
            for page in pages(db, ACTIVE_CAMPAIGNS, page_size=PAGE, status="active"):
                for doc in page:
                    self._consider(ctx, doc, key, counts)
            marker.set({"run_key": key, "scanned_at": ctx.now, "seen_until": ctx.now, **counts})
            return counts
        seen = state.get("seen_until") or ctx.now
        changed = list(build(db, CHANGED_CAMPAIGNS, gt=seen).limit(PAGE).stream())
        for doc in changed:
            self._consider(ctx, doc, key, counts)
        if changed:
            marker.update({"seen_until": changed[-1].get("updated_at")})
        return counts

    @staticmethod
    def _consider(ctx: DispatchContext, doc: Any, key: str, counts: dict[str, int]) -> None:
        counts["campaigns"] += 1
        data = doc.to_dict()
        auto = data.get("autopilot")
        if data.get("status") != "active" or not isinstance(auto, dict):
            return
        if auto.get("enabled") is not True:
            return
        ctx.runtime.enqueuer.enqueue(
            TaskSpec(
                kind=QUEUE_KIND,
                target="generate",
                payload={
                    "mode": "autopilot",
                    "workspace_id": data.get("workspace_id"),
                    "campaign_id": doc.id,
                    "run_key": key,
                },
                task_id=safe_task_id("autopilot", doc.id, key),
            )
        )
        counts["enqueued"] += 1


SOURCE = AutopilotSource()
