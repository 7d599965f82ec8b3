"""Dispatch source: autopilot campaigns get a generate task once an hour.

Light module (no SDK imports): runs on every dispatch tick. Reads the campaigns with
`autopilot_enabled == true` (an equality query on a top-level field), and for each
active one not yet handled in the current hour enqueues a task to the generate
function, then notes the hour on the campaign (`autopilot_run_key`). Two overlapping
ticks may both enqueue; the worker's run claim (`generate-run:<campaign>:<hour>`) lets
only one of them work, and a worker that dies leaves the slots for the next hour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.generate.autopilot import run_key
from shared.log import get_logger
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext

log = get_logger("generate.dispatch")

CAMPAIGNS = "campaigns"
QUEUE_KIND = "generate"


class AutopilotSource:
    name = "generate_autopilot"

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        db = ctx.runtime.db
        key = run_key(ctx.now)
        counts = {"campaigns": 0, "enqueued": 0}
        query = db.collection(CAMPAIGNS).where(filter=FieldFilter("autopilot_enabled", "==", True))
        for snap in query.stream():
            counts["campaigns"] += 1
            data = snap.to_dict()
            if data.get("status") != "active" or data.get("autopilot_run_key") == key:
                continue
            ctx.runtime.enqueuer.enqueue(
                TaskSpec(
                    kind=QUEUE_KIND,
                    target="generate",
                    payload={
                        "mode": "autopilot",
                        "workspace_id": data.get("workspace_id"),
                        "campaign_id": snap.id,
                        "run_key": key,
                    },
                    task_id=safe_task_id("autopilot", snap.id, key),
                )
            )
            snap.reference.update({"autopilot_run_key": key})
            counts["enqueued"] += 1
        return counts


SOURCE = AutopilotSource()
