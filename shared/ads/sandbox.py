"""SANDBOX ad platform for the local stack: records what would be published, sends nothing.

Used only when settings.sandbox is on (never in production: Settings.check refuses
HERALD_SANDBOX there) and the workspace has no credentials for the platform. Each
step's request, built by the same plan code the real adapters use, is stored in
`ad_sandbox_records/{campaign_id}__{platform}__{step}` with a generated id
("sandbox-meta-campaign-…"); publications made this way carry `sandbox: true`.
Insights are deterministic made-up numbers, also marked sandbox.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from shared.ads.plans import GOOGLE_STEPS, META_STEPS, NO_IMAGE, google_plan, meta_params

if TYPE_CHECKING:
    from shared.ads.platform import PublishContext
    from shared.runtime import Runtime

RECORDS = "ad_sandbox_records"


class SandboxAdapter:
    sandbox = True

    def __init__(self, runtime: Runtime, platform: str) -> None:
        self._runtime = runtime
        self.platform = platform
        self.steps: tuple[str, ...] = META_STEPS if platform == "meta" else GOOGLE_STEPS

    def _ref(self, ctx: PublishContext, step: str) -> Any:
        doc_id = f"{ctx.campaign_id}__{self.platform}__{step}"
        return self._runtime.db.collection(RECORDS).document(doc_id)

    def find(self, step: str, ctx: PublishContext) -> str | None:
        snap = self._ref(ctx, step).get()
        return str(snap.get("external_id")) if snap.exists else None

    def create(self, step: str, ctx: PublishContext) -> str:
        plan = meta_params(step, ctx) if self.platform == "meta" else google_plan(step, ctx)
        if step == "image" and not plan["image_ref"]:
            return NO_IMAGE
        digest = hashlib.sha256(f"{ctx.campaign_id}:{self.platform}:{step}".encode()).hexdigest()
        external_id = f"sandbox-{self.platform}-{step}-{digest[:12]}"
        self._ref(ctx, step).set(
            {
                "workspace_id": ctx.campaign["workspace_id"],
                "campaign_id": ctx.campaign_id,
                "platform": self.platform,
                "step": step,
                "request": plan,
                "external_id": external_id,
                "sandbox": True,
                "created_at": self._runtime.clock.now(),
            }
        )
        return external_id

    def set_status(self, ctx: PublishContext, status: str) -> None:
        self._ref(ctx, "status").set(
            {
                "workspace_id": ctx.campaign["workspace_id"],
                "campaign_id": ctx.campaign_id,
                "platform": self.platform,
                "step": "status",
                "status": status,
                "sandbox": True,
                "created_at": self._runtime.clock.now(),
            }
        )

    def insights(self, ctx: PublishContext, since: str, until: str) -> list[dict[str, Any]]:
        rows = []
        day, last = date.fromisoformat(since), date.fromisoformat(until)
        while day <= last:
            seed = int(
                hashlib.sha256(f"{ctx.campaign_id}{self.platform}{day}".encode()).hexdigest(), 16
            )
            impressions = 500 + seed % 1500
            clicks = 5 + seed % 40
            spend = round(clicks * (0.4 + (seed % 100) / 100), 2)
            rows.append(
                {
                    "date": day.isoformat(),
                    "impressions": impressions,
                    "clicks": clicks,
                    "spend": spend,
                    "ctr": clicks / impressions,
                    "cpc": round(spend / clicks, 4),
                    "sandbox": True,
                }
            )
            day += timedelta(days=1)
        return rows
