"""Templates and campaigns: CRUD, scheduling, pause/resume/cancel, progress, outcomes.

`email_campaigns/{id}`: workspace_id, name, subject, html, text, list_id, track_opens,
track_clicks, defaults, version, links (fixed when scheduled: the only click targets),
status (draft | scheduled | sending | paused | done | cancelled), paused_from,
scheduled_at, timezone, local_hour, due_at, expanded, expand_after, next_seq, counters
(total, sent, failed, deferred, suppressed, unconfirmed, cancelled, batches_total,
batches_done; top-level so they can be incremented), created_at, updated_at.

The counters on the campaign hold what the dispatcher, resend and cancel add; what the
worker learns stays on each finished batch (`model.TALLY_FIELDS`) and progress adds
their sum, one aggregation query (one read per 1,000 batches), so sending a batch never
writes the campaign document.

Over 400 lines because every lifecycle step (schedule, pause, resume, cancel, resend)
checks and moves the same status and counters inside its transaction; one module keeps
that table in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from shared.docsize import ensure_fits
from shared.email.model import (
    CAMPAIGNS,
    CONTACT_LISTS,
    TALLY_FIELDS,
    TEMPLATES,
    public,
)
from shared.email.render import check_template, extract_links
from shared.errors import Conflict, NotFound, ValidationError
from shared.queries import aggregate_together, build, pages
from shared.queries import email as q
from shared.tenancy import new_id, scoped_get
from shared.zones import find_zone

if TYPE_CHECKING:
    from shared.runtime import Runtime

COUNTERS = (
    "total",
    "sent",
    "failed",
    "deferred",
    "suppressed",
    "unconfirmed",
    "cancelled",
    "batches_total",
    "batches_done",
)
TERMINAL = ("sent", "failed", "suppressed", "unconfirmed", "cancelled")
EDITABLE = ("draft",)
# The earliest UTC offset on Earth: local-hour campaigns start expanding when it is due there.
EARLIEST_OFFSET = timezone(timedelta(hours=14))


def _text_field(body: dict[str, Any], key: str, limit: int, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be text", {"field": key})
    if len(value) > limit:
        raise ValidationError(f"{key} is longer than {limit} characters", {"field": key})
    return value


def _content(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, limit in (("name", 200), ("subject", 998), ("html", 200_000), ("text", 200_000)):
        if partial and key not in body:
            continue
        out[key] = _text_field(body, key, limit)
        if key != "name":
            check_template(out[key], key)
    if "subject" in out and ("\n" in out["subject"] or "\r" in out["subject"]):
        raise ValidationError("subject must be one line", {"field": "subject"})
    if "defaults" in body or not partial:
        defaults = body.get("defaults") or {}
        if not isinstance(defaults, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in defaults.items()
        ):
            raise ValidationError("defaults must map variable names to values")
        out["defaults"] = defaults
    return out


# -- templates ---------------------------------------------------------------------------


def create_template(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    data = _content(body, partial=False)
    if not data["name"].strip():
        raise ValidationError("name is required", {"field": "name"})
    now = runtime.clock.now()
    data |= {"workspace_id": workspace_id, "created_at": now, "updated_at": now}
    template_id = new_id()
    ensure_fits(f"{TEMPLATES}/{template_id}", data, "template")
    runtime.db.collection(TEMPLATES).document(template_id).set(data)
    return public(template_id, data)


def get_template(runtime: Runtime, workspace_id: str, template_id: str) -> dict[str, Any]:
    data = scoped_get(runtime.db, TEMPLATES, workspace_id, template_id)
    if data is None:
        raise NotFound("no such template")
    return public(data.pop("id"), data)


def list_templates(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    docs = build(runtime.db, q.TEMPLATES, workspace_id=workspace_id).stream()
    return sorted((public(d.id, d.to_dict()) for d in docs), key=lambda t: t["name"])


def update_template(
    runtime: Runtime, workspace_id: str, template_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    current = get_template(runtime, workspace_id, template_id)
    data = _content(body, partial=True) | {"updated_at": runtime.clock.now()}
    ensure_fits(f"{TEMPLATES}/{template_id}", {**current, **data}, "template")
    runtime.db.collection(TEMPLATES).document(template_id).update(data)
    return get_template(runtime, workspace_id, template_id)


def delete_template(runtime: Runtime, workspace_id: str, template_id: str) -> None:
    get_template(runtime, workspace_id, template_id)
    runtime.db.collection(TEMPLATES).document(template_id).delete()


# -- campaigns ---------------------------------------------------------------------------


def _load(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    data = scoped_get(runtime.db, CAMPAIGNS, workspace_id, campaign_id)
    if data is None:
        raise NotFound("no such campaign")
    return data


def _view(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    out = public(data["id"], {k: v for k, v in data.items() if k != "id"})
    out["progress"] = progress_of(runtime, data)
    return out


def batch_tallies(runtime: Runtime, campaign_id: str) -> dict[str, int]:
    """The finished batches' tallies summed (two aggregation queries, one snapshot)."""
    parts = [(spec, {"campaign_id": campaign_id}) for spec in q.BATCH_TALLIES]
    sums = aggregate_together(runtime.db, parts)
    return {alias: int(sums.get(alias, 0)) for alias in TALLY_FIELDS}


