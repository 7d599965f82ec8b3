"""Sign-in: bearer tokens (PyJWT, HS256), revocation and brute-force throttling.

Tokens are short-lived (1 h) and carry a `jti`; logout writes `revoked_tokens/{jti}`
whose `expires_at` (the token's own expiry) drives a Firestore TTL policy, so the
collection never grows beyond the tokens still alive. The signing key is the app secret
`token-signing-key` (Secret Manager in production). Expiry is checked against the
runtime clock (injectable), not the system time, so tests can move time.

Throttling counts failed sign-ins in fixed windows, per username and per client IP:
`login_attempts/{kind}-{hash}-{window}` created with `create()` and bumped with a
top-level `Increment` (one atomic write, no transaction to retry under contention). Every
attempt is refused while a counter is at its limit, before the password is checked.
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

THROTTLE_WINDOW = timedelta(minutes=15)
# Failed sign-ins allowed per window before every attempt is refused until it ends.
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_IP = 30


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


def _window(now: datetime) -> tuple[int, datetime]:
    size = int(THROTTLE_WINDOW.total_seconds())
    index = int(now.timestamp()) // size
    return index, datetime.fromtimestamp((index + 1) * size, UTC)


def _counter_ids(username: str, ip: str, now: datetime) -> list[tuple[str, int]]:
    index, _ = _window(now)

    def digest(value: str) -> str:
        # Hashed: usernames and addresses do not show in document ids.
        return hashlib.sha256(value.encode()).hexdigest()[:32]

    return [
        (f"user-{digest(username.strip().lower())}-{index}", MAX_FAILURES_PER_USERNAME),
        (f"ip-{digest(ip)}-{index}", MAX_FAILURES_PER_IP),
    ]


def check_throttle(runtime: Runtime, username: str, ip: str) -> None:
    now = runtime.clock.now()
    db = runtime.db
    ids = _counter_ids(username, ip, now)
    refs = [db.collection(ATTEMPTS).document(doc_id) for doc_id, _ in ids]
    counts = {s.id: int(s.get("count") or 0) for s in db.get_all(refs) if s.exists}
    for doc_id, limit in ids:
        if counts.get(doc_id, 0) >= limit:
            _, ends = _window(now)
            wait = max(1, int((ends - now).total_seconds()))
            raise RateLimited(
                f"too many failed sign-in attempts; try again in {(wait + 59) // 60} minutes",
                details={"retry_after_s": wait},
            )


def record_failure(runtime: Runtime, username: str, ip: str) -> None:
    from google.cloud.firestore import Increment

    now = runtime.clock.now()
    _, ends = _window(now)
    db = runtime.db
    for doc_id, _ in _counter_ids(username, ip, now):
        ref = db.collection(ATTEMPTS).document(doc_id)
        try:
            ref.create({"count": 1, "kind": doc_id.split("-", 1)[0], "expires_at": ends})
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            ref.update({"count": Increment(1)})


def client_ip(request: Any) -> str:
    """The caller's address. Google's front end appends the client address as the last
    X-Forwarded-For entry; earlier entries are whatever the client sent, so not trusted."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return str(request.remote_addr or "unknown")


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
    token, expires = issue_token(runtime, user_id)
    return user_id, token, expires
