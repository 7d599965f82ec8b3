"""Images, GIFs and videos for posts: upload, describe and preview (storage behind
shared.media)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.api.context import Ctx, Reply
from shared.api.router import Upload, router
from shared.tenancy import Role

router.object_param("media_id", "media", "image")

# -- models ---------------------------------------------------------------------------


class MediaOut(BaseModel):
    id: str = Field(description="what posts name in `media`")
    content_type: str = Field(description="of the stored item (images are re-encoded)")
    bytes: int
    width: int | None = None
    height: int | None = None
    source: str | None = Field(None, description="upload | generated")
    created_at: datetime | None = None


# -- routes ---------------------------------------------------------------------------


@router.post(
    "/workspaces/{ws}/media",
    summary="Upload an image (JPEG, PNG, WebP: 5 MB), a GIF (15 MB) or a video (MP4, MOV)",
    tag="media",
    role=Role.EDITOR,
    # A Cloud Function takes at most 32 MiB per request: longer videos do not fit here.
    body=Upload("the image, GIF or video", max_bytes=30 * 1024 * 1024),
    response=MediaOut,
    status=201,
    description="Images are decoded and re-encoded without their metadata (EXIF, GPS, "
    "comments); a video's container is checked box by box. Anything that is not one of "
    "these formats is refused, whatever its declared type. Posts refer to the item by the "
    "`id` answered.",
)
def upload_media(ctx: Ctx) -> Any:
    from shared import media

    _, data = ctx.upload()
    return Reply(media.public(media.put(ctx.runtime, ctx.ws, data)), 201)


@router.get(
    "/workspaces/{ws}/media/{media_id}",
    summary="An image's or video's type, size and source",
    tag="media",
    response=MediaOut,
)
def get_media(ctx: Ctx) -> Any:
    from shared import media

    return media.public(ctx.obj("media_id"))


@router.get(
    "/workspaces/{ws}/media",
    summary="The media library: the workspace's uploads and generated images, newest first",
    tag="media",
    response=MediaOut,
    paged=True,
)
def list_media(ctx: Ctx) -> Any:
    from shared import media
    from shared.api.lists import doc_out, list_page
    from shared.queries import x as q

    return list_page(ctx, q.MEDIA, serialize=lambda snap: media.public(doc_out(snap)))


@router.get(
    "/workspaces/{ws}/media/{media_id}/content",
    summary="The bytes of an uploaded or generated image or video (for previews)",
    tag="media",
    produces="image/*",
)
def media_content(ctx: Ctx) -> Any:
    from flask import Response

    from shared import media

    data, ctype = media.read(ctx.runtime, ctx.ws, ctx.params["media_id"])
    return Response(
        data,
        mimetype=ctype,
        headers={
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": "inline",
        },
    )
