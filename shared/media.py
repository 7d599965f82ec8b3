"""Media store for posts' images, GIFs and videos and ads' images: a `media` document per
item, bytes in Cloud Storage (production) or local files (development).

Posts and ad creatives refer to media by id only. The document
(`media/{media_id}`: workspace_id, key, content_type, bytes, width, height, source,
created_at) is read through the workspace like every other object, so an id of another
workspace is "not found"; the storage key (`<workspace>/<media_id>.<ext>`) is chosen
here and never comes from a request.

Every image is decoded (Pillow, a format allow-list and a pixel bound), re-encoded and
stripped of its metadata (EXIF, XMP, ICC, comments) before it is stored: what is served
back is always an image that Herald wrote, whatever the upload declared. Videos (MP4,
MOV) cannot be re-encoded without a transcoder: their container is checked box by box
(an `ftyp` first, a `moov`, nothing past the end) and they are stored as uploaded; the
API serves every item with `nosniff` and a sandboxing CSP.

Posts stored before media ids (`file:<ws>/<name>`, `gs://<bucket>/<ws>/<name>`) still
publish: `resolve` reads such a ref only when it names an object of the post's own
workspace written by the old store (one name, no other path segment, the configured
bucket). New requests must use ids; an old-form ref in a request is refused.
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from shared.runtime import Runtime

MEDIA = "media"
# X's limits per kind: images 5 MB, (animated) GIFs 15 MB, videos 512 MB.
LIMITS = {
    "image/jpeg": 5 * 1024 * 1024,
    "image/png": 5 * 1024 * 1024,
    "image/webp": 5 * 1024 * 1024,
    "image/gif": 15 * 1024 * 1024,
    "video/mp4": 512 * 1024 * 1024,
    "video/quicktime": 512 * 1024 * 1024,
}
MAX_BYTES = LIMITS["image/png"]
MAX_IMAGE_BYTES = LIMITS["image/gif"]
MAX_PIXELS = 8192 * 8192  # X's largest; also bounds a decompression bomb's memory
MAX_FRAMES = 300
# Pillow format name -> (content type, extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
ALLOWED_TYPES = frozenset(LIMITS)
# ISO base media file format (MP4, MOV): the box types a file may hold at its top level.
_VIDEO_BOXES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"udta", b"meta", b"pnot"}
)
_ID = re.compile(r"^[0-9a-f]{20}$")
# What the old store wrote: <workspace>/<32 hex>.<ext>, nothing else.
_LEGACY_NAME = re.compile(
    r"^([A-Za-z0-9_-]{1,80})/([0-9a-f]{32}\.(?:png|jpg|jpeg|gif|webp|mp4|mov))$"
)


_LEGACY_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
}


@dataclass(frozen=True)
class Image:
    """A checked item ready to store: an image decoded and re-encoded, or a video whose
    container was checked (no width or height: nothing here decodes its frames)."""

    data: bytes
    content_type: str
    extension: str
    width: int | None
    height: int | None


def clean(data: bytes) -> Image:
    """Check and prepare an upload: a JPEG, PNG, GIF or WebP image is decoded and
    re-encoded without metadata; an MP4 or MOV video has its container checked.

    ValidationError for anything that is not such an item (whatever its declared type),
    is too large for its kind, or does not decode completely."""
    if not data:
        raise ValidationError("the file is empty")
    if data[4:8] == b"ftyp":
        return _video(data)
    return _image(data)


def _too_large(size: int, ctype: str, what: str = "the file") -> ValidationError:
    limit = LIMITS[ctype]
    return ValidationError(
        f"{what} is {size} bytes; X accepts at most {limit} for {ctype}", {"max_bytes": limit}
    )


def _video(data: bytes) -> Image:
    """An MP4 or MOV whose top-level boxes are well formed: `ftyp` first, a `moov`, each
    box within the file."""
    brand = data[8:12]
    ctype, ext = ("video/quicktime", "mov") if brand == b"qt  " else ("video/mp4", "mp4")
    if len(data) > LIMITS[ctype]:
        raise _too_large(len(data), ctype)
    seen: set[bytes] = set()
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise ValidationError("the video's container ends in the middle of a box")
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        header = 8
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
            header = 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - offset
        if kind not in _VIDEO_BOXES or size < header or offset + size > len(data):
            raise ValidationError(
                "the file is not an MP4 or MOV video (its container does not parse)",
                {"allowed": sorted(ALLOWED_TYPES)},
            )
        seen.add(kind)
        offset += size
    if b"moov" not in seen:
        raise ValidationError("the video has no movie header (moov box); export it again")
    return Image(data, ctype, ext, None, None)


def _image(data: bytes) -> Image:
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large(len(data), "image/gif", "the image")
    try:
        im: Any = PILImage.open(io.BytesIO(data), formats=list(FORMATS))
        fmt = str(im.format)
        ctype, ext = FORMATS[fmt]
        if len(data) > LIMITS[ctype]:
            raise _too_large(len(data), ctype, "the image")
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise ValidationError(
                f"the image is {width}x{height} pixels; at most {MAX_PIXELS:,} pixels",
                {"max_pixels": MAX_PIXELS},
            )
        frames = int(getattr(im, "n_frames", 1))
        if frames > MAX_FRAMES:
            raise ValidationError(f"the image has {frames} frames; at most {MAX_FRAMES}")
        im.load()
        out = io.BytesIO()
        if frames > 1:
            _save_animation(im, fmt, out)
        else:
            if fmt == "JPEG":
                im = ImageOps.exif_transpose(im)  # keep the orientation the EXIF gave
                if im.mode not in ("RGB", "L"):
                    im = im.convert("RGB")
            kept = {k: im.info[k] for k in ("transparency",) if k in im.info}
            im.info = kept
            options: dict[str, Any] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
            im.save(out, format=fmt, **options)
    except ValidationError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise ValidationError(
            f"the image has too many pixels; at most {MAX_PIXELS:,}", {"max_pixels": MAX_PIXELS}
        ) from exc
    except UnidentifiedImageError as exc:
        raise ValidationError(
            "the file is not a JPEG, PNG, GIF or WebP image, nor an MP4 or MOV video",
            {"allowed": sorted(ALLOWED_TYPES)},
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValidationError(f"the image could not be decoded: {exc}"[:300]) from exc
    encoded = out.getvalue()
    if len(encoded) > LIMITS[ctype]:
        raise _too_large(len(encoded), ctype, "the image once re-encoded")
    return Image(encoded, ctype, ext, width, height)


def _save_animation(im: Any, fmt: str, out: io.BytesIO) -> None:
    """Every frame, with its timing, and none of the file's metadata."""
    from PIL import ImageSequence

    frames, durations = [], []
    for frame in ImageSequence.Iterator(im):
        durations.append(int(frame.info.get("duration", 100)))
        copy = frame.copy()
        copy.info = {}
        frames.append(copy.convert("RGBA") if fmt == "WEBP" else copy)
    first, rest = frames[0], frames[1:]
    first.save(
        out,
        format=fmt,
        save_all=True,
        append_images=rest,
        duration=durations,
        loop=int(im.info.get("loop", 0)),
    )