def progress_of(runtime: Runtime, data: dict[str, Any]) -> dict[str, int]:
    counts = {k: int(data.get(k) or 0) for k in COUNTERS}
    if data.get("status") not in (None, "draft", "scheduled") or data.get("batches_total"):
        for name, value in batch_tallies(runtime, data["id"]).items():
            counts[name] += value
    done = sum(counts[k] for k in TERMINAL)
    counts["pending"] = max(0, counts["total"] - done - counts["deferred"])
    return counts


def _check_list(runtime: Runtime, workspace_id: str, list_id: Any) -> None:
    if list_id is not None and (
        not isinstance(list_id, str)
        or scoped_get(runtime.db, CONTACT_LISTS, workspace_id, list_id) is None
    ):
        raise ValidationError(
            "list_id does not name a contact list of this workspace", {"field": "list_id"}
        )


def create_campaign(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A draft; `template_id` copies a saved template's subject and bodies."""
    body = dict(body)
    if body.get("template_id"):
        tpl = get_template(runtime, workspace_id, str(body["template_id"]))
        for key in ("subject", "html", "text", "defaults"):
            body.setdefault(key, tpl.get(key))
    data = _content(body, partial=False)
    if not data["name"].strip():
        raise ValidationError("name is required", {"field": "name"})
    _check_list(runtime, workspace_id, body.get("list_id"))
    now = runtime.clock.now()
    data |= {
        "workspace_id": workspace_id,
        "list_id": body.get("list_id"),
        "template_id": body.get("template_id"),
        "track_opens": bool(body.get("track_opens", False)),
        "track_clicks": bool(body.get("track_clicks", False)),
        "status": "draft",
        "version": 1,
        "created_at": now,
        "updated_at": now,
        **dict.fromkeys(COUNTERS, 0),
    }
    campaign_id = new_id()
    data["key"] = campaign_id  # the listing order (indexed with workspace_id)
    ensure_fits(f"{CAMPAIGNS}/{campaign_id}", data, "campaign")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).set(data)
    return _view(runtime, {**data, "id": campaign_id})


def get_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    return _view(runtime, _load(runtime, workspace_id, campaign_id))


def list_campaigns(
    runtime: Runtime, workspace_id: str, *, after: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """Keyset page ordered by id (ids are random: stable, not chronological)."""
    limit = max(1, min(int(limit), 200))
    query = build(runtime.db, q.CAMPAIGNS, workspace_id=workspace_id)
    if after:
        query = query.start_after([after])
    docs = list(query.limit(limit).stream())
    # Progress is one aggregation query per sending campaign: run side by side, so a
    # page costs one round trip of latency, not one per campaign.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        items = list(pool.map(lambda d: _view(runtime, {**d.to_dict(), "id": d.id}), docs))
    return {"items": items, "next": docs[-1].id if len(docs) == limit else None}


def update_campaign(
    runtime: Runtime, workspace_id: str, campaign_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    data = _load(runtime, workspace_id, campaign_id)
    if data["status"] not in EDITABLE:
        raise Conflict(f"a {data['status']} campaign cannot be edited; unschedule it first")
    changes = _content(body, partial=True)
    if "list_id" in body:
        _check_list(runtime, workspace_id, body["list_id"])
        changes["list_id"] = body["list_id"]
    for key in ("track_opens", "track_clicks"):
        if key in body:
            changes[key] = bool(body[key])
    changes |= {"updated_at": runtime.clock.now(), "version": int(data.get("version", 1)) + 1}
    ensure_fits(f"{CAMPAIGNS}/{campaign_id}", {**data, **changes}, "campaign")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(changes)
    return get_campaign(runtime, workspace_id, campaign_id)


def delete_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> None:
    data = _load(runtime, workspace_id, campaign_id)
    if data["status"] not in ("draft", "cancelled", "done"):
        raise Conflict("cancel the campaign before deleting it")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).delete()


def _instant(at: Any, tz: ZoneInfo) -> datetime:
    if isinstance(at, datetime):
        value = at
    elif isinstance(at, str):
        try:
            value = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError("at must be an ISO 8601 date and time", {"field": "at"}) from exc
    else:
        raise ValidationError("at is required (ISO 8601)", {"field": "at"})
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)  # a wall-clock time in the user's zone
    return value.astimezone(UTC)


