"""The publish_ads worker: publish a campaign on one platform, sync its status, pull insights.

Exactly-once creation under at-least-once delivery:
- each step's external id is stored on `ad_publications/{campaign}__{platform}` as soon
  as the platform returns it (field ext_<step>), and a retry resumes at the first step
  without one;
- before creating, a worker claims the step with a `create()` claim document
  (`ads:<campaign>:<platform>:<step>:<n>`); a concurrent delivery that loses the claim
  backs off while the claim is fresh, and takes over with claim n+1 once it is stale
  or released;
- whenever an earlier attempt's outcome is unknown (n > 1), the object is first looked
  up by its deterministic name, so a timeout after a successful create never yields a
  second campaign.
Rate limits defer the task (re-enqueued with schedule_time), they never fail it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from shared import claims
from shared.ads.accounts import get_account, load_credentials
from shared.ads.campaigns import CAMPAIGNS, PUBLICATIONS, publication_id
from shared.ads.platform import Adapter, PublishContext, RateLimited, Refused, Transient
from shared.errors import ValidationError
from shared.log import get_logger
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.runtime import Runtime

log = get_logger("publish_ads")
LEASE = timedelta(minutes=3)  # a claim older than this, unreleased, belonged to a dead worker
MAX_UNKNOWN = 5  # attempts that died or timed out before we stop and report the step
MAX_CLAIMS = 500  # rate-limited attempts use claims too; they never make us give up
MAX_DEFER = timedelta(hours=6)
INSIGHTS = "ad_insights"


class Busy(Exception):
    """Another delivery is creating this step right now; retry later."""


def default_adapter(runtime: Runtime, platform: str, account: dict[str, Any] | None) -> Adapter:
    """The real adapter for a connected account, else the sandbox (local stack only)."""
    if account is None:
        if runtime.settings.sandbox and not runtime.settings.is_production:
            from shared.ads.sandbox import SandboxAdapter

            return SandboxAdapter(runtime, platform)
        raise Refused(
            f"no {platform} ad account is connected to this workspace; connect one in "
            "Settings > Ad accounts"
        )
    credentials = load_credentials(runtime, account)
    if platform == "meta":
        from shared.ads.meta import MetaAdapter

        workspace_id = str(account["workspace_id"])

        def load_image(ref: str) -> bytes:
            from shared import media

            return media.resolve(runtime, workspace_id, ref)[0]

        return MetaAdapter(credentials, account, load_image)
    from shared.ads.google import GoogleAdapter, make_client

    return GoogleAdapter(make_client(credentials, account), account["account_id"])


class Publisher:
    def __init__(
        self,
        runtime: Runtime,
        adapter_factory: Callable[[Runtime, str, dict[str, Any] | None], Adapter] | None = None,
    ) -> None:
        self.runtime = runtime
        self.factory = adapter_factory or default_adapter

    # -- documents --------------------------------------------------------------------

    def _campaign(self, workspace_id: str, campaign_id: str) -> dict[str, Any] | None:
        snap = self.runtime.db.collection(CAMPAIGNS).document(campaign_id).get()
        if not snap.exists or snap.get("workspace_id") != workspace_id:
            return None
        data: dict[str, Any] = snap.to_dict()
        return data

    def _pub_ref(self, campaign_id: str, platform: str) -> Any:
        return self.runtime.db.collection(PUBLICATIONS).document(
            publication_id(campaign_id, platform)
        )

    def _pub(self, campaign_id: str, platform: str) -> dict[str, Any]:
        snap = self._pub_ref(campaign_id, platform).get()
        return snap.to_dict() if snap.exists else {}

    def _context(
        self, campaign_id: str, campaign: dict[str, Any], platform: str
    ) -> tuple[PublishContext, dict[str, Any]]:
        pub = self._pub(campaign_id, platform)
        ids = {k[4:]: v for k, v in pub.items() if k.startswith("ext_") and v}
        account = get_account(self.runtime, campaign["workspace_id"], platform)
        ctx = PublishContext(campaign_id, campaign, account, ids, now=self.runtime.clock.now())
        return ctx, pub

    def _adapter(self, platform: str, ctx: PublishContext, pub: dict[str, Any]) -> Adapter:
        """A publication made in the sandbox stays there, even if credentials appear later."""
        if pub.get("sandbox"):
            if not self.runtime.settings.sandbox:
                raise Refused("this campaign was published in the sandbox; it has no real ads")
            from shared.ads.sandbox import SandboxAdapter

            return SandboxAdapter(self.runtime, platform)
        return self.factory(self.runtime, platform, ctx.account)

    # -- steps ------------------------------------------------------------------------

    def _run_step(self, adapter: Adapter, ctx: PublishContext, platform: str, step: str) -> str:
        db, now = self.runtime.db, self.runtime.clock.now()
        base = f"ads:{ctx.campaign_id}:{platform}:{step}"
        unknown = 0  # earlier attempts that may have created the object
        for n in range(1, MAX_CLAIMS + 1):
            key = f"{base}:{n}"
            if not claims.try_claim(
                db, key, owner="publish_ads", now=now, workspace_id=ctx.campaign["workspace_id"]
            ):
                claim = claims.get_claim(db, key) or {}
                claimed_at = claim.get("claimed_at")
                if not claim.get("released") and claimed_at and now - claimed_at <= LEASE:
                    raise Busy(f"{platform} {step} is being created by another delivery")
                # That attempt ended or died: take over with the next claim. Definite
                # refusals (rate limits included) do not count towards giving up.
                if claim.get("outcome") != "not_created":
                    unknown += 1
                    if unknown > MAX_UNKNOWN:
                        break
                continue
            try:
                found = adapter.find(step, ctx) if unknown else None
                external_id = found or adapter.create(step, ctx)
            except (RateLimited, Refused, ValidationError) as exc:
                # Refused before sending, or the platform answered: nothing was created.
                self._release(key, "not_created", exc)
                raise
            except Exception as exc:
                self._release(key, "unknown", exc)
                raise
            # Stored before anything else: from here on no retry creates it again.
            self._pub_ref(ctx.campaign_id, platform).update(
                {f"ext_{step}": external_id, "updated_at": self.runtime.clock.now()}
            )
            ctx.ids[step] = external_id
            log.info("ad object created", platform=platform, step=step, external_id=external_id,
                     campaign_id=ctx.campaign_id, reused=bool(found))  # fmt: skip
            return external_id
        raise Refused(f"{platform} {step}: gave up after {unknown} attempts of unknown outcome")

    def _release(self, key: str, outcome: str, exc: BaseException) -> None:
        self.runtime.db.collection(claims.CLAIMS).document(key).update(
            {"released": True, "outcome": outcome, "error": f"{type(exc).__name__}: {exc}"[:300]}
        )

    # -- outcomes ---------------------------------------------------------------------

    def _defer(
        self, payload: dict[str, Any], pub_field: dict[str, Any], exc: RateLimited
    ) -> dict[str, Any]:
        now = self.runtime.clock.now()
        wait = min(timedelta(seconds=max(exc.retry_after_s, 1)), MAX_DEFER)
        at = now + wait
        platform, campaign_id = payload["platform"], payload["campaign_id"]
        count = int(self._pub(campaign_id, platform).get("defer_count", 0)) + 1
        self._pub_ref(campaign_id, platform).set(
            {**pub_field, "next_attempt_at": at, "defer_count": count, "last_error": str(exc),
             "updated_at": now},
            merge=True,
        )  # fmt: skip
        self.runtime.enqueuer.enqueue(
            TaskSpec(
                kind="ads",
                target="publish_ads",
                payload=payload,
                schedule_time=at,
                task_id=safe_task_id(
                    "addefer", campaign_id, platform, payload["action"], str(count)
                ),
            )
        )
        log.warning("ad platform rate limit: deferred", platform=platform, campaign_id=campaign_id,
                    retry_at=at.isoformat(), reason=str(exc))  # fmt: skip
        return {"ok": True, "outcome": "deferred", "retry_at": at.isoformat()}

    def fail(self, campaign_id: str, platform: str, reason: str) -> dict[str, Any]:
        now = self.runtime.clock.now()
        self._pub_ref(campaign_id, platform).set(
            {"status": "failed", "error": reason, "updated_at": now}, merge=True
        )
        self.runtime.db.collection(CAMPAIGNS).document(campaign_id).update(
            {"status": "failed", "error": f"{platform}: {reason}", "updated_at": now}
        )
        log.alert("ads_publish_failed", "ad campaign could not be published", platform=platform,
                  campaign_id=campaign_id, reason=reason)  # fmt: skip
        return {"ok": False, "outcome": "failed", "error": reason}

    # -- actions ----------------------------------------------------------------------

    @staticmethod
    def _target(payload: dict[str, Any]) -> tuple[str, str, str]:
        return payload["workspace_id"], payload["campaign_id"], payload["platform"]

    def publish(self, payload: dict[str, Any]) -> dict[str, Any]:
        ws, campaign_id, platform = self._target(payload)
        campaign = self._campaign(ws, campaign_id)
        if campaign is None:
            return {"ok": False, "outcome": "missing"}
        if campaign["status"] in ("archived", "draft") and not self._pub(campaign_id, platform):
            # Archived, or paused back to a draft, before it started: nothing to publish.
            return {"ok": True, "outcome": "skipped", "status": campaign["status"]}
        ctx, pub = self._context(campaign_id, campaign, platform)
        if pub.get("status") in ("live", "paused", "archived", "failed"):
            return {"ok": True, "outcome": "already", "status": pub["status"]}
        try:
            adapter = self._adapter(platform, ctx, pub)
        except Refused as exc:
            self._pub_ref(campaign_id, platform).set(
                {"workspace_id": ws, "campaign_id": campaign_id, "platform": platform}, merge=True
            )
            return self.fail(campaign_id, platform, str(exc))
        start = {
            "status": "publishing",
            "sandbox": adapter.sandbox,
            "updated_at": self.runtime.clock.now(),
        }
        self._pub_ref(campaign_id, platform).set(
            {"workspace_id": ws, "campaign_id": campaign_id, "platform": platform, **start},
            merge=True,
        )
        try:
            for step in adapter.steps:
                if step in ctx.ids:
                    continue
                if (self._campaign(ws, campaign_id) or campaign).get("status") == "archived":
                    break  # archived mid-publish: create nothing more
                self._run_step(adapter, ctx, platform, step)
            status = (self._campaign(ws, campaign_id) or campaign).get("desired_status", "active")
            if "campaign" in ctx.ids:
                adapter.set_status(ctx, status)
        except RateLimited as exc:
            return self._defer(payload, {"status": "deferred"}, exc)
        except (Refused, ValidationError) as exc:
            return self.fail(campaign_id, platform, str(exc))
        return self._finish(ws, campaign_id, platform, status)

    def _finish(self, ws: str, campaign_id: str, platform: str, status: str) -> dict[str, Any]:
        now = self.runtime.clock.now()
        pub_status = {"active": "live", "paused": "paused", "archived": "archived"}[status]
        self._pub_ref(campaign_id, platform).update(
            {"status": pub_status, "applied_status": status, "published_at": now, "updated_at": now,
             "error": None, "next_attempt_at": None}
        )  # fmt: skip
        campaign = self._campaign(ws, campaign_id) or {}
        done = all(
            self._pub(campaign_id, p).get("status") in ("live", "paused", "archived")
            for p in campaign.get("platforms", [])
        )
        if done and campaign.get("status") == "publishing":
            final = {"active": "active", "paused": "paused", "archived": "archived"}[
                campaign.get("desired_status", "active")
            ]
            self.runtime.db.collection(CAMPAIGNS).document(campaign_id).update(
                {"status": final, "published_at": now, "updated_at": now}
            )
        log.info("ad campaign published", platform=platform, campaign_id=campaign_id, status=status)
        return {"ok": True, "outcome": "published", "status": pub_status}

    def set_status(self, payload: dict[str, Any]) -> dict[str, Any]:
        ws, campaign_id, platform = self._target(payload)
        campaign = self._campaign(ws, campaign_id)
        if campaign is None:
            return {"ok": False, "outcome": "missing"}
        ctx, pub = self._context(campaign_id, campaign, platform)
        if "campaign" not in ctx.ids or pub.get("status") in (None, "publishing", "deferred"):
            # Not on the platform yet: the publish run applies desired_status at its end.
            return {"ok": True, "outcome": "pending_publish"}
        if pub.get("applied_status") == "archived":
            return {"ok": True, "outcome": "already", "status": "archived"}
        desired = campaign.get("desired_status", "active")
        try:
            adapter = self._adapter(platform, ctx, pub)
            adapter.set_status(ctx, desired)
        except RateLimited as exc:
            return self._defer(payload, {}, exc)
        except Refused as exc:
            reason = f"could not set {desired}: {exc}"
            self._pub_ref(campaign_id, platform).update({"error": reason})
            log.alert("ads_status_sync_failed", reason, platform=platform, campaign_id=campaign_id)
            return {"ok": False, "outcome": "failed", "error": reason}
        pub_status = {"active": "live", "paused": "paused", "archived": "archived"}[desired]
        now = self.runtime.clock.now()
        self._pub_ref(campaign_id, platform).update(
            {"status": pub_status, "applied_status": desired, "updated_at": now, "error": None}
        )
        return {"ok": True, "outcome": "synced", "status": pub_status}

    def insights(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The metrics team's contract (shared.metrics.ads_tasks): one day, every platform."""
        ws, campaign_id, day = payload["workspace_id"], payload["ad_campaign_id"], payload["date"]
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(day)):
            raise ValueError(f"date must be YYYY-MM-DD, got {day!r}")
        date.fromisoformat(day)  # and a real calendar day
        campaign = self._campaign(ws, campaign_id)
        if campaign is None:
            return {"ok": False, "outcome": "missing"}
        written = 0
        for platform in campaign["platforms"]:
            ctx, pub = self._context(campaign_id, campaign, platform)
            if "campaign" not in ctx.ids:
                continue  # never reached the platform: nothing to report
            try:
                adapter = self._adapter(platform, ctx, pub)
                rows = adapter.insights(ctx, day, day)
            except RateLimited as exc:
                return self._defer(
                    {**payload, "platform": platform, "campaign_id": campaign_id}, {}, exc
                )
            now = self.runtime.clock.now()
            if not rows:
                rows = [{"date": day, "impressions": 0, "clicks": 0, "spend": 0.0}]
            for row in rows:
                doc = {
                    "workspace_id": ws,
                    "campaign_id": campaign_id,
                    "platform": platform,
                    "date": row["date"],
                    "impressions": int(row["impressions"]),
                    "clicks": int(row["clicks"]),
                    "spend": float(row["spend"]),
                    "currency": campaign.get("currency"),
                    "sandbox": bool(pub.get("sandbox")),
                    "updated_at": now,
                }
                doc_id = f"{campaign_id}__{platform}__{row['date']}"
                self.runtime.db.collection(INSIGHTS).document(doc_id).set(doc)
                written += 1
        return {"ok": True, "outcome": "insights", "rows": written}


def handle(
    runtime: Runtime,
    payload: dict[str, Any],
    adapter_factory: Callable[[Runtime, str, dict[str, Any] | None], Adapter] | None = None,
) -> dict[str, Any]:
    """Route one task. Raises Busy / Transient (the caller answers 5xx: Cloud Tasks retries)."""
    publisher = Publisher(runtime, adapter_factory)
    action = payload.get("action")
    if action == "publish":
        return publisher.publish(payload)
    if action == "set_status":
        return publisher.set_status(payload)
    if action == "insights":
        return publisher.insights(payload)
    raise ValueError(f"unknown action {action!r}")


__all__ = ["Busy", "Transient", "handle"]
