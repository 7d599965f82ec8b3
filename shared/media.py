"""Media store for post images: local files in development, Cloud Storage in production.

A ref is an opaque string kept on the post (`media` list): `file:<workspace>/<name>`
locally, `gs://<bucket>/<workspace>/<name>` in production. Objects are written once
under a random name and never overwritten, so a ref always means the same bytes.
"""

from __future__ import annotations

import json
import mimetypes
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from shared.runtime import Runtime

ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_BYTES = 5 * 1024 * 1024  # X's image limit
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def _check(workspace_id: str, data: bytes, content_type: str) -> str:
    if not _SAFE.match(workspace_id):
        raise ValidationError("invalid workspace id for media")
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype not in ALLOWED_TYPES:
        raise ValidationError(
            f"unsupported image type {content_type!r}; use JPEG, PNG, GIF or WebP",
            {"allowed": sorted(ALLOWED_TYPES)},
        )
    if not data:
        raise ValidationError("the image is empty")
    if len(data) > MAX_BYTES:
        raise ValidationError(
            f"the image is {len(data)} bytes; X accepts at most {MAX_BYTES}",
            {"max_bytes": MAX_BYTES},
        )
    return ctype


def _object_name(workspace_id: str, ctype: str) -> str:
    ext = mimetypes.guess_extension(ctype) or ".bin"
    return f"{workspace_id}/{uuid.uuid4().hex}{ext}"


def put(runtime: Runtime, workspace_id: str, data: bytes, content_type: str) -> str:
    """Store the bytes; returns the ref to keep on the post."""
    ctype = _check(workspace_id, data, content_type)
    name = _object_name(workspace_id, ctype)
    bucket = runtime.settings.media_bucket
    if bucket:
        blob = _bucket(bucket).blob(name)
        # if_generation_match=0: create only, never overwrite an existing object.
        blob.upload_from_string(data, content_type=ctype, if_generation_match=0)
        return f"gs://{bucket}/{name}"
    path = Path(runtime.settings.media_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_name(path.name + ".meta").write_text(json.dumps({"content_type": ctype}))
    return f"file:{name}"


def get(runtime: Runtime, ref: str) -> tuple[bytes, str]:
    """The bytes and content type behind a ref; NotFound if they are gone."""
    if ref.startswith("gs://"):
        bucket, _, name = ref[5:].partition("/")
        from google.api_core import exceptions

        blob = _bucket(bucket).blob(name)
        try:
            data = blob.download_as_bytes()
        except exceptions.NotFound as exc:
            raise NotFound(f"image {ref} no longer exists") from exc
        return data, blob.content_type or "application/octet-stream"
    if ref.startswith("file:"):
        name = ref[5:]
        base = Path(runtime.settings.media_dir).resolve()
        path = (base / name).resolve()
        if base not in path.parents or not path.is_file():
            raise NotFound(f"image {ref} does not exist")
        meta = path.with_name(path.name + ".meta")
        ctype = json.loads(meta.read_text())["content_type"] if meta.exists() else None
        return path.read_bytes(), ctype or mimetypes.guess_type(path.name)[0] or "image/png"
    raise ValidationError(f"not a media ref: {ref!r}")


MAX_LISTED = 500


def list_media(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's images, newest first (at most MAX_LISTED): the media library.

    Listed from the store itself (a bucket prefix or a directory), so an image is in
    the library as soon as its upload returned its ref."""
    if not _SAFE.match(workspace_id):
        raise ValidationError("invalid workspace id for media")
    bucket = runtime.settings.media_bucket
    items: list[dict[str, Any]] = []
    if bucket:
        for blob in _bucket(bucket).list_blobs(prefix=f"{workspace_id}/"):
            items.append(
                {
                    "ref": f"gs://{bucket}/{blob.name}",
                    "content_type": blob.content_type or "application/octet-stream",
                    "bytes": int(blob.size or 0),
                    "created_at": blob.time_created.isoformat() if blob.time_created else None,
                }
            )
    else:
        from datetime import UTC, datetime

        base = Path(runtime.settings.media_dir) / workspace_id
        for path in base.glob("*") if base.is_dir() else ():
            if path.suffix == ".meta" or not path.is_file():
                continue
            meta = path.with_name(path.name + ".meta")
            ctype = json.loads(meta.read_text())["content_type"] if meta.exists() else None
            stat = path.stat()
            items.append(
                {
                    "ref": f"file:{workspace_id}/{path.name}",
                    "content_type": ctype or mimetypes.guess_type(path.name)[0] or "image/png",
                    "bytes": stat.st_size,
                    "created_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
                }
            )
    items.sort(key=lambda m: (m["created_at"] or "", m["ref"]), reverse=True)
    return items[:MAX_LISTED]


def workspace_of(ref: str) -> str | None:
    """The workspace a ref belongs to (refs are namespaced by workspace)."""
    body = ref[5:] if ref.startswith("file:") else ref[5:].partition("/")[2]
    head = body.split("/", 1)[0]
    return head or None


_buckets: dict[str, Any] = {}


def _bucket(name: str) -> Any:
    bucket = _buckets.get(name)
    if bucket is None:
        from google.cloud import storage  # type: ignore[attr-defined]

        bucket = storage.Client().bucket(name)
        _buckets[name] = bucket
    return bucket
