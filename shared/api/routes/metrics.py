"""Dashboard, metrics, CSV exports and draft generation.

Thin: shared.metrics.dashboards / csv_export read rollups; shared.generate.service
writes drafts. The dashboard adds only two count() aggregations for the live
"sending / posting" indicator.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import Field

from shared.api.context import Ctx
from shared.api.models import ARRAY, OBJECT, Body, Query
from shared.api.router import router
from shared.errors import NotFound, ValidationError
from shared.tenancy import Role

router.plain_param("table", "table name (see the summary for the list)")


def _dash() -> Any:
    from shared.metrics import dashboards

    return dashboards


class OverviewQuery(Query):
    days: int = Field(7, ge=1, le=366, description="days shown, ending at `end`")
    end: date | None = Field(None, description="last day (workspace's local days); default today")


class TopQuery(Query):
    limit: int = Field(5, ge=1, le=50)


class GenerateIn(Body):
    references: ClassVar[dict[str, str]] = {"channels": "account_id"}
    count: int = Field(1, ge=1, le=20, description="drafts to write")
    topic: str | None = Field(None, description="force one of the campaign's topics")
    images: bool | None = Field(None, description="default: the campaign's image setting")
    channels: list[str] | None = Field(
        None,
        max_length=9,
        description="other accounts each draft also goes to (default: the campaign's "
        "channels; [] for its account alone): the drafts fit every network's limit (the "
        "strictest decides) and are stored as post groups",
    )


def _count(ctx: Ctx, collection: str, statuses: list[str]) -> int:
    from shared.queries import aggregate
    from shared.queries.core import COUNT_BY_STATUS

    spec = COUNT_BY_STATUS[collection]
    return int(aggregate(ctx.db, spec, workspace_id=ctx.ws, status=statuses)["count"])


@router.get(
    "/workspaces/{ws}/dashboard",
    summary="Dashboard: activity now, 7-day timeline and totals, top email campaigns",
    tag="metrics",
    query=OverviewQuery,
    response=OBJECT,
    description="`activity.posting` counts posts queued or publishing, `activity.sending` "
    "email campaigns sending; `scheduler.last_tick_at` says the scheduler is alive. "
    "Reads: one document per day shown plus a few; refresh every 5 s.",
)
def dashboard(ctx: Ctx) -> Any:
    q: OverviewQuery = ctx.query
    snap = ctx.db.collection("system").document("dispatch").get()
    tick = snap.to_dict() if snap.exists else {}
    return {
        "activity": {
            "posting": _count(ctx, "posts", ["queued", "publishing"]),
            "sending": _count(ctx, "email_campaigns", ["sending"]),
        },
        "scheduler": {"last_tick_at": tick.get("last_tick_at")},
        "overview": _dash().overview(ctx.runtime, ctx.ws, q.days, q.end),
        "top_email_campaigns": _dash().top_email_campaigns(ctx.runtime, ctx.ws, 5),
    }


@router.get(
    "/workspaces/{ws}/metrics/overview",
    summary="Per-day email, X and ads series with totals and rates",
    tag="metrics",
    query=OverviewQuery,
    response=OBJECT,
)
def metrics_overview(ctx: Ctx) -> Any:
    q: OverviewQuery = ctx.query
    return _dash().overview(ctx.runtime, ctx.ws, q.days, q.end)


@router.get(
    "/workspaces/{ws}/metrics/top-email-campaigns",
    summary="Email campaigns with the most recent engagement",
    tag="metrics",
    query=TopQuery,
    response=ARRAY,
)
def top_email_campaigns(ctx: Ctx) -> Any:
    return _dash().top_email_campaigns(ctx.runtime, ctx.ws, ctx.query.limit)


@router.get(
    "/workspaces/{ws}/metrics/read-budget",
    summary="This month's X read budget: limit, used, remaining",
    tag="metrics",
    response=OBJECT,
)
def read_budget(ctx: Ctx) -> Any:
    return _dash().read_budget(ctx.runtime, ctx.ws)


@router.get(
    "/workspaces/{ws}/posts/{post_id}/metrics",
    summary="A post's latest X metrics and their snapshots over time",
    tag="metrics",
    response=OBJECT,
)
def post_metrics(ctx: Ctx) -> Any:
    return _dash().post_metrics(ctx.runtime, ctx.ws, ctx.params["post_id"])


@router.get(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}/metrics",
    summary="An email campaign's opens, clicks, unsubscribes, bounces, rates, per day",
    tag="metrics",
    response=OBJECT,
)
def email_campaign_metrics(ctx: Ctx) -> Any:
    return _dash().email_campaign_metrics(ctx.runtime, ctx.ws, ctx.params["email_campaign_id"])


@router.get(
    "/workspaces/{ws}/x/accounts/{account_id}/best-time",
    summary="Best time to post: engagement by hour of week for this account",
    tag="metrics",
    response=OBJECT,
)
def best_time(ctx: Ctx) -> Any:
    return _dash().best_time(ctx.runtime, ctx.ws, ctx.params["account_id"])


@router.get(
    "/workspaces/{ws}/exports/{table}",
    summary="CSV export of a table (posts, post_metrics, x_accounts, campaigns, "
    "post_templates, series, email_campaigns, email_campaign_metrics, email_recipients, "
    "email_events, email_templates, contacts, contact_lists, candidates, segments, "
    "job_openings, ad_campaigns, ad_performance, daily_metrics)",
    tag="metrics",
    produces="text/csv",
    description="Streamed a page at a time; cells that a spreadsheet would run as a "
    "formula are neutralized. The file name comes in Content-Disposition.",
)
def export_table(ctx: Ctx) -> Any:
    from flask import Response, stream_with_context

    from shared.metrics import csv_export

    name = ctx.params["table"]
    try:
        csv_export.table(name)
    except ValidationError as exc:
        raise NotFound(exc.message, exc.details) from exc
    chunks = csv_export.export_csv(ctx.runtime, ctx.ws, name)
    filename = csv_export.filename(name, ctx.now().date())
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- generation -------------------------------------------------------------------------


@router.post(
    "/workspaces/{ws}/campaigns/{campaign_id}/generate",
    summary="Write drafts from the campaign's brief (Gemini, or the offline generator)",
    tag="generate",
    role=Role.EDITOR,
    body=GenerateIn,
    response=OBJECT,
    status=201,
    description="Drafts land as `draft`, or `approved` when the campaign does not require "
    "approval; `generator` says which writer was used (`offline` is labelled as such).",
)
def generate_drafts(ctx: Ctx) -> Any:
    from shared.generate.service import GenerateRequest, generate

    body: GenerateIn = ctx.body
    req = GenerateRequest(
        workspace_id=ctx.ws,
        campaign_id=ctx.params["campaign_id"],
        count=body.count,
        topic=body.topic,
        images=body.images,
        channels=None if body.channels is None else tuple(body.channels),
    )
    return generate(ctx.runtime, req).to_dict()


@router.get(
    "/workspaces/{ws}/generate/usage",
    summary="Generation usage counters (requests, tokens) of this workspace",
    tag="generate",
    response=OBJECT,
)
def generate_usage(ctx: Ctx) -> Any:
    from shared.generate.usage import get_usage

    return get_usage(ctx.db, ctx.ws)