def schedule_campaign(
    runtime: Runtime,
    workspace_id: str,
    campaign_id: str,
    at: Any,
    timezone_name: str = "UTC",
    local_hour: int | None = None,
) -> dict[str, Any]:
    """Schedule at an instant, or at `local_hour` on that date in each recipient's zone."""
    from shared.email.smtp_settings import require_postal_address, sender_for

    data = _load(runtime, workspace_id, campaign_id)
    if data["status"] not in ("draft", "scheduled") or data.get("batches_total"):
        raise Conflict(f"a {data['status']} campaign cannot be rescheduled")
    tz = find_zone(timezone_name)
    if tz is None:
        raise ValidationError(
            f"unknown timezone {timezone_name[:64]!r}; use an IANA name", {"field": "timezone"}
        )
    if not data.get("list_id"):
        raise ValidationError("choose a contact list before scheduling", {"field": "list_id"})
    if not (data.get("subject") or "").strip() or not (data.get("html") or "").strip():
        raise ValidationError("a campaign needs a subject and an HTML body")
    # Refuse early when SMTP is not configured or the postal address is missing.
    require_postal_address(sender_for(runtime, workspace_id))
    instant = _instant(at, tz)
    now = runtime.clock.now()
    if instant < now - timedelta(minutes=5):
        raise ValidationError("the scheduled time is in the past", {"field": "at"})
    due = instant
    if local_hour is not None:
        if (
            isinstance(local_hour, bool)
            or not isinstance(local_hour, int)
            or not (0 <= local_hour <= 23)
        ):
            raise ValidationError("local_hour must be 0-23", {"field": "local_hour"})
        day = instant.astimezone(tz).date()
        due = max(
            now,
            datetime(day.year, day.month, day.day, local_hour, tzinfo=EARLIEST_OFFSET).astimezone(
                UTC
            ),
        )
    changes = {
        "status": "scheduled",
        "scheduled_at": instant,
        "timezone": timezone_name,
        "local_hour": local_hour,
        "due_at": due,
        "links": extract_links(data.get("html") or ""),
        "expanded": False,
        "expand_after": "",
        "next_seq": 0,
        "updated_at": now,
    }
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(changes)
    return get_campaign(runtime, workspace_id, campaign_id)


def unschedule_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    data = _load(runtime, workspace_id, campaign_id)
    if data["status"] != "scheduled" or data.get("batches_total"):
        raise Conflict("only a scheduled campaign that has not started can be unscheduled")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(
        {"status": "draft", "updated_at": runtime.clock.now()}
    )
    return get_campaign(runtime, workspace_id, campaign_id)


def pause_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    data = _load(runtime, workspace_id, campaign_id)
    if data["status"] not in ("scheduled", "sending"):
        raise Conflict(f"a {data['status']} campaign cannot be paused")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(
        {"status": "paused", "paused_from": data["status"], "updated_at": runtime.clock.now()}
    )
    return get_campaign(runtime, workspace_id, campaign_id)


def _batches_with_status(runtime: Runtime, campaign_id: str, status: str) -> list[Any]:
    spec = q.CAMPAIGN_BATCHES_WITH_STATUS
    batches = pages(runtime.db, spec, campaign_id=campaign_id, status=status)
    return [d for page in batches for d in page]


