"""Secrets: Secret Manager in production, an encrypted-at-rest file store locally.

Per-user secrets (X tokens, SMTP passwords, ad platform credentials) are written with
`put()` and only a reference (`secret_ref`) is stored in Firestore. App secrets (token
signing key, tracking HMAC key, Gemini API key) are read with `app_secret()`.
Values never pass through the logger (see shared.log redaction).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets as pysecrets
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.settings import Settings


class SecretNotFound(KeyError):
    """No secret under that name; the message says which and where it was looked for."""


_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid secret name {name!r}: use letters, digits, '-' and '_'")
    return name


class SecretStore(Protocol):
    def get(self, name: str) -> str: ...

    def put(self, name: str, value: str) -> str:
        """Store a new version; returns the reference to keep in Firestore."""
        ...

    def delete(self, name: str) -> None: ...


class EncryptedFileStore:
    """Local per-user secrets: one Fernet-encrypted file per secret, key kept apart.

    The key comes from HERALD_SECRETS_KEY or a key file created with mode 0600 beside
    the store. File names are hashes, so even the secret names do not show on disk.
    """

    def __init__(self, directory: str | Path, key: str | None = None) -> None:
        from cryptography.fernet import Fernet

        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fernet = Fernet(key.encode() if key else self._key_from_file())

    def _key_from_file(self) -> bytes:
        from cryptography.fernet import Fernet

        key_path = self._dir / ".key"
        if not key_path.exists():
            # Several function processes may start at once: the key is written whole to a
            # file of this process's own, then linked into place, which fails if another
            # process got there first; then the winner's key is the one to use.
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".key-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(Fernet.generate_key())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, key_path)
            finally:
                os.unlink(tmp)
        return key_path.read_bytes().strip()

    def _path(self, name: str) -> Path:
        digest = hashlib.sha256(_check_name(name).encode()).hexdigest()
        return self._dir / f"{digest}.secret"

    def get(self, name: str) -> str:
        path = self._path(name)
        if not path.exists():
            raise SecretNotFound(f"secret {name!r} is not in the local store {self._dir}")
        return self._fernet.decrypt(path.read_bytes()).decode()

    def put(self, name: str, value: str) -> str:
        path = self._path(name)
        token = self._fernet.encrypt(value.encode())
        # A temporary file of this writer's own (other processes may write the same
        # secret), then an atomic rename: a reader never sees half a token.
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".put-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(token)
        os.replace(tmp, path)
        return name

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


class SecretManagerStore:
    """Google Secret Manager; the client is imported on first use (cold start)."""

    def __init__(self, project_id: str, prefix: str = "herald-") -> None:
        self._project = project_id
        self._prefix = prefix
        self._client: Any = None

    def _sm(self) -> Any:
        if self._client is None:
            from google.cloud import secretmanager

            self._client = secretmanager.SecretManagerServiceClient()
        return self._client

    def _secret_path(self, name: str) -> str:
        return f"projects/{self._project}/secrets/{self._prefix}{_check_name(name)}"

    def get(self, name: str) -> str:
        from google.api_core import exceptions

        try:
            response = self._sm().access_secret_version(
                name=f"{self._secret_path(name)}/versions/latest"
            )
        except exceptions.NotFound as exc:
            raise SecretNotFound(f"secret {name!r} not found in Secret Manager") from exc
        return str(response.payload.data.decode())

    def put(self, name: str, value: str) -> str:
        from google.api_core import exceptions

        sm = self._sm()
        with contextlib.suppress(exceptions.AlreadyExists):
            sm.create_secret(
                parent=f"projects/{self._project}",
                secret_id=f"{self._prefix}{_check_name(name)}",
                secret={"replication": {"automatic": {}}, "labels": {"managed-by": "herald"}},
            )
        sm.add_secret_version(parent=self._secret_path(name), payload={"data": value.encode()})
        return name

    def delete(self, name: str) -> None:
        from google.api_core import exceptions

        with contextlib.suppress(exceptions.NotFound):
            self._sm().delete_secret(name=self._secret_path(name))


def user_secret_name(workspace_id: str, kind: str, item_id: str) -> str:
    """Name for a per-workspace secret, e.g. ('ws1', 'x-token', 'acct9')."""
    return _check_name(f"ws-{workspace_id}-{kind}-{item_id}")


# App secrets that may be generated on first use in the local stack; in production
# they must exist in Secret Manager (created by Terraform, value set by the operator).
GENERATED_LOCALLY = frozenset({"token-signing-key", "track-hmac-key"})


class Secrets:
    """The resolver the rest of the code uses."""

    def __init__(self, settings: Settings, store: SecretStore | None = None) -> None:
        self._settings = settings
        self._store = store
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> SecretStore:
        if self._store is None:
            if self._settings.is_production:
                self._store = SecretManagerStore(self._settings.project_id)
            else:
                self._store = EncryptedFileStore(
                    self._settings.secrets_dir, self._settings.secrets_key
                )
        return self._store

    def app_secret(self, name: str) -> str:
        """An app-wide secret: env HERALD_SECRET_<NAME> locally, Secret Manager in production."""
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        value: str
        env_name = "HERALD_SECRET_" + name.upper().replace("-", "_")
        if not self._settings.is_production and os.environ.get(env_name):
            value = os.environ[env_name]
        else:
            try:
                value = self.store.get(f"app-{name}")
            except SecretNotFound:
                if self._settings.is_production or name not in GENERATED_LOCALLY:
                    raise
                value = base64.urlsafe_b64encode(pysecrets.token_bytes(32)).decode()
                self.store.put(f"app-{name}", value)
        with self._lock:
            self._cache[name] = value
        return value

    def optional_app_secret(self, name: str) -> str | None:
        try:
            return self.app_secret(name)
        except SecretNotFound:
            return None

    def get(self, ref: str) -> str:
        return self.store.get(ref)

    def put(self, name: str, value: str) -> str:
        return self.store.put(name, value)

    def delete(self, ref: str) -> None:
        self.store.delete(ref)
