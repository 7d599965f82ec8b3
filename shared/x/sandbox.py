"""The sandbox X: records what would be posted, with generated X-like ids."""

from __future__ import annotations

import random
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.channels.outcomes import Created, NotSent, RateInfo, Withdrawn
from shared.x.guards import is_withdrawn

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.x.models import XAccount

RECENT_POSTS_MAX = 1000


class SandboxX:
    """Records what would be posted in `sandbox_posts`, with generated X-like ids.

    Creating the record with `create()` under the post, part and try (the part guard,
    shared.x.guards) is what makes it idempotent: a repeated or concurrent delivery gets
    the first id back and nothing is recorded twice; a record a cancel took first
    (withdrawn) means nothing is recorded at all. Rate headers are simulated from the
    tier quotas, per process.
    """

    _windows: dict[str, tuple[deque[float], deque[float]]] = {}  # noqa: RUF012
    _lock = threading.Lock()

    def __init__(self, runtime: Runtime, account: XAccount) -> None:
        self._runtime = runtime
        self._account = account

    @staticmethod
    def new_id(now: datetime) -> str:
        # Snowflake-shaped: milliseconds since X's epoch, shifted, plus random bits.
        millis = int(now.timestamp() * 1000) - 1288834974657
        return str((millis << 22) | random.getrandbits(22))

    def upload_media(
        self, data: bytes, content_type: str, alt_text: str = "", focus: Any = None
    ) -> str:
        return self.new_id(self._runtime.clock.now())

    def resume_media(self, media_id: str, alt_text: str = "") -> str:
        return media_id

    def _rate(self, now: datetime) -> RateInfo:
        limits = self._account.limits
        per_15, per_day = int(limits["posts_per_15min"]), int(limits["posts_per_24h"])
        t = now.timestamp()
        with self._lock:
            short, day = self._windows.setdefault(self._account.id, (deque(), deque()))
            for window, span in ((short, 900), (day, 86400)):
                while window and window[0] <= t - span:
                    window.popleft()
                window.append(t)
            return RateInfo(
                limit=per_15,
                remaining=max(0, per_15 - len(short)),
                reset_at=datetime.fromtimestamp(short[0] + 900, UTC),
                day_limit=per_day,
                day_remaining=max(0, per_day - len(day)),
                day_reset_at=datetime.fromtimestamp(day[0] + 86400, UTC),
            )

    def create_post(
        self,
        text: str,
        reply_to: str | None,
        media_ids: list[str],
        idempotency_key: str,
        part: Any = None,
    ) -> Created:
        from shared.firestore import is_already_exists
        from shared.x.models import SANDBOX_POSTS

        now = self._runtime.clock.now()
        ref = self._runtime.db.collection(SANDBOX_POSTS).document(idempotency_key)
        x_id = self.new_id(now)
        try:
            ref.create(
                {
                    "workspace_id": self._account.workspace_id,
                    "account_id": self._account.id,
                    "handle": self._account.handle,
                    "x_id": x_id,
                    "text": text,
                    "in_reply_to": reply_to,
                    "media_ids": media_ids,
                    "created_at": now,
                    "sandbox": True,
                }
            )
        except Exception as exc:
            if not is_already_exists(exc):
                raise NotSent(f"sandbox could not record the post: {exc}") from exc
            recorded = ref.get().to_dict() or {}
            if is_withdrawn(recorded):
                raise Withdrawn("the post was changed before this part went out") from exc
            x_id = str(recorded.get("x_id"))
        return Created(x_id, self._rate(now))

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        from shared.queries import build
        from shared.queries.x import SANDBOX_RECENT

        query = build(
            self._runtime.db,
            SANDBOX_RECENT,
            account_id=self._account.id,
            ge=since - timedelta(seconds=1),
            le=until,
        )
        query = query.limit(RECENT_POSTS_MAX)
        return [
            {"id": d.get("x_id"), "text": d.get("text"), "in_reply_to": d.get("in_reply_to")}
            for d in query.stream()
        ]
