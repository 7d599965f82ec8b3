"""CSV export of every table, streamed page by page, safe to open in a spreadsheet.

`export_csv(runtime, workspace_id, table)` yields text chunks (one per page of
documents) for a streaming HTTP response; `export_rows` yields the header and then
lists of cells. Memory is bounded by one page whatever the table's size; each table is
a declared query (shared.queries.metrics.EXPORTS) read with cursors in its order.

Formula injection: a cell that starts with = + - @ tab or CR is evaluated by Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)`, `@SUM(...)`, DDE). Every text cell
that starts with one of them is prefixed with a single quote, which makes it text
(OWASP "CSV Injection"). Numbers Herald computes are written as numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError
from shared.metrics.dashboards import SERIES_FIELDS
from shared.metrics.model import (
    X_METRIC_FIELDS,
)

if TYPE_CHECKING:
    from shared.runtime import Runtime

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PAGE = 500


def neutralize(value: Any) -> Any:
    """The cell as written to CSV: text that a spreadsheet would evaluate gets a `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        if any(isinstance(v, dict | list) for v in value):
            text = json.dumps(value, default=str, ensure_ascii=False)
        else:
            text = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _path(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # dotted paths into the document; "id" is the document id
    # One document may stand for several rows (a batch holds many recipients).
    expand: Callable[[str, dict[str, Any]], Iterable[dict[str, Any]]] | None = None
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _recipients(doc_id: str, batch: dict[str, Any]) -> Iterable[dict[str, Any]]:
    outcomes = batch.get("outcomes") or {}
    for i, rcpt in enumerate(batch.get("recipients") or []):
        outcome = outcomes.get(str(i)) or {"status": "pending"}
        yield {
            "campaign_id": batch.get("campaign_id"),
            "batch_id": doc_id,
            "recipient_id": rcpt.get("id"),
            "email": rcpt.get("email"),
            "outcome": outcome,
        }


def _ad_row(row: dict[str, Any]) -> dict[str, Any]:
    from shared.metrics.ads_tasks import ads_row

    return ads_row(row)


def _campaign_row(row: dict[str, Any]) -> dict[str, Any]:
    from shared.metrics.dashboards import campaign_view

    return campaign_view(row)


def _contact_row(row: dict[str, Any]) -> dict[str, Any]:
    """Membership is a map (list id -> {added_at}); the column lists the ids."""
    return {**row, "list_ids": sorted(row.get("lists") or {})}


_X = tuple(X_METRIC_FIELDS)
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "posts",
            ("id", "account_id", "campaign_id", "status", "text", "parts", "due_at",
             "timezone", "published_at", "x_ids", "attempts", "last_error.reason",
             "estimated_cost_usd", "source", "sandbox",
             *(f"metrics_{k}" for k in (*_X, "engagements")), "metrics_at", "metrics_status",
             "created_at"),
        ),
        Table(
            "post_metrics",
            ("post_id", "account_id", "x_id", "at", *_X, "engagements", "source"),
        ),
        Table(
            "x_accounts",
            ("id", "handle", "kind", "tier", "status", "status_reason", "sandbox", "created_at"),
        ),
        Table(
            "email_campaigns",
            ("id", "name", "subject", "status", "list_id", "scheduled_at", "timezone", "total",
             "sent", "failed", "deferred", "suppressed", "unconfirmed", "cancelled",
             "created_at", "updated_at"),
        ),
        Table(
            "email_campaign_metrics",
            ("campaign_id", "sent", "failed", "opens", "unique_opens", "clicks",
             "unique_clicks", "unsubscribes", "bounces", "open_rate", "click_rate",
             "bounce_rate", "unsubscribe_rate", "machine_opens", "machine_clicks",
             "last_event_at"),
            derive=_campaign_row,
        ),
        Table(
            "email_recipients",
            ("campaign_id", "batch_id", "recipient_id", "email", "outcome.status",
             "outcome.code", "outcome.text", "outcome.reason", "outcome.transient",
             "outcome.at"),
            expand=_recipients,
        ),
        Table(
            "email_events",
            ("id", "campaign_id", "recipient_id", "type", "at", "url"),
        ),
        Table(
            "contacts",
            ("id", "email", "first_name", "last_name", "timezone", "fields", "list_ids",
             "created_at", "updated_at"),
            derive=_contact_row,
        ),
        Table(
            "candidates",
            ("id", "name", "email", "skills", "years_experience", "location", "education",
             "source", "updated_at"),
        ),
        Table(
            "job_openings",
            ("id", "title", "company", "location", "salary_min", "salary_max",
             "salary_currency", "salary_period", "apply_url", "status", "created_at"),
        ),
        Table(
            "ad_campaigns",
            ("id", "name", "opening_id", "platforms", "daily_budget", "currency", "status",
             "start_at", "end_at", "created_at"),
        ),
        Table(
            "ad_performance",
            ("date", "campaign_id", "platform", "impressions", "clicks", "spend", "currency",
             "ctr", "cpc"),
            derive=_ad_row,
        ),
        Table("daily_metrics", ("date", *SERIES_FIELDS)),
        # The admin page's other tables, so each has its export button too.
        Table(
            "campaigns",
            ("id", "name", "status", "timezone", "account_id", "description", "hashtags",
             "approval_required", "autopilot.enabled", "autopilot.posts_per_day", "created_at"),
        ),
        Table("post_templates", ("id", "name", "text", "placeholders", "created_at", "updated_at")),
        Table(
            "series",
            ("id", "name", "kind", "account_id", "campaign_id", "texts", "every", "every_hours",
             "start_at", "end_at", "timezone", "next_at", "active"),
        ),
        Table("contact_lists", ("id", "name", "created_at")),
        Table("email_templates", ("id", "name", "subject", "defaults", "created_at", "updated_at")),
        Table(
            "segments",
            ("id", "run_id", "label", "size", "share", "profile.median_years",
             "profile.top_skills", "profile.top_locations", "created_at"),
        ),
    )
}  # fmt: skip


def table(name: str) -> Table:
    spec = TABLES.get(name)
    if spec is None:
        raise ValidationError(
            f"unknown table {name!r}; one of {', '.join(sorted(TABLES))}", {"table": name}
        )
    return spec


def export_rows(
    runtime: Runtime, workspace_id: str, name: str, page_size: int = PAGE
) -> Iterator[list[Any]]:
    """The header, then one list of neutralized cells per row, a page at a time."""
    from shared.queries import pages
    from shared.queries.metrics import EXPORTS

    spec = table(name)
    yield [neutralize(c) for c in spec.columns]
    rows_of = pages(runtime.db, EXPORTS[name], page_size=page_size, workspace_id=workspace_id)
    for page in rows_of:
        for snap in page:
            doc = snap.to_dict()
            rows = spec.expand(snap.id, doc) if spec.expand else [{**doc, "id": snap.id}]
            for row in rows:
                out = spec.derive(row) if spec.derive else row
                yield [neutralize(_path(out, c)) for c in spec.columns]


def export_csv(
    runtime: Runtime, workspace_id: str, name: str, page_size: int = PAGE
) -> Iterator[str]:
    """CSV text in chunks of about a page; the first chunk starts with a UTF-8 BOM so
    Excel reads the accents right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    for count, row in enumerate(export_rows(runtime, workspace_id, name, page_size), 1):
        writer.writerow(row)
        if count % page_size == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def filename(name: str, today: date) -> str:
    table(name)
    return f"herald-{name}-{today.isoformat()}.csv"
