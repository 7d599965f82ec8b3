"""What every writer (Gemini or offline) takes and returns, and the length rules.

A candidate is the writer's proposal; `compose()` turns it into the post text (body,
then the hashtags that are not already in it) and `fit()` makes it fit the account's
weighted length without ever cutting a link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.generate.brief import Brief, Topic, normalize_hashtag
from shared.text import weighted_length

ELLIPSIS = "…"


@dataclass(frozen=True)
class Chart:
    """Data for a chart image: one series of labelled values."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]

    @classmethod
    def parse(cls, raw: Any) -> Chart | None:
        if not isinstance(raw, dict):
            return None
        labels = raw.get("labels") or []
        values = raw.get("values") or []
        if not labels or len(labels) != len(values) or len(labels) > 24:
            return None
        try:
            nums = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            return None
        return cls(str(raw.get("title") or ""), tuple(str(x) for x in labels), nums)


@dataclass
class Candidate:
    topic_key: str
    body: str
    hashtags: list[str]
    headline: str = ""
    chart: Chart | None = None
    used: bool = False  # matched to a slot already

    def text(self) -> str:
        return compose(self.body, self.hashtags)


@dataclass(frozen=True)
class Slot:
    """One draft to write: its topic, how often the topic was written about before,
    and how many drafts the campaign had before (these vary the offline wording)."""

    topic: Topic
    seq: int
    n: int = 0


@dataclass(frozen=True)
class WriteContext:
    limit: int  # the account's weighted length limit
    trends: tuple[str, ...] = ()
    recent: tuple[str, ...] = ()  # recent post texts, to steer away from repeats
    # How the networks written for count a text (shared.generate.targets.counting).
    counting: str = "X counts every link as 23, emoji and CJK characters as 2"


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.output_tokens += other.output_tokens
        self.total_tokens += other.total_tokens


@dataclass
class WriteResult:
    candidates: list[Candidate]
    usage: Usage = field(default_factory=Usage)


class Writer(Protocol):
    name: str  # "gemini" | "offline": stored as `generator` on each draft

    def write(self, brief: Brief, slots: list[Slot], ctx: WriteContext) -> WriteResult: ...

    def shorten(
        self, brief: Brief, candidate: Candidate, length: int, ctx: WriteContext
    ) -> WriteResult:
        """Ask again for a shorter version; an empty result when the writer cannot."""
        ...


def clean_hashtags(tags: list[str], wanted: int) -> list[str]:
    seen: dict[str, str] = {}
    for tag in tags:
        norm = normalize_hashtag(tag)
        if norm and norm.lower() not in seen:
            seen[norm.lower()] = norm
    return list(seen.values())[:wanted]


def compose(body: str, hashtags: list[str]) -> str:
    body = body.strip()
    present = {w.lower().rstrip(".,!?;:") for w in body.split()}
    extra = [t for t in hashtags if t.lower() not in present]
    return f"{body}\n\n{' '.join(extra)}" if extra else body


def _is_link(word: str) -> bool:
    return word.startswith(("http://", "https://"))


def fit(
    candidate: Candidate,
    limit: int,
    min_hashtags: int = 1,
    fits: Callable[[str], bool] | None = None,
) -> str | None:
    """The candidate's text within `limit` (X's weighted length), or whatever `fits`
    accepts (several networks, each counting its way): drop surplus hashtags first
    (down to `min_hashtags`), then cut words at the end of the body (never a link) and
    mark the cut with an ellipsis. None when even that cannot fit."""
    ok = fits or (lambda t: weighted_length(t) <= limit)
    tags = list(candidate.hashtags)
    text = compose(candidate.body, tags)
    while not ok(text) and len(tags) > min_hashtags:
        tags.pop()
        text = compose(candidate.body, tags)
    if ok(text):
        return text
    words = candidate.body.split()
    links = [w for w in words if _is_link(w)]
    prose = " ".join(w for w in words if not _is_link(w))

    def attempt(n: int) -> str:
        head = prose[:n]
        # Prefer a word boundary when one is near (scripts without spaces have none).
        cut = head.rfind(" ")
        if n < len(prose) and cut >= n * 0.7:
            head = head[:cut]
        head = head.rstrip(" ,;:.-\u2013\u2014\u200d")
        return compose(" ".join([head + ELLIPSIS, *links]), tags) if head else ""

    # Binary search for the longest prefix of the prose that fits.
    low, high, best = 1, len(prose) - 1, None
    while low <= high:
        mid = (low + high) // 2
        text = attempt(mid)
        if text and ok(text):
            best, low = text, mid + 1
        else:
            high = mid - 1
    return best