def put(runtime: Runtime, workspace_id: str, data: bytes, source: str = "upload") -> dict[str, Any]:
    """Clean and store an image or video; returns its media document (with `id`)."""
    image = clean(data)
    media_id = uuid.uuid4().hex[:20]
    key = f"{workspace_id}/{media_id}.{image.extension}"
    bucket = runtime.settings.media_bucket
    if bucket:
        blob = _bucket(bucket).blob(key)
        # if_generation_match=0: create only, never overwrite an existing object.
        blob.upload_from_string(image.data, content_type=image.content_type, if_generation_match=0)
    else:
        path = Path(runtime.settings.media_dir) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image.data)
    doc = {
        "workspace_id": workspace_id,
        "key": key,
        "store": "gcs" if bucket else "file",
        "content_type": image.content_type,
        "bytes": len(image.data),
        "width": image.width,
        "height": image.height,
        "source": source,
        "created_at": runtime.clock.now(),
    }
    runtime.db.collection(MEDIA).document(media_id).set(doc)
    return {"id": media_id, **doc}


def find(runtime: Runtime, workspace_id: str, media_id: Any) -> dict[str, Any] | None:
    """The workspace's media document, or None (also for another workspace's)."""
    if not isinstance(media_id, str) or not _ID.match(media_id):
        return None
    snap = runtime.db.collection(MEDIA).document(media_id).get()
    data = snap.to_dict() if snap.exists else None
    if not data or data.get("workspace_id") != workspace_id:
        return None
    return {"id": media_id, **data}


