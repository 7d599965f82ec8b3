"""Bluesky sessions: one lineage per account, shared by every process (shared/lineage.py).

A session is an access JWT (about 2 hours) and a refresh JWT (60-90 days) that rotates:
refreshSession answers a new pair and revokes the refresh JWT it was given. A session of
its own per process would cost a createSession per cold instance, which the PDS limits per
account (bsky.social: 30 per 5 minutes, 300 a day; docs.bsky.app, "Rate Limits"): a busy
campaign on Cloud Functions would lock its account out. So:
- `bluesky_session_lineages/{account}` points at the current version of the account's
  session; its JWTs (with the DID, handle and PDS they are for) are the secret
  `ws-<workspace>-bluesky-session-<account>-v<v>`, written once.
- Processes use the current version, each keeping it until 15 minutes before its access
  JWT expires; the SDK's client never refreshes on its own (shared.channels.bluesky_xrpc).
- Renewing takes the lineage's lease: one refreshSession per version. A refresh the PDS
  refuses (ExpiredToken / InvalidToken: the session was revoked, or its refresh JWT was
  spent elsewhere) falls back to one createSession with the app password under the same
  lease, and an account without a lineage begins one the same way: N processes, one
  createSession. Connecting an account begins its lineage with the session it opened.
- An access JWT the PDS refuses before its expiry renews the lineage past that version.
- An app password the PDS refuses (or a taken-down account) loses the lineage: the account
  is flagged "revoked" ("suspended") with the PDS's reason, one `bluesky_account_revoked`
  alert; its posts then fail with that reason without asking the PDS again, until the
  account is connected again (a new lineage). Disconnecting deletes the lineage's secrets.
The SDK and shared.channels.bluesky_xrpc are imported inside the functions that use them:
disconnecting, which every API function can reach, loads neither.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from shared.channels.outcomes import AccountProblem, NotSent, cannot_sign
from shared.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from shared.lineage import Busy, Held, Lineages, Lost, ProcessCache, Refused, Renewed
from shared.log import get_logger
from shared.x.flags import AccountSource
from shared.x.models import AccountStatus

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.x.models import XAccount

log = get_logger("x.bluesky_sessions")
T = TypeVar("T")

LINEAGES = "bluesky_session_lineages"
SECRET_KIND = "bluesky-session"  # noqa: S105 - a secret name part, not a secret
ALERT_REVOKED = "bluesky_account_revoked"
REFRESH_MARGIN = timedelta(minutes=15)  # as the SDK's own refresh margin
# A renewal is a refreshSession and, when it is refused, a createSession: the lease
# outlasts both requests' timeouts.
LEASE = timedelta(seconds=2 * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + 25)
# When an access JWT does not say how long it lives (the PDS answers when it is refused).
ACCESS_LIFETIME = timedelta(hours=2)

SESSIONS = Lineages(LINEAGES, SECRET_KIND, margin=REFRESH_MARGIN, lease=LEASE, begins_itself=True)


def credentials(runtime: Runtime, account: XAccount) -> tuple[str, str]:
    from shared.errors import ProviderError

    if not account.secret_ref:
        raise ProviderError(f"Bluesky account @{account.handle} has no app password; reconnect it")
    data = json.loads(runtime.secrets.get(account.secret_ref))
    return str(data["identifier"]), str(data["app_password"])


class _Session(AccountSource):
    """A Bluesky account's side of its lineage: refreshSession, else createSession."""

    network: ClassVar[str] = "Bluesky"

    def __init__(self, runtime: Runtime, account: XAccount, transport: Any = None) -> None:
        super().__init__(runtime, account)
        self.transport = transport

    def renew(self, held: dict[str, Any] | None) -> Renewed:
        from atproto_client import models
        from atproto_core.exceptions import AtProtocolError

        from shared.channels.bluesky_xrpc import (
            DEFAULT_SERVICE,
            SESSION_GONE,
            error_name,
            map_error,
            new_client,
        )

        service = self.account.service_url or DEFAULT_SERVICE
        client = new_client(service, self.transport)
        if held and held.get("refresh_jwt"):
            try:
                answer = client.com.atproto.server.refresh_session(
                    headers={"Authorization": f"Bearer {held['refresh_jwt']}"}
                )
                return renewed(self.runtime, answer, service)
            except AtProtocolError as exc:
                if error_name(exc)[1] not in SESSION_GONE:
                    raise map_error(exc, creating=False) from exc
                log.warning(
                    "the PDS refused the session's refresh token; opening a new session",
                    account_id=self.account.id,
                    reason=error_name(exc)[2],
                )
        identifier, password = credentials(self.runtime, self.account)
        try:
            answer = client.com.atproto.server.create_session(
                models.ComAtprotoServerCreateSession.Data(identifier=identifier, password=password)
            )
        except AtProtocolError as exc:
            mapped = map_error(exc, creating=False)
            if isinstance(mapped, AccountProblem):
                reason = mapped.reason
                if mapped.account_status == AccountStatus.REVOKED:
                    reason += "; connect the account again with a new app password"
                raise Refused(reason, mapped.account_status) from exc
            raise mapped from exc
        return renewed(self.runtime, answer, service)

    def announce(self, refused: Refused) -> None:
        message, fields = self.flagged(refused)
        log.alert(ALERT_REVOKED, message, **fields)


