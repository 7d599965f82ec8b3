"""Images, GIFs and videos for posts: upload and preview (storage behind shared.media)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.api.context import Ctx, Reply
from shared.api.router import Upload, router
from shared.errors import NotFound
from shared.tenancy import Role

# -- models ---------------------------------------------------------------------------


class MediaOut(BaseModel):
    ref: str
    content_type: str
    bytes: int


class MediaQuery(BaseModel):
    ref: str = Field(description="a ref returned by the upload")


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
)
def upload_media(ctx: Ctx) -> Any:
    from shared import media

    _, data = ctx.upload()
    ctype = ctx.request.files["file"].mimetype or "application/octet-stream"
    ref = media.put(ctx.runtime, ctx.ws, data, ctype)
    return Reply({"ref": ref, "content_type": ctype, "bytes": len(data)}, 201)


@router.get(
    "/workspaces/{ws}/media/content",
    summary="The bytes of an uploaded or generated image or video (for previews)",
    tag="media",
    query=MediaQuery,
    produces="image/*",
)
def media_content(ctx: Ctx) -> Any:
    from flask import Response

    from shared import media

    ref = ctx.query.ref
    if media.workspace_of(ref) != ctx.ws:
        raise NotFound("image not found in this workspace")
    data, ctype = media.get(ctx.runtime, ref)
    return Response(
        data,
        mimetype=ctype,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