def check_ids(runtime: Runtime, workspace_id: str, ids: list[Any]) -> list[str]:
    """The ids, each naming an image of this workspace; ValidationError otherwise."""
    for item in ids:
        if isinstance(item, str) and item.startswith(("file:", "gs://")):
            raise ValidationError(
                "images are referred to by the id that the upload answered; "
                f"{item[:80]!r} is an old-style reference: upload the image again",
                [{"field": "media", "message": "not a media id"}],
            )
        if find(runtime, workspace_id, item) is None:
            shown = item[:80] if isinstance(item, str) else item
            raise ValidationError(
                f"unknown image {shown!r}; upload it first",
                [{"field": "media", "message": "no such image in this workspace"}],
            )
    return [str(i) for i in ids]


def read(runtime: Runtime, workspace_id: str, media_id: str) -> tuple[bytes, str]:
    """The bytes and content type of one of the workspace's images."""
    doc = find(runtime, workspace_id, media_id)
    if doc is None:
        raise NotFound("image not found in this workspace")
    return _load(runtime, str(doc.get("store")), str(doc["key"])), str(doc["content_type"])


def resolve(runtime: Runtime, workspace_id: str, ref: str) -> tuple[bytes, str]:
    """What a stored post's media item names: a media id, or a ref of the old store that
    names an object of this workspace (see the module's docstring). NotFound otherwise."""
    if not ref.startswith(("file:", "gs://")):
        return read(runtime, workspace_id, ref)
    if ref.startswith("file:"):
        store, name = "file", ref[5:]
    else:
        bucket, _, name = ref[5:].partition("/")
        if bucket != runtime.settings.media_bucket:
            raise NotFound(f"image {ref[:120]!r} is not in this deployment's media bucket")
        store = "gcs"
    match = _LEGACY_NAME.match(name)
    if match is None or match.group(1) != workspace_id:
        raise NotFound(f"image {ref[:120]!r} is not an image of this workspace")
    data = _load(runtime, store, name)
    ext = name.rsplit(".", 1)[1]
    known = {
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "mp4": "video/mp4",
        "mov": "video/quicktime",
    }
    return data, known.get(ext, f"image/{ext}")


def _load(runtime: Runtime, store: str, key: str) -> bytes:
    if store == "gcs":
        from google.api_core import exceptions

        bucket = runtime.settings.media_bucket
        if not bucket:
            raise NotFound("this image is in Cloud Storage, and no media bucket is configured")
        try:
            return bytes(_bucket(bucket).blob(key).download_as_bytes())
        except exceptions.NotFound as exc:
            raise NotFound("the image no longer exists") from exc
    base = Path(runtime.settings.media_dir).resolve()
    path = (base / key).resolve()
    if base not in path.parents or not path.is_file():
        raise NotFound("the image no longer exists")
    return path.read_bytes()


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a media document."""
    return {
        "id": doc["id"],
        "content_type": doc["content_type"],
        "bytes": doc["bytes"],
        "width": doc.get("width"),
        "height": doc.get("height"),
        "source": doc.get("source"),
        "created_at": doc.get("created_at"),
    }


_buckets: dict[str, Any] = {}


def _bucket(name: str) -> Any:
    bucket = _buckets.get(name)
    if bucket is None:
        from google.cloud import storage  # type: ignore[attr-defined]

        bucket = storage.Client().bucket(name)
        _buckets[name] = bucket
    return bucket