def resume_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Back to where it was; batches held while paused are queued again, each in a new
    slot of the shared quota (their old slots have passed: all at once would burst)."""
    from google.cloud import firestore

    from shared.email.pacing import read_side
    from shared.email.queue import enqueue_batch
    from shared.email.quota import reserve

    data = _load(runtime, workspace_id, campaign_id)
    if data["status"] != "paused":
        raise Conflict(f"a {data['status']} campaign is not paused")
    now = runtime.clock.now()
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(
        {
            "status": data.get("paused_from") or "scheduled",
            "stop_reason": firestore.DELETE_FIELD,
            "updated_at": now,
        }
    )
    held = _batches_with_status(runtime, campaign_id, "held")
    limits = read_side(runtime.db, workspace_id).limits() if held else None
    for k in range(0, len(held), 10):
        group = held[k : k + 10]
        todo = [_unsent(doc.to_dict()) for doc in group]
        assert limits is not None
        slots = reserve(runtime.db, workspace_id, [(max(1, n), now) for n in todo], limits, now)
        for doc, slot in zip(group, slots, strict=True):
            doc.reference.update({"status": "queued", "due_at": slot, "enqueued_at": now})
            tag = f"resume{int(now.timestamp())}"
            recipients = doc.get("recipients") or ()
            enqueue_batch(
                runtime,
                doc.id,
                workspace_id,
                slot,
                campaign_id,
                attempt_tag=tag,
                recipients=recipients,
            )
    return get_campaign(runtime, workspace_id, campaign_id)


def _unsent(batch: dict[str, Any]) -> int:
    outcomes = batch.get("outcomes") or {}
    return sum(1 for i in range(len(batch.get("recipients") or [])) if str(i) not in outcomes)


def cancel_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Stop for good: queued batches end as `cancelled` when their task runs; held ones now.

    A held batch ends as a worker ends one: its tally on the batch itself (progress sums
    the batches), so cancelling a campaign of thousands of held batches writes each of
    them once and the campaign document once, instead of once per batch."""
    data = _load(runtime, workspace_id, campaign_id)
    if data["status"] in ("done", "cancelled"):
        raise Conflict(f"the campaign is already {data['status']}")
    now = runtime.clock.now()
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(
        {"status": "cancelled", "updated_at": now}
    )
    for doc in _batches_with_status(runtime, campaign_id, "held"):
        batch = doc.to_dict()
        outcomes = dict(batch.get("outcomes") or {})
        for i in range(len(batch["recipients"])):
            outcomes.setdefault(str(i), {"status": "cancelled", "at": now})
        doc.reference.update(
            {"status": "done", "outcomes": outcomes, "finished_at": now, **_tally(batch, outcomes)}
        )
    return get_campaign(runtime, workspace_id, campaign_id)


def _tally(batch: dict[str, Any], outcomes: dict[str, Any]) -> dict[str, int]:
    """The finished batch's TALLY_FIELDS (as the worker writes them): its recipients by
    outcome; a retry batch takes its recipients out of the deferred count its parent
    added, and is not a batch of its own."""
    counts: dict[str, int] = {}
    for out in outcomes.values():
        counts[out["status"]] = counts.get(out["status"], 0) + 1
    retry = batch.get("kind") == "retry"
    counts["deferred"] = counts.get("deferred", 0) - (len(batch["recipients"]) if retry else 0)
    counts["batches_done"] = 0 if retry else 1
    return {field: counts.get(name, 0) for name, field in TALLY_FIELDS.items()}


def campaign_progress(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Where the sending stands, and the bounces and complaints learned after it."""
    from shared.email.feedback import campaign_feedback

    data = _load(runtime, workspace_id, campaign_id)
    progress = {"status": data["status"], **progress_of(runtime, data)}
    return {**progress, "feedback": campaign_feedback(runtime, campaign_id)}


def list_outcomes(
    runtime: Runtime,
    workspace_id: str,
    campaign_id: str,
    *,
    status: str | None = None,
    after: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Per-recipient outcomes, a page of batches at a time (batch ids are the keyset)."""
    _load(runtime, workspace_id, campaign_id)
    limit = max(1, min(int(limit), 100))
    query = build(runtime.db, q.BATCH_OUTCOMES, campaign_id=campaign_id, workspace_id=workspace_id)
    if after:
        query = query.start_after([after])
    docs = list(query.limit(limit).stream())
    items = []
    for doc in docs:
        batch = doc.to_dict()
        outcomes = batch.get("outcomes") or {}
        for i, rcpt in enumerate(batch.get("recipients") or []):
            outcome = outcomes.get(str(i)) or {
                "status": (batch.get("status") == "held" and "held") or "pending"
            }
            if status and outcome.get("status") != status:
                continue
            items.append(
                {
                    "batch_id": doc.id,
                    "recipient_id": rcpt["id"],
                    "email": rcpt["email"],
                    **{
                        k: (v.isoformat() if isinstance(v, datetime) else v)
                        for k, v in outcome.items()
                    },
                }
            )
    return {"items": items, "next": docs[-1].id if len(docs) == limit else None}
