"""The campaign brief as generation reads it, parsed from the campaign document.

Campaign documents (collection "campaigns", owned by the X pipeline) are open to extra
fields; these are the ones generation reads. Everything is optional except a name:
a brief with no topics uses its keywords (or the campaign name) as topics.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from shared.errors import ValidationError

# What works on X: one or two hashtags; more reads as spam and lowers reach.
DEFAULT_HASHTAGS_PER_POST = 2
MAX_HASHTAGS_PER_POST = 30
DEFAULT_PALETTE = ("#0F172A", "#F8FAFC", "#F59E0B")  # background, text, accent
IMAGE_SIZES = {"landscape": (1600, 900), "square": (1080, 1080)}
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def slug(text: str) -> str:
    """A stable key for a topic name (used in Firestore document ids)."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", "-", norm).strip("-")
    if not key:  # a name in a non-Latin script: fall back to its code points
        key = "-".join(f"{ord(c):x}" for c in text.strip()[:12])
    return key[:60]


def normalize_hashtag(tag: str) -> str:
    """'#Bitcoin', 'bitcoin', ' #Bit coin ' -> '#Bitcoin' / '#Bitcoin' / '#Bitcoin'.

    X hashtags are letters, digits, underscores (any script); spaces and punctuation end them.
    """
    body = re.sub(r"[^\w]", "", tag.strip().lstrip("#"), flags=re.UNICODE)
    return f"#{body}" if body and not body.isdigit() else ""


@dataclass(frozen=True)
class Topic:
    name: str
    priority: int = 1  # 1 (occasional) .. 10 (most frequent): share of posts ∝ priority
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", slug(self.name))


@dataclass(frozen=True)
class ImageSettings:
    enabled: bool = False
    kind: str = "card"  # card | chart | auto (chart when a draft carries data)
    size: str = "landscape"  # landscape 1600x900 | square 1080x1080
    palette: tuple[str, str, str] = DEFAULT_PALETTE
    brand_text: str = ""

    @property
    def dimensions(self) -> tuple[int, int]:
        return IMAGE_SIZES[self.size]


@dataclass(frozen=True)
class Autopilot:
    enabled: bool = False
    days_ahead: int = 7
    posts_per_day: int = 1
    # Local times (workspace timezone) of the day's posts; spread over the day if unset.
    post_times: tuple[str, ...] = ()

    def times(self) -> tuple[str, ...]:
        if self.post_times:
            return tuple(sorted(self.post_times))[: self.posts_per_day]
        # 09:00 .. 21:00, evenly: one post -> 12:00, two -> 09:00 and 21:00, ...
        if self.posts_per_day == 1:
            return ("12:00",)
        step = 12 * 60 // (self.posts_per_day - 1)
        return tuple(
            f"{(9 * 60 + i * step) // 60:02d}:{(9 * 60 + i * step) % 60:02d}"
            for i in range(self.posts_per_day)
        )


