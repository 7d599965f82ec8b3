"""X API v2 media upload: images, GIFs and videos, with their alt text.

tweepy has no helper for it, so it runs on requests, on tweepy's own session (so its
timeouts and `HERALD_X_API_BASE` apply, and `responses` sees it in tests), signed with
the account's auth (OAuth 1.0a, or its OAuth 2.0 user token):
    POST /2/media/upload/initialize  {media_type, total_bytes, media_category}
    POST /2/media/upload/{id}/append multipart: segment_index, media (≤ 4 MiB a chunk)
    POST /2/media/upload/{id}/finalize            → processing_info (videos, GIFs)
    GET  /2/media/upload?command=STATUS&media_id= until `succeeded`
    POST /2/media/metadata           {id, metadata: {alt_text: {text}}}
A video X is still processing after MEDIA_POLL_LIMIT_S raises MediaProcessing with
its id: the worker comes back for it later instead of uploading it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.channels.outcomes import MediaProcessing, NotSent, Rejected
from shared.x.xapi import map_http

MEDIA_API = "https://api.x.com/2/media/upload"
METADATA_API = "https://api.x.com/2/media/metadata"
CHUNK = 4 * 1024 * 1024
MEDIA_POLL_LIMIT_S = 60.0


def category(content_type: str) -> str:
    """X's media_category for a post's media of this type."""
    if content_type == "image/gif":
        return "tweet_gif"
    if content_type.startswith("video/"):
        return "tweet_video"
    return "tweet_image"


class MediaUploader:
    def __init__(self, session: Any, auth: Any, sleep: Callable[[float], None]) -> None:
        self._session = session
        self._auth = auth
        self._sleep = sleep

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        import requests
        import tweepy

        try:
            response = self._session.request(method, url, auth=self._auth, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise NotSent(f"media upload did not complete: {exc}") from exc
        if response.status_code >= 400:
            error_cls = {
                400: tweepy.BadRequest,
                401: tweepy.Unauthorized,
                403: tweepy.Forbidden,
                404: tweepy.NotFound,
                429: tweepy.TooManyRequests,
            }.get(response.status_code)
            if error_cls is None:
                error_cls = (
                    tweepy.TwitterServerError
                    if response.status_code >= 500
                    else tweepy.HTTPException
                )
            raise map_http(error_cls(response))
        if not response.content:
            return {}
        body: dict[str, Any] = response.json()
        return body.get("data") or body

    def upload(self, data: bytes, content_type: str, alt_text: str = "") -> str:
        """Upload; returns the media id once X has processed it and has its alt text."""
        init = self._call(
            "POST",
            f"{MEDIA_API}/initialize",
            json={
                "media_type": content_type,
                "total_bytes": len(data),
                "media_category": category(content_type),
            },
        )
        media_id = str(init["id"])
        for index, start in enumerate(range(0, len(data), CHUNK)):
            self._call(
                "POST",
                f"{MEDIA_API}/{media_id}/append",
                data={"segment_index": str(index)},
                files={"media": ("chunk", data[start : start + CHUNK], "application/octet-stream")},
            )
        info = self._call("POST", f"{MEDIA_API}/{media_id}/finalize").get("processing_info")
        return self._settle(media_id, info, alt_text)

    def resume(self, media_id: str, alt_text: str = "") -> str:
        """An upload X was still processing: wait for it again (no new upload)."""
        return self._settle(media_id, self._status(media_id), alt_text)

    def _status(self, media_id: str) -> dict[str, Any] | None:
        status = self._call("GET", MEDIA_API, params={"command": "STATUS", "media_id": media_id})
        info: dict[str, Any] | None = status.get("processing_info")
        return info

    def _settle(self, media_id: str, info: dict[str, Any] | None, alt_text: str) -> str:
        waited = 0.0
        while info and info.get("state") in ("pending", "in_progress"):
            delay = float(info.get("check_after_secs") or 1)
            if waited + delay > MEDIA_POLL_LIMIT_S:
                raise MediaProcessing(
                    f"X is still processing media {media_id} after {waited:.0f}s",
                    media_id,
                    delay,
                )
            self._sleep(delay)
            waited += delay
            info = self._status(media_id)
        if info and info.get("state") == "failed":
            error = info.get("error") or {}
            raise Rejected(f"X could not process the media: {error.get('message', 'failed')}")
        if alt_text:
            self._call(
                "POST",
                METADATA_API,
                json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
            )
        return media_id
