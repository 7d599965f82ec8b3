"""Bluesky session lineages (shared/x/bluesky_sessions.py) through the real atproto
SDK against the fake PDS, on the Firestore emulator. A "process" is a thread with a
process cache of its own (shared.lineage.ProcessCache): it shares nothing with the others
but Firestore and the secrets store, as Cloud Functions instances do."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.channels.bluesky_xrpc import new_client
from shared.channels.outcomes import AccountProblem, RateLimited
from shared.lineage import ProcessCache, _stored
from shared.runtime import Runtime
from shared.secrets import SecretNotFound
from shared.x import accounts, bluesky_sessions, worker
from shared.x.bluesky_sessions import SESSIONS
from shared.x.connect import connect_bluesky
from shared.x.models import POSTS, X_ACCOUNTS, XAccount
from shared.x.registry import forget_bluesky, make_channel
from tests.channels.conftest import PDS, add_bluesky_account
from tests.channels.fake_pds import APP_PASSWORD, HANDLE, FakePDS
from tests.x.conftest import scheduled_post, task_payload

PROCESSES = 8


def _in_processes(fn: Callable[[ProcessCache], Any], n: int = PROCESSES) -> list[Any]:
    """`fn` in n processes at once; what each returned or raised, in any order."""
    start = threading.Barrier(n)
    out: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        try:
            result = fn(ProcessCache())
        except Exception as exc:
            result = exc
        with lock:
            out.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(out) == n
    return out


def _access(runtime: Runtime, account: XAccount, pds: FakePDS) -> Callable[[ProcessCache], str]:
    """What a process posting for the account does first: its channel, the session's
    access token."""

    def use(process: ProcessCache) -> str:
        channel = make_channel(runtime, account, transport=pds.transport, process=process)
        return str(channel.client._session.access_jwt)

    return use


def _post(runtime: Runtime, account: XAccount, pds: FakePDS, text: str) -> dict[str, Any]:
    post = scheduled_post(runtime, account.id, text=text, due_in=0)
    return worker.handle(
        runtime,
        task_payload(runtime, post["id"]),
        api_factory=lambda rt, acc: make_channel(rt, acc, transport=pds.transport),
    )


def _secret(runtime: Runtime, account: XAccount, version: int) -> dict[str, Any]:
    name = SESSIONS.secret_name(account.workspace_id, account.id, version)
    return dict(json.loads(runtime.secrets.get(name)))


def _doc(runtime: Runtime, collection: str, doc_id: str) -> dict[str, Any]:
    return runtime.db.collection(collection).document(doc_id).get().to_dict()


def _alerts(capsys: Any) -> list[str]:
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(x)["alert"] for x in lines if '"alert"' in x]


def test_a_cold_account_opens_one_session_for_all_processes(runtime, pds) -> None:
    """Eight cold instances need the account at once (it has no lineage yet: connected
    before lineages existed): one createSession, all use its session."""
    account = add_bluesky_account(runtime)
    pds.session_delay_s = 0.3  # the others arrive while it is out
    got = _in_processes(_access(runtime, account, pds))
    assert [g for g in got if isinstance(g, Exception)] == []
    assert len(set(got)) == 1 and pds.sessions == 1
    lineage = SESSIONS.lineage(runtime, account.id)
    assert lineage["version"] == 1 and lineage["lease_owner"] is None
    assert _secret(runtime, account, 1)["access_jwt"] == got[0]


def test_a_login_limit_is_met_once_and_every_process_waits_for_its_reset(
    runtime, clock, pds
) -> None:
    """createSession answered 429 (Bluesky's 30 logins in 5 minutes): the lineage keeps
    the reset, so the seven processes waiting behind the first do not each try in turn;
    all eight are told to wait until the reset, and after it one login serves them."""
    account = add_bluesky_account(runtime)
    reset = clock.now().replace(microsecond=0) + timedelta(minutes=5)
    pds.sessions_limited, pds.reset_epoch = True, int(reset.timestamp())
    pds.session_delay_s = 0.3  # the others arrive while it is out
    got = _in_processes(_access(runtime, account, pds))
    assert pds.limited_logins == 1 and pds.sessions == 0
    assert all(isinstance(g, RateLimited) and g.reset_at == reset for g in got), got
    assert SESSIONS.lineage(runtime, account.id)["renew_not_before"] == reset

    pds.sessions_limited = False
    clock.advance(minutes=4)  # still before the reset: nobody asks
    got = _in_processes(_access(runtime, account, pds), n=2)
    assert all(isinstance(g, RateLimited) for g in got) and pds.sessions == 0
    clock.advance(minutes=2)
    got = _in_processes(_access(runtime, account, pds))
    assert [g for g in got if isinstance(g, Exception)] == []
    assert pds.sessions == 1 and pds.limited_logins == 1
    assert SESSIONS.lineage(runtime, account.id)["renew_not_before"] is None


def test_an_expired_access_token_is_refreshed_once_for_all_processes(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    first = _access(runtime, account, pds)(ProcessCache())
    old_refresh = _secret(runtime, account, 1)["refresh_jwt"]
    clock.advance(hours=2)  # the 2-hour access token is at its end everywhere
    pds.refresh_delay_s = 0.3
    got = _in_processes(_access(runtime, account, pds))
    assert [g for g in got if isinstance(g, Exception)] == []
    assert len(set(got)) == 1 and got[0] != first
    assert pds.refreshes == 1 and pds.refused_refreshes == 0 and pds.sessions == 1
    assert SESSIONS.lineage(runtime, account.id)["version"] == 2
    assert _secret(runtime, account, 2)["access_jwt"] == got[0]
    assert old_refresh not in pds.live_refresh  # rotated: version 1's refresh token is spent


def test_a_refresher_that_died_after_storing_the_session_is_adopted(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    _access(runtime, account, pds)(ProcessCache())
    clock.advance(hours=2)
    # A process took the lease, refreshed version 1 at the PDS, stored version 2's
    # secret, and was killed before moving the pointer; its lease ran out.
    dead_token = _secret(runtime, account, 1)["refresh_jwt"]
    answer = new_client(PDS, pds.transport).com.atproto.server.refresh_session(
        headers={"Authorization": f"Bearer {dead_token}"}
    )
    runtime.secrets.put(
        SESSIONS.secret_name(account.workspace_id, account.id, 2),
        json.dumps(_stored(bluesky_sessions.renewed(runtime, answer, PDS))),
    )
    runtime.db.collection(SESSIONS.collection).document(account.id).update(
        {"lease_owner": "dead", "lease_until": clock.now() - timedelta(seconds=1)}
    )
    got = _in_processes(_access(runtime, account, pds), n=4)
    assert got == [answer.access_jwt] * 4
    # The PDS was asked once, by the dead one: nobody spent its dead refresh token, and
    # nobody fell back to the app password.
    assert pds.refreshes == 1 and pds.refused_refreshes == 0 and pds.sessions == 1
    assert SESSIONS.lineage(runtime, account.id)["version"] == 2


def test_a_refused_refresh_falls_back_to_one_create_session(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    first = _access(runtime, account, pds)(ProcessCache())
    clock.advance(hours=2)
    pds.live_refresh.clear()  # the PDS revoked the session (its refresh token is refused)
    got = _in_processes(_access(runtime, account, pds))
    assert [g for g in got if isinstance(g, Exception)] == []
    assert len(set(got)) == 1 and got[0] != first
    assert pds.refused_refreshes == 1 and pds.refreshes == 0
    assert pds.sessions == 2  # the cold start's and the one fallback
    assert SESSIONS.lineage(runtime, account.id)["version"] == 2


def test_an_access_token_refused_before_its_expiry_renews_past_it_once(runtime, pds) -> None:
    account = add_bluesky_account(runtime)
    first = _access(runtime, account, pds)(ProcessCache())
    pds.revoked_access.add(first)  # the PDS no longer takes it, though it has not expired
    assert _post(runtime, account, pds, "after a refused access token")["result"] == "published"
    assert pds.refreshes == 1 and pds.sessions == 1
    assert pds.create_tokens == [_secret(runtime, account, 2)["access_jwt"]]
    assert SESSIONS.lineage(runtime, account.id)["version"] == 2


def test_a_refused_app_password_flags_the_account_once_and_a_reconnect_restores_it(
    runtime, clock, pds, capsys
) -> None:
    account = add_bluesky_account(runtime)
    post = scheduled_post(runtime, account.id, text="while revoked", due_in=0)
    pds.password = "revoked-now"  # the person revoked Herald's app password
    pds.session_delay_s = 0.2
    got = _in_processes(_access(runtime, account, pds))
    assert all(isinstance(g, AccountProblem) for g in got), got
    assert {g.account_status for g in got} == {"revoked"}
    assert all("Invalid identifier or password" in g.reason for g in got)
    assert pds.failed_logins == 1  # one createSession for the eight
    flagged = _doc(runtime, X_ACCOUNTS, account.id)
    assert flagged["status"] == "revoked"
    assert (
        "Bluesky refused the account's credentials: Invalid identifier or password"
        in (flagged["status_reason"])
    )
    assert _alerts(capsys) == ["bluesky_account_revoked"]
    assert SESSIONS.lineage(runtime, account.id)["lost_at"] is not None
    # Its posts fail with the reason, without asking the PDS again.
    result = worker.handle(
        runtime,
        task_payload(runtime, post["id"]),
        api_factory=lambda rt, acc: make_channel(rt, acc, transport=pds.transport),
    )
    assert result["result"] == "failed"
    assert (
        "Invalid identifier or password" in _doc(runtime, POSTS, post["id"])["last_error"]["reason"]
    )
    assert pds.failed_logins == 1 and not pds.creates
    # Connecting the account again with a new app password: the same account, active,
    # a new lineage that begins with the session connecting opened.
    pds.password = "new-app-password"
    reconnected = connect_bluesky(
        runtime, "ws1", HANDLE, "new-app-password", PDS, transport=pds.transport
    )
    assert reconnected["id"] == account.id and reconnected["status"] == "active"
    lineage = SESSIONS.lineage(runtime, account.id)
    assert lineage["lost_at"] is None and lineage["version"] == 1
    assert _post(runtime, account, pds, "after reconnecting")["result"] == "published"
    assert pds.sessions == 1  # connecting's session, used by the post


def test_connecting_opens_the_first_session_posts_use(runtime, pds) -> None:
    """Regression: connecting opened a session and threw it away; the first post opened
    another."""
    connected = connect_bluesky(runtime, "ws1", HANDLE, APP_PASSWORD, PDS, transport=pds.transport)
    snap = runtime.db.collection(X_ACCOUNTS).document(connected["id"]).get()
    account = XAccount.from_doc(snap.id, snap.to_dict())
    assert _post(runtime, account, pds, "first post")["result"] == "published"
    assert pds.sessions == 1


def test_a_new_instance_uses_the_session_the_last_one_opened(runtime, clock, pds) -> None:
    """Regression: every cold instance opened a session of its own with the app password
    (createSession is limited to 30 per 5 minutes per account)."""
    account = add_bluesky_account(runtime)
    for n in range(3):
        assert _post(runtime, account, pds, f"post {n}")["result"] == "published"
        forget_bluesky()  # the instance goes; the next post lands on a cold one
        clock.advance(minutes=10)
    assert pds.sessions == 1 and len(pds.creates) == 3


def test_disconnecting_deletes_the_session_secrets(runtime, clock, pds) -> None:
    account = add_bluesky_account(runtime)
    _access(runtime, account, pds)(ProcessCache())
    clock.advance(hours=2)
    _access(runtime, account, pds)(ProcessCache())  # version 2; version 1 is kept
    names = [SESSIONS.secret_name("ws1", account.id, v) for v in (1, 2)]
    for name in names:
        assert runtime.secrets.get(name)
    accounts.delete_account(runtime, "ws1", account.id)
    for name in [*names, account.secret_ref]:
        with pytest.raises(SecretNotFound):
            runtime.secrets.get(name)
    assert SESSIONS.lineage(runtime, account.id) is None
    assert _doc(runtime, X_ACCOUNTS, account.id)["status"] == "disconnected"
