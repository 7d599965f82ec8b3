"""What a handler receives: the request, the runtime, who is calling and in which workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.tenancy import Role


@dataclass
class Reply:
    """A handler result with a status or headers other than the route's defaults."""

    data: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    request: Any  # flask.Request
    runtime: Runtime
    params: dict[str, str]
    user_id: str | None = None
    username: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    role: Role | None = None
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    query: Any = None  # the route's query model instance
    body: Any = None  # the route's body model instance (or None for uploads)

    @property
    def db(self) -> Any:
        return self.runtime.db

    def now(self) -> datetime:
        return self.runtime.clock.now()

    @property
    def ws(self) -> str:
        return self.params["ws"]

    def obj(self, name: str) -> dict[str, Any]:
        """The workspace's document named by path parameter `name` (already checked)."""
        return self.objects[name]

    def upload(self) -> tuple[str, bytes]:
        """The uploaded file of a multipart route: (file name, bytes)."""
        storage = self.request.files.get("file")
        if storage is None:
            raise ValidationError(
                "no file was uploaded; send multipart/form-data with the file under 'file'",
                details=[{"field": "file", "message": "required"}],
            )
        data = storage.read()
        if not data:
            raise ValidationError("the uploaded file is empty", details=[{"field": "file"}])
        return storage.filename or "upload", data

    def form(self, name: str, default: str | None = None) -> str | None:
        value = self.request.form.get(name)
        return default if value in (None, "") else str(value)
