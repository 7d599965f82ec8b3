"""The reputation guard: complaint and bounce rates per workspace and sending domain,
against the lines mailbox providers hold senders to, acting before they are crossed.

Gmail's sender guidelines (and Yahoo's): keep the spam complaint rate below 0.1 % and
never reach 0.3 %. Bounces have no published Gmail line; Amazon SES reviews an
account at a 5 % bounce rate, and a list over 2 % is one that needs cleaning.
Herald's lines sit before each of those:
- complaints: alert at COMPLAINT_ALERT (0.08 %), pause at COMPLAINT_PAUSE (0.2 %);
- hard bounces: alert at BOUNCE_ALERT (2 %), pause at BOUNCE_PAUSE (4 %).
Rates are over the last WINDOW (7 days): hard bounces and complaints (events, whether
learned from the SMTP answer, a DSN, an ARF report or a webhook) over the messages
sent (the finished batches' `n_sent`), for the workspace and for the domain it sends
from now; the guard acts on the worse. Under MIN_SENT messages, or with fewer than
MIN_EVENTS events, it only shows the figures (one complaint in 50 is not a rate).

Pausing pauses every sending or scheduled campaign of the workspace with the reason
(`stop_reason`, kind `reputation`) and raises the `email_reputation` alert. Resuming
is the owner's call; the guard pauses again only if new complaints or bounces arrive
while the rate is still over the line. The warm-up plan (shared.email.warmup) is held
while a rate is over its alert line or the provider deferred (the pace was cut) in the
last day, and released when both are clear.

The guard runs when a hard bounce or complaint is applied (at most once a minute per
workspace) and from the dispatcher for workspaces that are sending (every 5 minutes).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.email import deliverability, warmup
from shared.email.model import PACE
from shared.log import get_logger
from shared.queries import aggregate, build, pages
from shared.queries import email as q

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.reputation")

WINDOW = timedelta(days=7)
COMPLAINT_ALERT, COMPLAINT_PAUSE = 0.0008, 0.002
BOUNCE_ALERT, BOUNCE_PAUSE = 0.02, 0.04
GMAIL_LINES = {"complaint_keep_under": 0.001, "complaint_never_reach": 0.003}
MIN_SENT, MIN_EVENTS = 100, 2
CHECK_EVERY = timedelta(seconds=60)


def figures(
    runtime: Runtime, workspace_id: str, domain: str | None, now: datetime
) -> dict[str, Any]:
    """Sent, hard bounces, soft bounces and complaints in the window, and the rates."""
    since = now - WINDOW
    db = runtime.db

    def sent() -> int:
        got = aggregate(db, q.SENT_SINCE, workspace_id=workspace_id, sender_domain=domain, ge=since)
        return int(got.get("sent", 0))

    def events(kind: str) -> int:
        spec = q.FEEDBACK_SINCE
        got = aggregate(db, spec, workspace_id=workspace_id, type=kind, domain=domain, ge=since)
        return int(got.get("count", 0))

    with ThreadPoolExecutor(4) as pool:
        n_sent = pool.submit(sent)
        hard, soft, complaints = pool.map(events, ("bounce", "soft_bounce", "complaint"))
        total = n_sent.result()
    return {
        "domain": domain,
        "window_days": WINDOW.days,
        "sent": total,
        "hard_bounces": hard,
        "soft_bounces": soft,
        "complaints": complaints,
        "complaint_rate": complaints / total if total else 0.0,
        "bounce_rate": hard / total if total else 0.0,
    }


def level(fig: dict[str, Any]) -> tuple[str, str]:
    """ok | alert | pause, and why."""
    if fig["sent"] < MIN_SENT:
        return "ok", ""
    c, b = fig["complaint_rate"], fig["bounce_rate"]
    where = f" ({fig['domain']})" if fig.get("domain") else ""
    if fig["complaints"] >= MIN_EVENTS and c >= COMPLAINT_PAUSE:
        return "pause", (
            f"complaint rate{where} {c:.2%} reached the pause line {COMPLAINT_PAUSE:.1%} "
            f"(Gmail: never reach 0.3%)"
        )
    if fig["hard_bounces"] >= MIN_EVENTS and b >= BOUNCE_PAUSE:
        return "pause", f"bounce rate{where} {b:.1%} reached the pause line {BOUNCE_PAUSE:.0%}"
    if fig["complaints"] >= MIN_EVENTS and c >= COMPLAINT_ALERT:
        return "alert", (
            f"complaint rate{where} {c:.2%} is near Gmail's 0.1% line "
            f"(alert at {COMPLAINT_ALERT:.2%})"
        )
    if fig["hard_bounces"] >= MIN_EVENTS and b >= BOUNCE_ALERT:
        return "alert", f"bounce rate{where} {b:.1%} is over {BOUNCE_ALERT:.0%}: clean the list"
    return "ok", ""


_ORDER = {"ok": 0, "alert": 1, "pause": 2}


def report(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    """The figures the page shows: the workspace's and its sending domain's, the lines."""
    now = runtime.clock.now()
    domain = warmup.from_domain(deliverability.smtp_settings(runtime, workspace_id)) or None
    whole = figures(runtime, workspace_id, None, now)
    per_domain = figures(runtime, workspace_id, domain, now) if domain else None
    levels = [level(whole)] + ([level(per_domain)] if per_domain else [])
    state, reason = max(levels, key=lambda lv: _ORDER[lv[0]])
    guard = deliverability.load(runtime, workspace_id).get("guard") or {}
    return {
        "workspace": whole,
        "sending_domain": per_domain,
        "state": state,
        "reason": reason,
        "lines": {
            **GMAIL_LINES,
            "complaint_alert": COMPLAINT_ALERT,
            "complaint_pause": COMPLAINT_PAUSE,
            "bounce_alert": BOUNCE_ALERT,
            "bounce_pause": BOUNCE_PAUSE,
            "min_sent": MIN_SENT,
        },
        "guard": {k: _iso(v) for k, v in guard.items()},
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def check(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    """Compute, then act: alert once a day, pause on the pause line, hold the warm-up."""
    now = runtime.clock.now()
    rep = report(runtime, workspace_id)
    doc = deliverability.load(runtime, workspace_id)
    guard = dict(doc.get("guard") or {})
    whole = rep["workspace"]
    counts = {"complaints": whole["complaints"], "hard_bounces": whole["hard_bounces"]}
    if rep["state"] == "pause":
        seen = guard.get("paused_counts") or {}
        worse = any(counts[k] > int(seen.get(k, -1)) for k in counts)
        if guard.get("state") != "paused" or worse:
            paused = _pause_campaigns(runtime, workspace_id, rep["reason"], now)
            log.alert(
                "email_reputation",
                "sending paused: " + rep["reason"],
                workspace_id=workspace_id,
                reason=rep["reason"],
                campaigns_paused=paused,
            )
            guard |= {"state": "paused", "paused_at": now, "paused_counts": counts}
    elif rep["state"] == "alert":
        if guard.get("alerted_on") != now.date().isoformat():
            log.alert(
                "email_reputation",
                "reputation near the line: " + rep["reason"],
                workspace_id=workspace_id,
                reason=rep["reason"],
            )
            guard["alerted_on"] = now.date().isoformat()
        guard["state"] = "alert"
    else:
        guard["state"] = "ok"
    guard |= {"checked_at": now, "reason": rep["reason"]}
    deliverability.save(runtime, workspace_id, "guard", guard)
    _warmup(runtime, workspace_id, doc.get("warmup"), rep, now)
    return {**rep, "guard": {k: _iso(v) for k, v in guard.items()}}


def check_soon(runtime: Runtime, workspace_id: str) -> None:
    """After a bounce or complaint: check, unless checked within CHECK_EVERY."""
    guard = deliverability.load(runtime, workspace_id).get("guard") or {}
    checked = guard.get("checked_at")
    if checked is None or runtime.clock.now() - checked >= CHECK_EVERY:
        check(runtime, workspace_id)


def _pause_campaigns(runtime: Runtime, workspace_id: str, reason: str, now: datetime) -> int:
    paused = 0
    stop = {"kind": "reputation", "message": reason, "at": now}
    for page in pages(runtime.db, q.CAMPAIGNS, workspace_id=workspace_id):
        for doc in page:
            status = doc.get("status")
            if status in ("sending", "scheduled"):
                doc.reference.update(
                    {
                        "status": "paused",
                        "paused_from": status,
                        "stop_reason": stop,
                        "updated_at": now,
                    }
                )
                paused += 1
    return paused


def _warmup(
    runtime: Runtime,
    workspace_id: str,
    plan: dict[str, Any] | None,
    rep: dict[str, Any],
    now: datetime,
) -> None:
    if not plan:
        return
    pace_snap = runtime.db.collection(PACE).document(workspace_id).get()
    cut_at = pace_snap.get("cut_at") if pace_snap.exists else None
    deferring = cut_at is not None and now - cut_at < timedelta(days=1)
    trouble = rep["state"] != "ok" or deferring
    reason = rep["reason"] or ("the provider deferred in the last day" if deferring else "")
    changed = warmup.hold(plan, now.date(), reason) if trouble else warmup.release(plan, now.date())
    if changed != plan:
        deliverability.save(runtime, workspace_id, "warmup", changed)
        log.info(
            "warm-up plan " + ("held" if trouble else "released"),
            workspace_id=workspace_id,
            reason=reason,
        )


def sending_workspaces(runtime: Runtime) -> set[str]:
    query = build(runtime.db, q.CAMPAIGNS_WITH_STATUS, status="sending").select(["workspace_id"])
    return {d.get("workspace_id") for d in query.stream()}