def renewed(runtime: Runtime, answer: Any, service: str) -> Renewed:
    """A createSession or refreshSession answer as a lineage version; its access JWT
    lives as long from now as the PDS issued it for (exp - iat)."""
    from atproto_client.client.session import get_session_pds_endpoint
    from atproto_core.exceptions import AtProtocolError
    from atproto_server.auth.jwt import get_jwt_payload

    try:
        payload = get_jwt_payload(answer.access_jwt)
        lifetime = (
            timedelta(seconds=payload.exp - payload.iat)
            if payload.exp and payload.iat
            else ACCESS_LIFETIME
        )
    except (AtProtocolError, ValueError):
        lifetime = ACCESS_LIFETIME
    session = {
        "did": answer.did,
        "handle": answer.handle,
        "access_jwt": answer.access_jwt,
        "refresh_jwt": answer.refresh_jwt,
        "pds_endpoint": get_session_pds_endpoint(answer) or service,
    }
    return Renewed(session, runtime.clock.now() + lifetime)


def _mapped(account: XAccount, get: Callable[[], T]) -> T:
    """Herald's outcomes for what getting a session can raise."""
    from shared.errors import HeraldError
    from shared.secrets import SecretNotFound

    try:
        return get()
    except Lost as exc:
        reason = exc.reason or f"Bluesky account @{account.handle} has no session; reconnect it"
        raise AccountProblem(reason, 401, exc.status or AccountStatus.REVOKED.value) from exc
    except Busy as exc:
        raise NotSent(
            f"opening a Bluesky session for @{account.handle} is taking too long"
        ) from exc
    except (HeraldError, SecretNotFound) as exc:
        raise cannot_sign(account.handle, exc) from exc


def current(
    runtime: Runtime, account: XAccount, transport: Any = None, process: ProcessCache | None = None
) -> Held:
    """The session to use now (this process's, the lineage's, or renewed)."""
    source = _Session(runtime, account, transport)
    return _mapped(account, lambda: SESSIONS.current(runtime, source, process))


def renew_past(
    runtime: Runtime,
    account: XAccount,
    version: int,
    transport: Any = None,
    process: ProcessCache | None = None,
) -> Held:
    """A session after `version`, whose access JWT the PDS refused."""
    source = _Session(runtime, account, transport)
    return _mapped(account, lambda: SESSIONS.renew_past(runtime, source, version, process))


def start(runtime: Runtime, account: XAccount, answer: Any) -> int:
    """A new lineage from the session connecting opened (connect, reconnect)."""
    from shared.channels.bluesky_xrpc import DEFAULT_SERVICE

    service = account.service_url or DEFAULT_SERVICE
    previous = SESSIONS.lineage(runtime, account.id)
    return SESSIONS.start(
        runtime,
        _Session(runtime, account),
        renewed(runtime, answer, service),
        int((previous or {}).get("version") or 0),
    )


def discard(runtime: Runtime, workspace_id: str, account_id: str) -> None:
    """Disconnect: the lineage and its sessions' secrets go."""
    SESSIONS.discard(runtime, workspace_id, account_id)
