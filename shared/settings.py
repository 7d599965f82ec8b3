"""One typed settings object, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

FUNCTION_NAMES = (
    "api",
    "dispatch",
    "post_tweet",
    "send_email",
    "import_contacts",
    "collect_metrics",
    "generate",
    "track",
    "publish_ads",
    "segment",
    "read_bounces",
)
# `make dev`'s fixed ports (local/stack.py): the admin page, then one per function in
# FUNCTION_NAMES' order. The local defaults below are derived from them.
LOCAL_ADMIN_PORT = 8700
LOCAL_FUNCTION_PORTS = {name: LOCAL_ADMIN_PORT + 1 + i for i, name in enumerate(FUNCTION_NAMES)}
QUEUE_KINDS = (
    "tweets",
    "emails",
    "imports",
    "bounces",
    "ads",
    "segments",
    "metrics",
    "generate",
)
ENVIRONMENTS = ("local", "test", "production")


class SettingsError(ValueError):
    """The environment describes a configuration Herald refuses to run with."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"expected a boolean (1/0, true/false), got {value!r}")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _check_destination(entry: str) -> None:
    """An address, a network or a host name (HERALD_SMTP_ALLOWED_DESTINATIONS)."""
    import ipaddress
    import re

    try:
        ipaddress.ip_network(entry, strict=False)
        return
    except ValueError:
        pass
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", entry):
        raise SettingsError(
            f"HERALD_SMTP_ALLOWED_DESTINATIONS: {entry!r} is not an address, a network "
            "(CIDR) or a host name"
        )


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the environment variable that sets it in comments."""

    env: str = "local"  # HERALD_ENV: local | test | production
    project_id: str = "herald-local"  # GOOGLE_CLOUD_PROJECT
    region: str = "europe-west1"  # HERALD_REGION (Cloud Functions and Cloud Tasks location)
    firestore_database: str = "(default)"  # HERALD_FIRESTORE_DATABASE
    firestore_emulator_host: str | None = None  # FIRESTORE_EMULATOR_HOST
    tasks_emulator_host: str | None = None  # HERALD_TASKS_EMULATOR_HOST
    # Service account whose OIDC token Cloud Tasks attaches when calling workers.
    tasks_service_account: str | None = None  # HERALD_TASKS_SERVICE_ACCOUNT
    queue_prefix: str = "herald-"  # HERALD_QUEUE_PREFIX: queue id = prefix + kind
    function_urls: Mapping[str, str] = field(default_factory=dict)  # HERALD_URL_<FUNCTION>
    # Sandbox providers record instead of publishing; never allowed in production.
    sandbox: bool = False  # HERALD_SANDBOX
    secrets_dir: str = ".herald/secrets"  # HERALD_SECRETS_DIR (local encrypted store)
    secrets_key: str | None = None  # HERALD_SECRETS_KEY (Fernet key; else a key file)
    # HERALD_TRACK_URL (public); HERALD_ADMIN_ORIGIN (CORS); defaults: make dev's
    track_base_url: str = f"http://127.0.0.1:{LOCAL_FUNCTION_PORTS['track']}"
    admin_origin: str = f"http://127.0.0.1:{LOCAL_ADMIN_PORT}"
    media_bucket: str | None = None  # HERALD_MEDIA_BUCKET (production image store)
    media_dir: str = ".herald/media"  # HERALD_MEDIA_DIR (local image store)
    dispatch_lookahead_s: int = 90  # HERALD_DISPATCH_LOOKAHEAD_S
    email_batch_size: int = 50  # HERALD_EMAIL_BATCH_SIZE
    # How long a send_email run holds its batch between renewals; tests shorten it.
    # Production keeps 60 s: the 2-minute resume after a crash is computed with it.
    email_lease_s: int = 60  # HERALD_EMAIL_LEASE_S
    gemini_model: str = "gemini-2.5-flash"  # HERALD_GEMINI_MODEL
    log_level: str = "INFO"  # HERALD_LOG_LEVEL
    # Base URL replacing https://api.x.com for X API calls (a proxy; the chaos benchmark).
    x_api_base: str | None = None  # HERALD_X_API_BASE
    # Where people authorize Herald on X (OAuth 2.0 with PKCE); a local stand-in in tests.
    x_authorize_url: str = "https://x.com/i/oauth2/authorize"  # HERALD_X_OAUTH2_AUTHORIZE_URL
    # How long an item may sit queued past its instant before dispatch decides its task
    # was lost and enqueues it again; unset = each pipeline's own default.
    recovery_grace_s: int | None = None  # HERALD_RECOVERY_GRACE_S
    # X's prices: JSON merged over shared/x/prices.json (they change; see shared.x.prices).
    x_prices: str | None = None  # HERALD_X_PRICES
    # X reads (posts looked up) a workspace may spend per calendar month; a workspace
    # document's `metrics_read_budget` overrides it. 0 stops X metric pulls.
    metrics_read_budget: int = 10_000  # HERALD_METRICS_READ_BUDGET
    metrics_rollup_interval_s: int = 3600  # HERALD_METRICS_ROLLUP_INTERVAL_S (ads rollups)
    # X-Forwarded-For entries, counted from the end, that proxies in front of the API
    # appended: Google's front end appends "<client>, <load balancer>", so 2. The client
    # address (sign-in throttling) is the first of them; 0 ignores the header.
    trusted_proxies: int = 2  # HERALD_TRUSTED_PROXIES
    # SMTP destinations allowed although private, loopback, link-local or reserved (in
    # production those are refused): comma-separated addresses, networks (CIDR) or host
    # names, e.g. "10.0.8.0/24,relay.internal". Outside production nothing is refused.
    smtp_allowed_destinations: tuple[str, ...] = ()  # HERALD_SMTP_ALLOWED_DESTINATIONS

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def queue_id(self, kind: str) -> str:
        if kind not in QUEUE_KINDS:
            raise SettingsError(f"unknown queue kind {kind!r}; expected one of {QUEUE_KINDS}")
        return f"{self.queue_prefix}{kind}"

    def function_url(self, name: str) -> str:
        if name not in FUNCTION_NAMES:
            raise SettingsError(f"unknown function {name!r}")
        url = self.function_urls.get(name)
        if url:
            return url
        # Cloud Functions (2nd gen) default URL shape.
        return f"https://{self.region}-{self.project_id}.cloudfunctions.net/{name}"

    def recovery_grace(self, default: timedelta) -> timedelta:
        return timedelta(seconds=self.recovery_grace_s) if self.recovery_grace_s else default

    def check(self) -> Settings:
        """Refuse configurations that would silently do the wrong thing."""
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"HERALD_ENV must be one of {ENVIRONMENTS}, got {self.env!r}")
        if self.is_production:
            if self.sandbox:
                raise SettingsError(
                    "HERALD_SANDBOX is on in production: sandbox providers record posts and "
                    "emails instead of sending them. Unset HERALD_SANDBOX."
                )
            if self.firestore_emulator_host or self.tasks_emulator_host:
                raise SettingsError("emulator hosts are set in production")
            if self.x_api_base and not self.x_api_base.startswith("https://"):
                raise SettingsError("HERALD_X_API_BASE must be an https:// URL in production")
            if not self.x_authorize_url.startswith("https://"):
                raise SettingsError("HERALD_X_OAUTH2_AUTHORIZE_URL must be https in production")
            # The local defaults would put 127.0.0.1 in every email's links and pixel.
            if not self.track_base_url.startswith("https://"):
                raise SettingsError("HERALD_TRACK_URL must be track's public https:// URL")
            if not self.admin_origin.startswith("https://"):
                raise SettingsError("HERALD_ADMIN_ORIGIN must be the admin page's https origin")
        if self.email_batch_size < 1 or self.email_batch_size > 500:
            raise SettingsError("HERALD_EMAIL_BATCH_SIZE must be between 1 and 500")
        if not 2 <= self.email_lease_s <= 60 or (self.is_production and self.email_lease_s != 60):
            raise SettingsError(
                "HERALD_EMAIL_LEASE_S shortens send_email's batch lease for tests (2-60 s); "
                "production uses 60 s"
            )
        if not 0 <= self.trusted_proxies <= 10:
            raise SettingsError("HERALD_TRUSTED_PROXIES must be between 0 and 10")
        for entry in self.smtp_allowed_destinations:
            _check_destination(entry)
        if self.dispatch_lookahead_s < 60:
            # Scheduler ticks every minute: a shorter window would leave gaps.
            raise SettingsError("HERALD_DISPATCH_LOOKAHEAD_S must be at least 60")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        urls = {
            name: env[f"HERALD_URL_{name.upper()}"]
            for name in FUNCTION_NAMES
            if env.get(f"HERALD_URL_{name.upper()}")
        }
        defaults = cls()
        return cls(
            env=env.get("HERALD_ENV", defaults.env),
            project_id=env.get("GOOGLE_CLOUD_PROJECT", defaults.project_id),
            region=env.get("HERALD_REGION", defaults.region),
            firestore_database=env.get("HERALD_FIRESTORE_DATABASE", defaults.firestore_database),
            firestore_emulator_host=env.get("FIRESTORE_EMULATOR_HOST") or None,
            tasks_emulator_host=env.get("HERALD_TASKS_EMULATOR_HOST") or None,
            tasks_service_account=env.get("HERALD_TASKS_SERVICE_ACCOUNT") or None,
            queue_prefix=env.get("HERALD_QUEUE_PREFIX", defaults.queue_prefix),
            function_urls=urls,
            sandbox=_bool(env.get("HERALD_SANDBOX")),
            secrets_dir=env.get("HERALD_SECRETS_DIR", defaults.secrets_dir),
            secrets_key=env.get("HERALD_SECRETS_KEY") or None,
            track_base_url=env.get("HERALD_TRACK_URL", defaults.track_base_url).rstrip("/"),
            admin_origin=env.get("HERALD_ADMIN_ORIGIN", defaults.admin_origin).rstrip("/"),
            media_bucket=env.get("HERALD_MEDIA_BUCKET") or None,
            media_dir=env.get("HERALD_MEDIA_DIR", defaults.media_dir),
            dispatch_lookahead_s=_int(env, "HERALD_DISPATCH_LOOKAHEAD_S", 90),
            email_batch_size=_int(env, "HERALD_EMAIL_BATCH_SIZE", 50),
            email_lease_s=_int(env, "HERALD_EMAIL_LEASE_S", 60),
            gemini_model=env.get("HERALD_GEMINI_MODEL", defaults.gemini_model),
            log_level=env.get("HERALD_LOG_LEVEL", defaults.log_level).upper(),
            x_api_base=(env.get("HERALD_X_API_BASE") or "").rstrip("/") or None,
            x_authorize_url=env.get("HERALD_X_OAUTH2_AUTHORIZE_URL") or defaults.x_authorize_url,
            recovery_grace_s=_int(env, "HERALD_RECOVERY_GRACE_S", 0) or None,
            x_prices=env.get("HERALD_X_PRICES") or None,
            metrics_read_budget=_int(env, "HERALD_METRICS_READ_BUDGET", 10_000),
            metrics_rollup_interval_s=_int(env, "HERALD_METRICS_ROLLUP_INTERVAL_S", 3600),
            trusted_proxies=_int(env, "HERALD_TRUSTED_PROXIES", defaults.trusted_proxies),
            smtp_allowed_destinations=tuple(
                e.strip()
                for e in env.get("HERALD_SMTP_ALLOWED_DESTINATIONS", "").split(",")
                if e.strip()
            ),
        ).check()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
