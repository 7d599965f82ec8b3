"""Job openings: `job_openings/{id}` with workspace_id, title, company, location
{country, region, city}, salary_min/salary_max/salary_currency/salary_period, description,
apply_url, status (draft | open | closed | archived), created_at, updated_at, sort_key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from shared.errors import Conflict, ValidationError
from shared.jobs.store import checked_status, get_or_404, insert, page, public
from shared.queries import jobs as q

if TYPE_CHECKING:
    from shared.runtime import Runtime

OPENINGS = "job_openings"
STATUSES = ("draft", "open", "closed", "archived")
SALARY_PERIODS = ("hour", "day", "week", "month", "year")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _text(body: dict[str, Any], name: str, max_len: int, required: bool) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{name} is required", {"field": name})
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be text", {"field": name})
    value = value.strip()
    if len(value) > max_len:
        raise ValidationError(f"{name} is longer than {max_len} characters", {"field": name})
    return value


def check_location(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(
            "location must be an object such as {'country': 'US', 'city': 'Austin'}",
            {"field": "location"},
        )
    country = str(value.get("country") or "").strip().upper()
    if not _COUNTRY.match(country):
        raise ValidationError(
            "location.country must be a two-letter ISO country code (e.g. US, FR)",
            {"field": "location.country"},
        )
    out: dict[str, Any] = {"country": country}
    for key in ("region", "city"):
        if value.get(key):
            out[key] = str(value[key]).strip()[:120]
    out["remote"] = bool(value.get("remote", False))
    return out


def _salary(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("salary_min", "salary_max"):
        if key in body:
            raw = body[key]
            if raw is None:
                out[key] = None
                continue
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
                raise ValidationError(f"{key} must be a non-negative number", {"field": key})
            out[key] = raw
    if "salary_currency" in body:
        cur = str(body["salary_currency"] or "").strip().upper()
        if cur and not _CURRENCY.match(cur):
            raise ValidationError(
                "salary_currency must be a three-letter ISO code", {"field": "salary_currency"}
            )
        out["salary_currency"] = cur or None
    if "salary_period" in body:
        period = body["salary_period"]
        if period is not None and period not in SALARY_PERIODS:
            raise ValidationError(
                f"salary_period must be one of {', '.join(SALARY_PERIODS)}",
                {"field": "salary_period"},
            )
        out["salary_period"] = period
    merged = {**current, **out}
    lo, hi = merged.get("salary_min"), merged.get("salary_max")
    if lo is not None and hi is not None and lo > hi:
        raise ValidationError("salary_min is larger than salary_max", {"field": "salary_min"})
    if (lo is not None or hi is not None) and not merged.get("salary_currency"):
        raise ValidationError("a salary needs salary_currency", {"field": "salary_currency"})
    return out


def _apply_url(value: Any) -> str:
    url = str(value or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 2000:
        raise ValidationError("apply_url must be an http(s) address", {"field": "apply_url"})
    return url


def _fields(body: dict[str, Any], current: dict[str, Any], creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, max_len, required in (
        ("title", 200, True),
        ("company", 200, True),
        ("description", 5000, False),
    ):
        if creating or name in body:
            out[name] = _text(body, name, max_len, required)
    if creating or "location" in body:
        out["location"] = check_location(body.get("location"))
    if creating or "apply_url" in body:
        out["apply_url"] = _apply_url(body.get("apply_url"))
    if creating or "status" in body:
        status = body.get("status", "draft")
        if status not in STATUSES:
            raise ValidationError(
                f"status must be one of {', '.join(STATUSES)}", {"field": "status"}
            )
        out["status"] = status
    out.update(_salary(body, current))
    unknown = set(body) - {
        "title", "company", "description", "location", "apply_url", "status",
        "salary_min", "salary_max", "salary_currency", "salary_period",
    }  # fmt: skip
    if unknown:
        raise ValidationError(
            f"unknown field(s): {', '.join(sorted(unknown))}", {"fields": sorted(unknown)}
        )
    return out


def create_opening(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "salary_min": None,
        "salary_max": None,
        "salary_currency": None,
        "salary_period": None,
        **_fields(body, {}, creating=True),
    }
    return insert(runtime, OPENINGS, workspace_id, fields)


def get_opening(runtime: Runtime, workspace_id: str, opening_id: str) -> dict[str, Any]:
    return public(get_or_404(runtime.db, OPENINGS, workspace_id, opening_id, "job opening"))


def update_opening(
    runtime: Runtime, workspace_id: str, opening_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    current = get_or_404(runtime.db, OPENINGS, workspace_id, opening_id, "job opening")
    changes = _fields(body, current, creating=False)
    changes["updated_at"] = runtime.clock.now()
    runtime.db.collection(OPENINGS).document(opening_id).update(changes)
    return public({**current, **changes})


def list_openings(
    runtime: Runtime,
    workspace_id: str,
    *,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    status = checked_status(status, STATUSES)
    return page(runtime.db, q.OPENINGS, workspace_id, after=after, limit=limit, status=status)


def delete_opening(runtime: Runtime, workspace_id: str, opening_id: str) -> None:
    """Deleting is refused while an ad campaign still uses the opening (archive it instead)."""
    from shared.queries import build

    get_or_404(runtime.db, OPENINGS, workspace_id, opening_id, "job opening")
    spec = q.OPENING_AD_CAMPAIGNS
    users = build(runtime.db, spec, workspace_id=workspace_id, opening_id=opening_id).limit(1)
    users = users.stream()
    if any(True for _ in users):
        raise Conflict(
            "this job opening has ad campaigns; archive the opening instead of deleting it",
            {"opening_id": opening_id},
        )
    runtime.db.collection(OPENINGS).document(opening_id).delete()