@dataclass(frozen=True)
class Brief:
    campaign_id: str
    workspace_id: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    audience: str = ""
    tone: str = "friendly and clear"
    language: str = "en"
    call_to_action: str = ""
    links: tuple[str, ...] = ()
    topics: tuple[Topic, ...] = ()
    hashtags_per_post: int = DEFAULT_HASHTAGS_PER_POST
    approval_required: bool = True
    autopilot: Autopilot = field(default_factory=Autopilot)
    image: ImageSettings = field(default_factory=ImageSettings)
    account_id: str | None = None
    channels: tuple[str, ...] = ()  # other accounts the drafts also go to (post groups)

    @classmethod
    def from_campaign(cls, campaign: dict[str, Any]) -> Brief:
        problems: dict[str, str] = {}
        name = _str(campaign.get("name")) or _str(campaign.get("title"))
        if not name:
            problems["name"] = "the campaign has no name"
        hashtags = tuple(
            t for t in (normalize_hashtag(h) for h in _list(campaign.get("hashtags"))) if t
        )
        topics = _topics(campaign.get("topics"), campaign.get("topic_priorities"), problems)
        if not topics:
            seeds = _list(campaign.get("keywords")) or [name or "news"]
            topics = tuple(Topic(s) for s in dict.fromkeys(seeds))
        per_post = _int(
            campaign.get("hashtags_per_post"),
            DEFAULT_HASHTAGS_PER_POST,
            0,
            MAX_HASHTAGS_PER_POST,
            "hashtags_per_post",
            problems,
        )
        language = (_str(campaign.get("language")) or "en").lower()
        if not re.match(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$", language):
            problems["language"] = "language must be a code such as en, fr or pt-br"
        links = tuple(_list(campaign.get("links")))
        for link in links:
            if not re.match(r"^https?://\S+$", link):
                problems["links"] = f"{link!r} is not an http(s) link"
        brief = cls(
            campaign_id=str(campaign.get("id", "")),
            workspace_id=str(campaign.get("workspace_id", "")),
            name=name,
            description=_str(campaign.get("description")) or _str(campaign.get("brief")),
            keywords=tuple(_list(campaign.get("keywords"))),
            hashtags=hashtags,
            audience=_str(campaign.get("audience")) or _str(campaign.get("target_audience")),
            tone=_str(campaign.get("tone")) or cls.tone,
            language=language,
            call_to_action=_str(campaign.get("call_to_action")),
            links=links,
            topics=topics,
            hashtags_per_post=per_post,
            approval_required=campaign.get("approval_required", True) is not False,
            autopilot=_autopilot(campaign.get("autopilot"), problems),
            image=_image(campaign.get("image"), name, problems),
            account_id=_str(campaign.get("account_id")) or None,
            channels=tuple(dict.fromkeys(_list(campaign.get("channels")))),
        )
        if problems:
            raise ValidationError("the campaign brief is not usable for generation", problems)
        return brief


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\n]", value)]
    if not isinstance(value, list | tuple):
        return []
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def _int(value: Any, default: int, low: int, high: int, name: str, problems: dict[str, str]) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        problems[name] = f"{name} must be a whole number"
        return default
    if not low <= int(value) <= high:
        problems[name] = f"{name} must be between {low} and {high}"
        return default
    return int(value)


def _topics(value: Any, priorities: Any, problems: dict[str, str]) -> tuple[Topic, ...]:
    """Topics as names (the X API stores `topics` as strings, with priorities in
    `topic_priorities: {name: 1-10}`) or as `{name, priority}` objects."""
    weights = priorities if isinstance(priorities, dict) else {}
    topics: dict[str, Topic] = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str) and item.strip():
            priority = _int(weights.get(item.strip()), 1, 1, 10, "topic_priorities", problems)
            topic = Topic(item.strip(), priority)
        elif isinstance(item, dict) and _str(item.get("name")):
            priority = _int(item.get("priority"), 1, 1, 10, "topics.priority", problems)
            topic = Topic(_str(item.get("name")), priority)
        else:
            problems["topics"] = "each topic needs a name (and optionally a priority 1-10)"
            continue
        topics.setdefault(topic.key, topic)
    return tuple(topics.values())


def _autopilot(value: Any, problems: dict[str, str]) -> Autopilot:
    if not isinstance(value, dict):
        return Autopilot()
    times = tuple(_list(value.get("post_times")))
    for t in times:
        if not _HHMM.match(t):
            problems["autopilot.post_times"] = f"{t!r} is not a time of day as HH:MM"
    return Autopilot(
        enabled=value.get("enabled") is True,
        days_ahead=_int(value.get("days_ahead"), 7, 1, 30, "autopilot.days_ahead", problems),
        posts_per_day=_int(
            value.get("posts_per_day"), 1, 1, 24, "autopilot.posts_per_day", problems
        ),
        post_times=times,
    )


def _image(value: Any, name: str, problems: dict[str, str]) -> ImageSettings:
    if not isinstance(value, dict):
        return ImageSettings(brand_text=name)
    kind = _str(value.get("kind")) or "card"
    if kind not in ("card", "chart", "auto"):
        problems["image.kind"] = "image kind must be card, chart or auto"
        kind = "card"
    size = _str(value.get("size")) or "landscape"
    if size not in IMAGE_SIZES:
        problems["image.size"] = "image size must be landscape (1600x900) or square (1080x1080)"
        size = "landscape"
    palette = DEFAULT_PALETTE
    raw = value.get("palette")
    if raw is not None:
        colors = _list(raw)
        if len(colors) != 3 or not all(_HEX.match(c) for c in colors):
            problems["image.palette"] = "palette is three #RRGGBB colours: background, text, accent"
        else:
            palette = (colors[0], colors[1], colors[2])
    return ImageSettings(
        enabled=value.get("enabled") is True,
        kind=kind,
        size=size,
        palette=palette,
        brand_text=_str(value.get("brand_text")) or name,
    )
