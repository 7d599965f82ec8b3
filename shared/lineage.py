"""Credential lineages: an account's rotating credentials, shared by every process and
renewed by one at a time.

Some providers rotate what renews a session: each refresh returns a new refresh token and
the old one dies (X's OAuth 2.0 tokens, Bluesky's refreshSession). Processes that each
refresh on their own spend one token twice and lose the account; processes that each open
a session of their own run into the provider's session limits (Bluesky: createSession
30 per 5 minutes, 300 a day per account). A lineage is one account's credentials for all
processes:
- `<collection>/{account}` (Firestore) points at the current version `v`, its access
  expiry, and who holds the renewal lease (until when).
- The credentials of version v are a secret of their own,
  `ws-<workspace>-<kind>-<account>-v<v>` (shared/secrets.py), written once.
- A renewer takes the lease in a transaction (the others wait, then use what it got),
  renews from version v's credentials (the provider is asked once per version), stores
  version v+1's secret, then moves the pointer in a transaction that checks it still holds
  the lease and that the pointer is still at v.
- The secret is written before the pointer moves: if the renewer dies in between, the
  next lease holder finds version v+1's secret there and adopts it rather than spending
  v's (dead) refresh token.
- The source refusing for good (`Refused`: the provider will not renew, a person must act)
  marks the lineage lost with the reason, in a transaction in which the source also flags
  its account; the source then announces it once (an alert). Every later caller gets `Lost` at once.
Each process keeps the current version until shortly before it expires (a `ProcessCache`),
so a call costs no lineage read in the common case, and one thread per process at a time
goes to Firestore for an account.

The networks' own parts (what renewing means, what a loss flags) are a `Source`:
shared.x.tokens (X's OAuth 2.0) and shared.x.bluesky_sessions.

Over 400 lines because the lease's steps (take, wait, renew or adopt, commit, release,
lose) are one protocol whose transactions check each other's writes: read apart, each
step's guard would make no sense.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.firestore import transact
from shared.log import get_logger
from shared.secrets import SecretNotFound, user_secret_name

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("lineage")
POLL_S = 0.1


class Lost(Exception):
    """The lineage is gone (`reason`), or there is none; `status` is what the account was
    flagged (the source's choice)."""

    def __init__(self, reason: str | None, status: str | None = None) -> None:
        super().__init__(reason or "no lineage")
        self.reason = reason
        self.status = status


class Refused(Exception):
    """Raised by a source's `renew`: the provider refused for good (the lineage is lost)."""

    def __init__(self, reason: str, status: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Busy(Exception):
    """Another process's renewal took longer than a caller waits."""


@dataclass(frozen=True)
class Renewed:
    """A version's credentials (stored as they are) and when its access part expires."""

    credentials: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class Held:
    """The version a process uses."""

    version: int
    credentials: dict[str, Any]
    expires_at: datetime


class Source(Protocol):
    """One account's side of a lineage."""

    @property
    def workspace_id(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    def renew(self, held: dict[str, Any] | None) -> Renewed:
        """Version v+1's credentials from version v's (None: there are none yet, or they
        are gone). Raises Refused when the provider refuses for good; anything else it
        raises leaves the lineage as it was (the lease is released)."""
        ...

    def flag(self, transaction: Any, refused: Refused) -> None:
        """Inside the transaction that records the loss: flag the account."""
        ...

    def deferred(self, until: datetime) -> Exception:
        """What a caller gets while the provider asked to wait before the next renewal
        (a 429's reset): the network's rate-limit error, so the caller waits too."""
        ...

    def announce(self, refused: Refused) -> None:
        """Once, after the loss is recorded (an alert)."""
        ...


class ProcessCache:
    """What one process keeps between calls: values by key (the current version of each
    account's credentials, clients) and a lock per key. Tests make one per simulated
    process; everything else uses `PROCESS`."""

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            return self._values.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._values[key] = value

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)

    def drop_where(self, which: Callable[[Hashable], bool]) -> None:
        with self._lock:
            for key in [k for k in self._values if which(k)]:
                del self._values[key]

    def lock(self, key: Hashable) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())


PROCESS = ProcessCache()


class Lineages:
    """The lineages of one kind of credentials, one document each in `collection`.

    `begins_itself`: a missing lineage is begun by the first caller (under the lease:
    Bluesky opens a session with the app password); otherwise it is Lost (X: only an
    authorization begins one, through `start`). `margin`: renew this long before the
    access part expires. `lease`: longer than a renewal can take."""

    def __init__(
        self,
        collection: str,
        secret_kind: str,
        *,
        margin: timedelta,
        lease: timedelta,
        begins_itself: bool = False,
    ) -> None:
        self.collection = collection
        self.secret_kind = secret_kind
        self.margin = margin
        self.lease = lease
        self.wait_s = lease.total_seconds() + 10  # how long a caller waits for another
        self.begins_itself = begins_itself

    # -- reading --------------------------------------------------------------------------

    def secret_name(self, workspace_id: str, account_id: str, version: int) -> str:
        return user_secret_name(workspace_id, self.secret_kind, f"{account_id}-v{version}")

    def lineage(self, runtime: Runtime, account_id: str) -> dict[str, Any] | None:
        snap = runtime.db.collection(self.collection).document(account_id).get()
        return snap.to_dict() if snap.exists else None

    def _key(self, runtime: Runtime, account_id: str) -> tuple[str, str, str]:
        return (self.collection, runtime.settings.project_id, account_id)

    def _usable(self, runtime: Runtime, held: Held | None) -> Held | None:
        return held if held and held.expires_at - self.margin > _now(runtime) else None

    def _fresh(self, current: dict[str, Any], now: datetime) -> bool:
        """The lineage's version has its secret and is not about to expire."""
        expires: datetime | None = current.get("access_expires_at")
        return (
            bool(current.get("secret_ref")) and expires is not None and expires - self.margin > now
        )

    def current(self, runtime: Runtime, source: Source, cache: ProcessCache | None = None) -> Held:
        """The version to use now: this process's, the lineage's, or a renewed one."""
        cache = cache or PROCESS
        key = self._key(runtime, source.account_id)
        held = self._usable(runtime, cache.get(key))
        if held:
            return held
        with cache.lock(key):  # one thread of the process goes on; the others then find it
            held = self._usable(runtime, cache.get(key))
            if held:
                return held
            current = self.lineage(runtime, source.account_id)
            if current is None and not self.begins_itself:
                raise Lost(None)
            if current is not None and current.get("lost_at"):
                raise Lost(current.get("lost_reason"), current.get("lost_status"))
            if current and self._fresh(current, _now(runtime)):
                return self._remember(runtime, cache, key, current)
            seen = int((current or {}).get("version") or 0)
            return self._renew(runtime, source, cache, seen, force=False)

    def renew_past(
        self, runtime: Runtime, source: Source, version: int, cache: ProcessCache | None = None
    ) -> Held:
        """A version after `version`, which the provider no longer takes (its access part
        was refused before its expiry): renewed now unless someone already did."""
        cache = cache or PROCESS
        key = self._key(runtime, source.account_id)
        with cache.lock(key):
            held: Held | None = cache.get(key)
            if held is not None and held.version > version:
                return held
            return self._renew(runtime, source, cache, version, force=True)

    def _remember(
        self, runtime: Runtime, cache: ProcessCache, key: Any, current: dict[str, Any]
    ) -> Held:
        try:
            credentials = json.loads(runtime.secrets.get(current["secret_ref"]))
        except SecretNotFound:
            credentials = {}
        held = Held(int(current["version"]), credentials, current["access_expires_at"])
        cache.put(key, held)
        return held

    def forget(self, runtime: Runtime, account_id: str, cache: ProcessCache | None = None) -> None:
        (cache or PROCESS).drop(self._key(runtime, account_id))

    # -- writing --------------------------------------------------------------------------

    def start(
        self, runtime: Runtime, source: Source, renewed: Renewed, previous_version: int = 0
    ) -> int:
        """A new lineage from a fresh authorization (connect, reconnect): version + 1."""
        version = previous_version + 1
        now = _now(runtime)
        ref = runtime.secrets.put(
            self.secret_name(source.workspace_id, source.account_id, version),
            json.dumps(_stored(renewed)),
        )
        runtime.db.collection(self.collection).document(source.account_id).set(
            _document(source, version, ref, renewed.expires_at, now)
        )
        for old in range(max(1, previous_version - 1), previous_version + 1):
            runtime.secrets.delete(self.secret_name(source.workspace_id, source.account_id, old))
        self.forget(runtime, source.account_id)
        return version

    def discard(self, runtime: Runtime, workspace_id: str, account_id: str) -> None:
        """Delete the lineage and every version's secret that may exist (disconnect)."""
        current = self.lineage(runtime, account_id)
        if current is None:
            return
        version = int(current.get("version") or 0)
        for v in range(max(1, version - 1), version + 2):
            runtime.secrets.delete(self.secret_name(workspace_id, account_id, v))
        runtime.db.collection(self.collection).document(account_id).delete()
        self.forget(runtime, account_id)

    def _renew(
        self, runtime: Runtime, source: Source, cache: ProcessCache, seen: int, *, force: bool
    ) -> Held:
        """Renew the lineage past version `seen`, or wait for whoever is doing it."""
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_s
        key = self._key(runtime, source.account_id)
        while True:
            state, current = self._take_lease(runtime, source, seen, owner, force)
            if state == "fresh":
                return self._remember(runtime, cache, key, current)
            if state == "mine":
                held = self._renew_holding(runtime, source, current, owner)
                cache.put(key, held)
                return held
            # Busy: wait with plain reads (a transaction's read locks the document, and
            # waiters polling in transactions starve the holder's commit), and go for
            # the lease again only once it is free or has run out.
            while True:
                if time.monotonic() > deadline:
                    raise Busy(
                        f"the renewal of {self.collection}/{source.account_id} is taking too long"
                    )
                time.sleep(POLL_S)
                current = self.lineage(runtime, source.account_id) or {}
                if current.get("lost_at") or not current:
                    break  # the transaction says what happened
                not_before = current.get("renew_not_before")
                if not_before and not_before > _now(runtime):
                    raise source.deferred(not_before)  # the holder was told to wait: all are
                if int(current["version"]) > seen:
                    return self._remember(runtime, cache, key, current)
                lease_until = current.get("lease_until")
                if (
                    not current.get("lease_owner")
                    or not lease_until
                    or lease_until <= _now(runtime)
                ):
                    break

    def _take_lease(
        self, runtime: Runtime, source: Source, seen: int, owner: str, force: bool
    ) -> tuple[str, dict[str, Any]]:
        """("fresh", lineage) when someone renewed already; ("mine", lineage) when this
        caller now holds the lease; ("busy", lineage) when another holder is at it."""
        ref = runtime.db.collection(self.collection).document(source.account_id)

        def decide(transaction: Any) -> tuple[str, dict[str, Any]]:
            now = _now(runtime)
            snap = ref.get(transaction=transaction)
            current = snap.to_dict() if snap.exists else None
            lease = {"lease_owner": owner, "lease_until": now + self.lease}
            if current is None:
                if not self.begins_itself:
                    raise Lost(None)
                begun = _document(source, 0, None, None, now) | lease
                transaction.create(ref, begun)
                return "mine", begun
            if current.get("lost_at"):
                raise Lost(current.get("lost_reason"), current.get("lost_status"))
            if int(current["version"]) > seen or (self._fresh(current, now) and not force):
                return "fresh", current
            not_before = current.get("renew_not_before")
            if not_before and not_before > now:
                raise source.deferred(not_before)
            lease_until = current.get("lease_until")
            if current.get("lease_owner") and lease_until and lease_until > now:
                return "busy", current
            transaction.update(ref, lease)
            return "mine", current | lease

        taken: tuple[str, dict[str, Any]] = transact(runtime.db, decide)[0]
        return taken

    def _renew_holding(
        self, runtime: Runtime, source: Source, current: dict[str, Any], owner: str
    ) -> Held:
        version = int(current["version"])
        workspace_id, account_id = source.workspace_id, source.account_id
        name = self.secret_name(workspace_id, account_id, version + 1)
        try:
            try:
                # A renewer that died after storing the next version, before moving the
                # pointer: that version is the live one (it rotated the refresh token).
                stored = json.loads(runtime.secrets.get(name))
                log.warning("adopting credentials a dead renewer stored", account_id=account_id)
            except SecretNotFound:
                stored = None
            if stored is None:
                held: dict[str, Any] | None = None
                if current.get("secret_ref"):
                    try:
                        held = json.loads(runtime.secrets.get(current["secret_ref"]))
                    except SecretNotFound:
                        held = None
                try:
                    renewed = source.renew(held)
                except Refused as exc:
                    self._lose(runtime, source, owner, exc)
                    raise Lost(exc.reason, exc.status) from exc
                stored = _stored(renewed)
                runtime.secrets.put(name, json.dumps(stored))
        except Lost:
            raise
        except BaseException as exc:
            # A provider that asked to wait (429) is not asked again by every waiter in
            # turn: the lineage remembers until when.
            self._release(runtime, account_id, owner, not_before=_wait_until(exc))
            raise
        expires = datetime.fromisoformat(stored["expires_at"])
        self._commit(runtime, account_id, owner, version, name, expires)
        if version > 1:
            # Version v stays (other processes may still use its access part); v-1 goes.
            runtime.secrets.delete(self.secret_name(workspace_id, account_id, version - 1))
        log.info(
            "credentials renewed",
            collection=self.collection,
            account_id=account_id,
            version=version + 1,
        )
        return Held(version + 1, stored, expires)

    def _commit(
        self,
        runtime: Runtime,
        account_id: str,
        owner: str,
        version: int,
        name: str,
        expires: datetime,
    ) -> None:
        ref = runtime.db.collection(self.collection).document(account_id)

        def decide(transaction: Any) -> None:
            current = ref.get(transaction=transaction).to_dict() or {}
            if current.get("version") != version or current.get("lease_owner") != owner:
                # Only a holder whose lease had run out gets here; whoever took it over
                # adopted the same secret. Nothing to move.
                return
            transaction.update(
                ref,
                {
                    "version": version + 1,
                    "secret_ref": name,
                    "access_expires_at": expires,
                    "lease_owner": None,
                    "lease_until": None,
                    "renew_not_before": None,
                    "refreshed_at": _now(runtime),
                },
            )

        transact(runtime.db, decide)

    def _release(
        self, runtime: Runtime, account_id: str, owner: str, not_before: datetime | None = None
    ) -> None:
        ref = runtime.db.collection(self.collection).document(account_id)
        changes: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if not_before is not None:
            changes["renew_not_before"] = not_before

        def decide(transaction: Any) -> None:
            current = ref.get(transaction=transaction).to_dict() or {}
            if current.get("lease_owner") == owner:
                transaction.update(ref, changes)

        transact(runtime.db, decide)

    def _lose(self, runtime: Runtime, source: Source, owner: str, refused: Refused) -> None:
        """The lineage is gone: record it once, flag the account (the source), alert once."""
        ref = runtime.db.collection(self.collection).document(source.account_id)

        def decide(transaction: Any) -> bool:
            current = ref.get(transaction=transaction).to_dict() or {}
            if current.get("lease_owner") != owner or current.get("lost_at"):
                return False
            source.flag(transaction, refused)
            transaction.update(
                ref,
                {
                    "lost_at": _now(runtime),
                    "lost_reason": refused.reason,
                    "lost_status": refused.status,
                    "lease_owner": None,
                    "lease_until": None,
                },
            )
            return True

        if transact(runtime.db, decide)[0]:
            self.forget(runtime, source.account_id)
            source.announce(refused)


def _wait_until(exc: BaseException) -> datetime | None:
    """Until when a renewal's failure says to wait: a rate-limit error's `reset_at`
    (the sources' errors carry it), else not at all."""
    until = getattr(exc, "reset_at", None)
    return until if isinstance(until, datetime) else None


def _now(runtime: Runtime) -> datetime:
    return runtime.clock.now()


def _stored(renewed: Renewed) -> dict[str, Any]:
    return renewed.credentials | {"expires_at": renewed.expires_at.isoformat()}


def _document(
    source: Source, version: int, ref: str | None, expires: datetime | None, now: datetime
) -> dict[str, Any]:
    return {
        "workspace_id": source.workspace_id,
        "account_id": source.account_id,
        "version": version,
        "secret_ref": ref,
        "access_expires_at": expires,
        "lease_owner": None,
        "lease_until": None,
        "lost_at": None,
        "lost_reason": None,
        "lost_status": None,
        "refreshed_at": now,
    }
