"""The X pipeline's data model: collection names, status machine, tiers, typed records.

Every collection is flat and top level with a `workspace_id` field; fields that are
queried sit at the top level. Documents stay open: a record keeps unknown fields in
`extra` and writes them back, so other teams can add fields (e.g. campaign `tone`)
without this module knowing them.

Collections
- `x_accounts`: connected channels: X (kind "x"), Bluesky ("bluesky"), Mastodon
  ("mastodon") and sandbox accounts (kind "sandbox") of any of them; `network` says
  which network (absent on older documents: X). Credentials live in the secrets store;
  the document only holds `secret_ref`. The name stays: X came first.
- `campaigns`: what a set of posts is about, with its IANA timezone.
- `posts`: one post or thread on one channel (its account's `network`); the unit the
  dispatcher and post_tweet work on. A post written for several channels is one post
  per channel sharing a `group_id`.
- `post_templates`: text with `{placeholders}`.
- `post_series`: recurring / evergreen series that materialize posts.
- `posting_plans`: N posts a day over a campaign's active hours.
- `x_oauth_requests`: pending authorizations: OAuth 1.0a request tokens, OAuth 2.0
  PKCE states (the code verifier's secret ref).
- `x_token_lineages`: the current version of an OAuth 2.0 account's tokens and who holds
  the refresh lease (shared.x.tokens, on shared.lineage).
- `bluesky_session_lineages`: the same for a Bluesky account's session
  (shared.x.bluesky_sessions).
- `sandbox_posts`: what a sandbox account would have posted, with generated ids.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, TypeVar

X_ACCOUNTS = "x_accounts"
CAMPAIGNS = "campaigns"
POSTS = "posts"
TEMPLATES = "post_templates"
SERIES = "post_series"
PLANS = "posting_plans"
OAUTH_REQUESTS = "x_oauth_requests"
SANDBOX_POSTS = "sandbox_posts"

MAX_MEDIA = 4
MAX_THREAD_PARTS = 25
DEFAULT_WEIGHTED_LIMIT = 280


class AccountKind(enum.StrEnum):
    X = "x"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"
    SANDBOX = "sandbox"  # records instead of posting; only when settings.sandbox


class AccountStatus(enum.StrEnum):
    PENDING = "pending"  # OAuth handshake begun, not completed
    ACTIVE = "active"
    REVOKED = "revoked"  # X answered 401: tokens no longer valid
    SUSPENDED = "suspended"  # X answered 403 for the account itself
    # OAuth 2.0: X refused the refresh token (the lineage is lost); reconnect from Settings
    RECONNECT_NEEDED = "reconnect_needed"
    DISCONNECTED = "disconnected"


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"  # waiting for its due instant; dispatch looks here
    QUEUED = "queued"  # a Cloud Task exists for `next_at`
    PUBLISHING = "publishing"  # some thread parts are out, the rest is on its way
    PUBLISHED = "published"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"  # request sent, answer lost; reconciliation settles it
    # X refused a reply part (403: its reply restriction): the rest waits for a person,
    # who may post it as separate posts (or drop it).
    HELD = "held"
    CANCELLED = "cancelled"


TERMINAL = frozenset({PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.CANCELLED})
EDITABLE = frozenset({PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.SCHEDULED})
# Allowed transitions; the worker's own moves (queued -> publishing -> ...) included.
TRANSITIONS: dict[PostStatus, frozenset[PostStatus]] = {
    PostStatus.DRAFT: frozenset({PostStatus.APPROVED, PostStatus.SCHEDULED, PostStatus.CANCELLED}),
    PostStatus.APPROVED: frozenset({PostStatus.DRAFT, PostStatus.SCHEDULED, PostStatus.CANCELLED}),
    PostStatus.SCHEDULED: frozenset(
        {PostStatus.SCHEDULED, PostStatus.QUEUED, PostStatus.DRAFT, PostStatus.CANCELLED}
    ),
    PostStatus.QUEUED: frozenset(
        {
            PostStatus.QUEUED,
            PostStatus.PUBLISHING,
            PostStatus.PUBLISHED,
            PostStatus.FAILED,
            PostStatus.UNCONFIRMED,
            PostStatus.CANCELLED,
        }
    ),
    PostStatus.PUBLISHING: frozenset(
        {
            PostStatus.PUBLISHING,
            PostStatus.PUBLISHED,
            PostStatus.FAILED,
            PostStatus.UNCONFIRMED,
            PostStatus.HELD,
        }
    ),
    PostStatus.HELD: frozenset({PostStatus.QUEUED, PostStatus.FAILED}),
    PostStatus.UNCONFIRMED: frozenset(
        {PostStatus.QUEUED, PostStatus.PUBLISHING, PostStatus.PUBLISHED, PostStatus.FAILED}
    ),
    PostStatus.PUBLISHED: frozenset(),
    PostStatus.FAILED: frozenset({PostStatus.DRAFT}),  # a person may edit and retry
    PostStatus.CANCELLED: frozenset({PostStatus.DRAFT}),
}


class PostSource(enum.StrEnum):
    MANUAL = "manual"
    GENERATED = "generated"
    SERIES = "series"
    PLAN = "plan"
    TEMPLATE = "template"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


@dataclass(frozen=True)
class Pricing:
    """What X bills an account: per post (a post with a URL far more on pay-per-use), per
    resource read (the account's own data, "owned reads", far less than other reads),
    per media upload, plus a subscription fee. The values come from configuration
    (shared.x.prices); these zero defaults only stand for "not billed"."""

    model: str = "pay_per_use"  # pay_per_use | subscription | free
    post_usd: float = 0.0
    post_with_url_usd: float = 0.0
    owned_read_usd: float = 0.0
    read_usd: float = 0.0
    media_upload_usd: float = 0.0
    monthly_usd: float = 0.0  # subscription fee, shown apart from per-use cost


@dataclass(frozen=True)
class Limits:
    """Posting quotas of the account's API tier and its weighted length limit."""

    weighted_length: int = DEFAULT_WEIGHTED_LIMIT
    posts_per_15min: int = 100
    posts_per_24h: int = 100
    url_length: int = 23  # what a URL weighs (X's t.co; a Mastodon instance's setting)


# Per-user POST /2/tweets quotas of X's tiers (developer.x.com rate-limit tables).
TIERS: dict[str, Limits] = {
    "free": Limits(posts_per_15min=17, posts_per_24h=17),
    "basic": Limits(posts_per_15min=100, posts_per_24h=100),
    "pro": Limits(posts_per_15min=100, posts_per_24h=10_000),
    "pay_per_use": Limits(posts_per_15min=100, posts_per_24h=10_000),
    "enterprise": Limits(posts_per_15min=300, posts_per_24h=50_000),
    "sandbox": Limits(posts_per_15min=300, posts_per_24h=10_000),
    # Bluesky: 300 graphemes; a PDS allows 5,000 write points an hour and 35,000 a day, a
    # create costing 3 (docs.bsky.app, rate limits).
    "bluesky": Limits(weighted_length=300, posts_per_15min=416, posts_per_24h=11_666),
    # Mastodon: the instance's own limit replaces 500 at connection; 300 statuses per 3 h
    # per account is Mastodon's default.
    "mastodon": Limits(weighted_length=500, posts_per_15min=300, posts_per_24h=2_400),
}
_R = TypeVar("_R", bound="Record")


@dataclass
class Record:
    """A Firestore document with typed known fields and the unknown ones kept in `extra`."""

    collection: ClassVar[str] = ""
    id: str = ""
    workspace_id: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls: type[_R], doc_id: str, data: dict[str, Any]) -> _R:
        known = {f.name for f in fields(cls)} - {"id", "extra"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known and k != "id"}
        return cls(id=doc_id, extra=extra, **values)

    def to_doc(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("id")
        extra = data.pop("extra")
        return {**extra, **data}

    def to_dict(self) -> dict[str, Any]:
        """The plain dict the API returns (id included)."""
        return {"id": self.id, **self.to_doc()}


@dataclass
class XAccount(Record):
    """A connected channel (the class keeps its first network's name)."""

    collection: ClassVar[str] = X_ACCOUNTS
    kind: str = AccountKind.X.value
    network: str = "x"  # x | bluesky | mastodon (shared.channels.base.Network)
    handle: str = ""
    x_user_id: str | None = None  # the network's account id (X user id, DID, Mastodon id)
    display_name: str | None = None
    # Bluesky: the PDS the account lives on; Mastodon: the instance (https://host)
    service_url: str | None = None
    tier: str = "pay_per_use"
    limits: dict[str, int] = field(default_factory=lambda: asdict(TIERS["pay_per_use"]))
    # Overrides of the tier's configured prices (an enterprise deal); usually empty.
    pricing: dict[str, Any] = field(default_factory=dict)
    status: str = AccountStatus.ACTIVE.value
    status_reason: str | None = None
    # "oauth1": secret_ref holds the token pair; "oauth2": the lineage (shared.x.tokens)
    auth: str = "oauth1"
    secret_ref: str | None = None  # OAuth 1.0a: JSON {access_token, access_token_secret}
    sandbox: bool = False
    # Rate governor: last x-rate-limit-* / x-user-limit-24hour-* seen. Written only when
    # they say the budget is nearly spent (see governor.py), so posting costs no write.
    rl_remaining: int | None = None
    rl_reset_at: datetime | None = None
    day_remaining: int | None = None
    day_reset_at: datetime | None = None


@dataclass
class Campaign(Record):
    collection: ClassVar[str] = CAMPAIGNS
    name: str = ""
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    target_audience: str = ""
    start_at: datetime | None = None
    end_at: datetime | None = None
    timezone: str = "UTC"
    status: str = CampaignStatus.DRAFT.value
    # Fields other teams fill (generation, autopilot); kept here so they round-trip.
    topics: list[str] = field(default_factory=list)
    tone: str | None = None
    language: str | None = None
    call_to_action: str | None = None
    links: list[str] = field(default_factory=list)
    approval_required: bool = True
    autopilot: dict[str, Any] = field(default_factory=dict)
    account_id: str | None = None
    # Other accounts (any network) its generated posts also go to, as post groups.
    channels: list[str] = field(default_factory=list)
    estimated_cost_usd: float = 0.0  # sum over its posts, kept by the service


@dataclass
class Post(Record):
    collection: ClassVar[str] = POSTS
    account_id: str = ""
    network: str = "x"  # the account's network, copied for lists and metrics
    group_id: str | None = None  # the posts written together for several channels
    campaign_id: str | None = None
    text: str = ""
    # Thread continuation: parts[0] == text; a single post has one part.
    parts: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)  # shared.media ids, first part only
    media_alt: list[str] = field(default_factory=list)  # alt text of each media item
    # Mastodon's focal point of each media item ({x, y} in -1..1), empty where none.
    media_focus: list[dict[str, float]] = field(default_factory=list)
    # Network options: Mastodon {visibility, spoiler_text, sensitive, language},
    # Bluesky {langs}. Checked by shared.channels.rules.
    options: dict[str, Any] = field(default_factory=dict)
    # Media already on X for this post (ref -> {id, expires_at}): a later try reuses them.
    x_media: dict[str, Any] = field(default_factory=dict)
    # "Link in first reply": the main post goes out without its links, a reply has them.
    link_in_reply: bool = False
    due_at: datetime | None = None  # UTC instant
    timezone: str = "UTC"  # the author's IANA zone, for display and plans
    status: str = PostStatus.DRAFT.value
    # The instant the post next needs the pipeline (due, retry, rate-limit reset):
    # `next_key` = ISO(next_at) + "|" + id, unique and ordered: the dispatch order.
    next_at: datetime | None = None
    next_key: str | None = None
    try_n: int = 0  # which publishing try is current; tasks of other tries are stale
    attempts: int = 0  # create requests X received for this post (every part, every try)
    retries: int = 0  # failed tries spent against the retry budget (429s do not count)
    last_error: dict[str, Any] | None = None  # {reason, code, at}
    # The network's id of each part, as soon as known (X: tweet id; Bluesky: "uri|cid";
    # Mastodon: status id).
    x_ids: list[str] = field(default_factory=list)
    # Parts from this index on go out as separate posts, not replies (after a hold).
    separate_from: int | None = None
    unknown_outcome: bool = False  # a create request's answer was lost
    published_at: datetime | None = None
    estimated_cost_usd: float = 0.0
    # Counted: what X bills for the calls made for this post (creates X accepted, the
    # reads reconciliation made), in the UTC month of the last one (`YYYY-MM`).
    x_cost_usd: float = 0.0
    spend_month: str | None = None
    source: str = PostSource.MANUAL.value
    content_hash: str = ""  # normalized text hash: duplicate check by equality query
    series_id: str | None = None
    template_id: str | None = None
    sandbox: bool = False


