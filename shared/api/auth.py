"""Sign-in: bearer tokens (PyJWT, HS256), revocation and brute-force throttling.

Tokens are short-lived (1 h) and carry a `jti`; logout writes `revoked_tokens/{jti}`
whose `expires_at` (the token's own expiry) drives a Firestore TTL policy, so the
collection never grows beyond the tokens still alive. The signing key is the app secret
`token-signing-key` (Secret Manager in production). Expiry is checked against the
runtime clock (injectable), not the system time, so tests can move time.

Throttling counts failed sign-ins in hourly windows, per (username, client address) and
per client address: `login_attempts/{kind}-{hash}-{window}` created with `create()` and
bumped with a top-level `Increment`. After a few free failures each further one doubles
the wait before the next attempt (2 s up to 15 min), checked before the password is. A
username is never locked for everyone: failures from one address do not slow the same
user down on another (see docs/security.md). The client address comes from
X-Forwarded-For as far as HERALD_TRUSTED_PROXIES proxies vouch for it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from shared.errors import RateLimited, Unauthenticated
from shared.firestore import is_already_exists
from shared.runtime import Runtime
from shared.tenancy import USERS, find_user, hash_password, verify_password

REVOKED = "revoked_tokens"
ATTEMPTS = "login_attempts"
TOKEN_TTL = timedelta(hours=1)
MAX_SESSION = timedelta(hours=12)  # refreshing never keeps a sign-in alive longer
ISSUER = "herald-api"
AUDIENCE = "herald-admin"
ALGORITHM = "HS256"
SIGNING_KEY = "token-signing-key"

THROTTLE_WINDOW = timedelta(hours=1)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified when the username does not exist, so both cases cost the same argon2 time."""
    return hash_password(uuid.uuid4().hex)


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    claims: dict[str, Any]


def _key(runtime: Runtime) -> str:
    return runtime.secrets.app_secret(SIGNING_KEY)


def issue_token(
    runtime: Runtime, user_id: str, auth_time: int | None = None
) -> tuple[str, datetime]:
    """A signed token for 1 h; `auth_time` is when the password was given (kept on refresh)."""
    import jwt

    now = runtime.clock.now()
    auth_time = int(now.timestamp()) if auth_time is None else auth_time
    expires = min(now + TOKEN_TTL, datetime.fromtimestamp(auth_time, UTC) + MAX_SESSION)
    claims = {
        "sub": user_id,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "auth_time": auth_time,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, _key(runtime), algorithm=ALGORITHM), expires


def refresh(runtime: Runtime, claims: dict[str, Any]) -> tuple[str, datetime]:
    """A fresh token for a valid one, which is revoked; never past MAX_SESSION of sign-in.

    Lets an active page stay signed in without keeping long-lived tokens around."""
    auth_time = int(claims.get("auth_time") or claims["iat"])
    ends = datetime.fromtimestamp(auth_time, UTC) + MAX_SESSION
    if runtime.clock.now() >= ends - timedelta(minutes=5):
        raise Unauthenticated(
            f"you signed in more than {MAX_SESSION.total_seconds() / 3600:g} hours ago; "
            "sign in again"
        )
    revoke(runtime, claims)
    return issue_token(runtime, str(claims["sub"]), auth_time)


