"""The public tracking endpoints: open pixel, click redirect, unsubscribe (RFC 8058).

Paths: `/o/<token>` (1x1 GIF), `/c/<token>` (302 to the campaign's link), `/u/<token>`
(GET: a confirmation page; POST with `List-Unsubscribe=One-Click`: unsubscribe now).
A token whose HMAC does not verify, or that names something that does not exist,
gets 404 and nothing is written.

Engagement: `email_engagement/{campaign}__{recipient}` holds first_open_at, opens,
first_click_at, clicks; raw events go to `email_events` with a dedupe key as id
(`open__c__r`, `click__c__r__link`, `unsubscribe__c__r`): one per unique action.

Machines are not readers. HEAD requests (link checkers) record nothing. Requests with a
known prefetch signature (`shared.email.prefetch`: Apple Mail Privacy Protection's
proxy, mail security scanners) are recorded apart, as `machine_opens` /
`machine_clicks` and events labelled with `machine` under their own dedupe keys, so a
scanner's fetch never takes the place of the person's open or click.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.email import prefetch
from shared.email.compose import signer
from shared.email.model import (
    CAMPAIGNS,
    CONTACTS,
    ENGAGEMENT,
    EVENT_RETENTION,
    EVENTS,
    FOLD_PENDING,
)
from shared.email.suppression import suppress
from shared.firestore import is_already_exists
from shared.tenancy import scoped_get

if TYPE_CHECKING:
    from shared.email.tokens import Token
    from shared.runtime import Runtime

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass
class Reply:
    status: int
    body: bytes | str
    headers: dict[str, str] = field(default_factory=dict)
    mimetype: str = "text/html"


def _page(title: str, message: str, form: str = "", status: int = 200) -> Reply:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{form}</body></html>"
    )
    return Reply(status, body, dict(NO_CACHE))


NOT_FOUND = Reply(404, "Not found", {}, "text/plain")


def handle(
    runtime: Runtime,
    method: str,
    path: str,
    form: dict[str, str],
    user_agent: str = "",
    client: str = "",
) -> Reply:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "track":  # Cloud Functions may pass the function name through
        parts = parts[1:]
    if len(parts) != 2 or parts[0] not in ("o", "c", "u"):
        return NOT_FOUND
    token = signer(runtime).verify(parts[1])
    if token is None or token.kind != parts[0]:
        return NOT_FOUND
    # HEAD asks what is there without fetching it: answered, never counted.
    record = method == "GET"
    machine = prefetch.classify(user_agent, client) if record else None
    if token.kind == "o" and method in ("GET", "HEAD"):
        return _open(runtime, token, record, machine)
    if token.kind == "c" and method in ("GET", "HEAD"):
        return _click(runtime, token, record, machine)
    if token.kind == "u" and method in ("GET", "HEAD"):
        return _unsubscribe_page(runtime, token, parts[1])
    if token.kind == "u" and method == "POST":
        return _unsubscribe(runtime, token, form)
    return Reply(405, "Method not allowed", {"Allow": "GET"}, "text/plain")


def _campaign(runtime: Runtime, token: Token) -> dict[str, Any] | None:
    return scoped_get(runtime.db, CAMPAIGNS, token.workspace_id, token.campaign_id)


def _event(runtime: Runtime, key: str, token: Token, kind: str, **extra: Any) -> bool:
    """Create the event once (its id is the dedupe key); True if it is new."""
    try:
        runtime.db.collection(EVENTS).document(key).create(
            {
                "workspace_id": token.workspace_id,
                "campaign_id": token.campaign_id,
                "recipient_id": token.recipient_id,
                "type": kind,
                "count": 1,
                "at": runtime.clock.now(),
                "expires_at": runtime.clock.now() + EVENT_RETENTION,
                FOLD_PENDING: True,  # the metrics fold counts it within a tick, once
                **extra,
            }
        )
    except Exception as exc:
        if is_already_exists(exc):
            return False
        raise
    return True


def _engage(runtime: Runtime, token: Token, kind: str, machine: str | None = None) -> None:
    """First time and count of opens or clicks per recipient (create, else Increment);
    a machine's fetch counts only in `machine_opens` / `machine_clicks`."""
    from google.cloud import firestore

    ref = runtime.db.collection(ENGAGEMENT).document(f"{token.campaign_id}__{token.recipient_id}")
    now = runtime.clock.now()
    if machine:
        field_name = f"machine_{kind}s"
        try:
            ref.create(
                {
                    "workspace_id": token.workspace_id,
                    "campaign_id": token.campaign_id,
                    "recipient_id": token.recipient_id,
                    "opens": 0,
                    "clicks": 0,
                    field_name: 1,
                }
            )
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            ref.update({field_name: firestore.Increment(1)})
        return
    counter = "opens" if kind == "open" else "clicks"
    base = {
        "workspace_id": token.workspace_id,
        "campaign_id": token.campaign_id,
        "recipient_id": token.recipient_id,
    }
    try:
        ref.create(
            {
                **base,
                "opens": 0,
                "clicks": 0,
                counter: 1,
                f"first_{kind}_at": now,
                f"last_{kind}_at": now,
            }
        )
        return
    except Exception as exc:
        if not is_already_exists(exc):
            raise
    snap = ref.get()
    update: dict[str, Any] = {counter: firestore.Increment(1), f"last_{kind}_at": now}
    if snap.exists and snap.get(counter) == 0:
        update[f"first_{kind}_at"] = now
    ref.update(update)