@dataclass
class Template(Record):
    collection: ClassVar[str] = TEMPLATES
    name: str = ""
    text: str = ""  # with {placeholders}
    placeholders: list[str] = field(default_factory=list)


@dataclass
class Series(Record):
    """Recurring (fixed texts) or evergreen (recycled texts) posts on a cadence."""

    collection: ClassVar[str] = SERIES
    name: str = ""
    account_id: str = ""
    # Other accounts (any network) each occurrence also goes to, as a post group.
    channels: list[str] = field(default_factory=list)
    campaign_id: str | None = None
    kind: str = "recurring"  # recurring | evergreen
    texts: list[str] = field(default_factory=list)  # variants, rotated
    every: str = "daily"  # hours | daily | weekly
    every_hours: int = 24
    start_at: datetime | None = None
    end_at: datetime | None = None
    timezone: str = "UTC"
    next_index: int = 0
    next_at: datetime | None = None  # next occurrence not yet materialized
    next_key: str | None = None
    active: bool = True


@dataclass
class PostingPlan(Record):
    """N posts a day spread over the campaign's active hours, in its timezone."""

    collection: ClassVar[str] = PLANS
    campaign_id: str = ""
    account_id: str = ""
    posts_per_day: int = 3
    active_from: str = "09:00"  # local time in the campaign's zone
    active_to: str = "18:00"
    timezone: str = "UTC"
    slots: list[str] = field(default_factory=list)  # ISO UTC instants of the next 24 h