def bearer(request: Any) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated("sign in first: this needs an Authorization: Bearer <token> header")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def decode(runtime: Runtime, token: str) -> dict[str, Any]:
    """The token's claims if its signature, issuer, audience and expiry are good."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(runtime),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Time is checked below against the runtime clock.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["sub", "jti", "exp", "iat"],
            },
        )
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("your session token is not valid; sign in again") from exc
    now = runtime.clock.now().timestamp()
    if not isinstance(claims["exp"], int) or claims["exp"] <= now:
        raise Unauthenticated("your session has expired; sign in again")
    return claims


def authenticate(runtime: Runtime, request: Any) -> Identity:
    """Who is calling: a valid, unrevoked token of an existing, enabled user."""
    claims = decode(runtime, bearer(request))
    db = runtime.db
    revoked_ref = db.collection(REVOKED).document(str(claims["jti"]))
    user_ref = db.collection(USERS).document(str(claims["sub"]))
    # One round trip for both documents.
    snaps = {snap.reference.path: snap for snap in db.get_all([revoked_ref, user_ref])}
    if snaps[revoked_ref.path].exists:
        raise Unauthenticated("you have signed out with this token; sign in again")
    user = snaps[user_ref.path]
    if not user.exists or user.get("disabled"):
        raise Unauthenticated("this account no longer exists or is disabled")
    changed = user.to_dict().get("password_changed_at")
    if changed is not None and int(claims.get("auth_time") or claims["iat"]) < int(
        changed.timestamp()
    ):
        # Every session signed in before a password change ends with it.
        raise Unauthenticated("the password was changed; sign in again")
    return Identity(user_id=user.id, username=str(user.get("username")), claims=claims)


def revoke(runtime: Runtime, claims: dict[str, Any]) -> None:
    expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
    runtime.db.collection(REVOKED).document(str(claims["jti"])).set(
        {"user_id": claims["sub"], "revoked_at": runtime.clock.now(), "expires_at": expires}
    )


# -- throttling -------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """Failures allowed free within a window, then a doubling wait after each one."""

    kind: str
    free: int
    first_wait_s: int = 2
    max_wait_s: int = 15 * 60

    def wait_s(self, count: int) -> int:
        if count < self.free:
            return 0
        return min(self.first_wait_s * 2 ** min(count - self.free, 20), self.max_wait_s)


# Keyed to the pair (username, client address): failures from other addresses never slow
# a user down on their own address, so nobody can lock an account out from elsewhere.
PER_USER_AND_CLIENT = Limit("pair", free=5)
# Keyed to the client address over every username: password spraying from one address.
PER_CLIENT = Limit("ip", free=30)


def _window(now: datetime) -> tuple[int, datetime]:
    size = int(THROTTLE_WINDOW.total_seconds())
    index = int(now.timestamp()) // size
    return index, datetime.fromtimestamp((index + 1) * size, UTC)


def _digest(value: str) -> str:
    # Hashed: usernames and addresses do not show in document ids.
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


def _counters(username: str, ip: str, now: datetime) -> list[tuple[str, Limit]]:
    index, _ = _window(now)
    name = username.strip().lower()
    return [
        (f"pair-{_digest(name + chr(0) + ip)}-{index}", PER_USER_AND_CLIENT),
        (f"ip-{_digest(ip)}-{index}", PER_CLIENT),
    ]


def check_throttle(runtime: Runtime, username: str, ip: str) -> None:
    """RateLimited while this user on this client, or this client, must wait."""
    now = runtime.clock.now()
    db = runtime.db
    ids = _counters(username, ip, now)
    refs = [db.collection(ATTEMPTS).document(doc_id) for doc_id, _ in ids]
    snaps = {s.id: s.to_dict() or {} for s in db.get_all(refs) if s.exists}
    for doc_id, limit in ids:
        data = snaps.get(doc_id, {})
        wait = limit.wait_s(int(data.get("count") or 0))
        last = data.get("last_failure_at")
        if not wait or not isinstance(last, datetime):
            continue
        remaining = int((last + timedelta(seconds=wait) - now).total_seconds() + 0.999)
        if remaining > 0:
            raise RateLimited(
                "too many failed sign-in attempts; try again in "
                + (f"{remaining} seconds" if remaining < 120 else f"{remaining // 60} minutes"),
                details={"retry_after_s": remaining},
            )


def record_failure(runtime: Runtime, username: str, ip: str) -> None:
    from google.cloud.firestore import Increment

    now = runtime.clock.now()
    _, ends = _window(now)
    db = runtime.db
    for doc_id, limit in _counters(username, ip, now):
        ref = db.collection(ATTEMPTS).document(doc_id)
        fields = {"last_failure_at": now, "expires_at": ends + THROTTLE_WINDOW}
        try:
            ref.create({"count": 1, "kind": limit.kind, **fields})
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            ref.update({"count": Increment(1), **fields})


def clear_failures(runtime: Runtime, username: str, ip: str) -> None:
    """A right password from this client ends its wait (the per-client count stays)."""
    doc_id, _ = _counters(username, ip, runtime.clock.now())[0]
    runtime.db.collection(ATTEMPTS).document(doc_id).delete()


def login(runtime: Runtime, username: str, password: str, ip: str) -> tuple[str, str, datetime]:
    """(user_id, token, expires_at), or Unauthenticated / RateLimited."""
    check_throttle(runtime, username, ip)
    found = find_user(runtime.db, username)
    if found is None:
        verify_password(_dummy_hash(), password)
        ok = False
    else:
        user_id, user = found
        ok = verify_password(str(user.get("password_hash", "")), password) and not user.get(
            "disabled"
        )
    if not ok or found is None:
        record_failure(runtime, username, ip)
        raise Unauthenticated("the username or password is wrong")
    clear_failures(runtime, username, ip)
    token, expires = issue_token(runtime, user_id)
    return user_id, token, expires