def _open(runtime: Runtime, token: Token, record: bool = True, machine: str | None = None) -> Reply:
    if _campaign(runtime, token) is None:
        return NOT_FOUND
    if record:
        _engage(runtime, token, "open", machine)
        key = f"open__{token.campaign_id}__{token.recipient_id}"
        if machine:
            _event(runtime, f"machine_{key}", token, "open", machine=machine)
        else:
            _event(runtime, key, token, "open")
    return Reply(200, PIXEL, dict(NO_CACHE), "image/gif")


def _click(
    runtime: Runtime, token: Token, record: bool = True, machine: str | None = None
) -> Reply:
    campaign = _campaign(runtime, token)
    links = (campaign or {}).get("links") or []
    if not 0 <= token.link < len(links):
        return NOT_FOUND
    url = str(links[token.link])
    if not url.startswith(("https://", "http://")):
        return NOT_FOUND
    if record:
        _engage(runtime, token, "click", machine)
        key = f"click__{token.campaign_id}__{token.recipient_id}__{token.link}"
        if machine:
            _event(runtime, f"machine_{key}", token, "click", url=url, machine=machine)
        else:
            _event(runtime, key, token, "click", url=url)
    return Reply(302, "", {**NO_CACHE, "Location": url}, "text/plain")


def _unsubscribe_page(runtime: Runtime, token: Token, raw: str) -> Reply:
    if _campaign(runtime, token) is None:
        return NOT_FOUND
    form = (
        f'<form method="post" action="{html.escape(raw)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", "Stop receiving these emails? One click below.", form)


def _unsubscribe(runtime: Runtime, token: Token, form: dict[str, str]) -> Reply:
    if form.get("List-Unsubscribe") != "One-Click":
        return _page("Unsubscribe", f"The request must carry {ONE_CLICK}.", status=400)
    if _campaign(runtime, token) is None:
        return NOT_FOUND
    if token.recipient_id == "test":
        return _page("Unsubscribe", "This was a test message: nothing to unsubscribe.")
    contact = scoped_get(runtime.db, CONTACTS, token.workspace_id, token.recipient_id)
    if contact is None:
        return NOT_FOUND
    now = runtime.clock.now()
    suppress(
        runtime.db, token.workspace_id, contact["email"], "unsubscribe", now, token.campaign_id
    )
    _event(runtime, f"unsubscribe__{token.campaign_id}__{token.recipient_id}", token, "unsubscribe")
    return _page("Unsubscribed", "You will not receive these emails any more.")
