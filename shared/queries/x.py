"""Queries of the X pipeline: accounts, campaigns, posts, templates, series."""

from shared.queries.spec import QuerySpec, asc, desc, total

# The API's lists (shared/x/store.page): newest key last, a page at a time.
ACCOUNTS = QuerySpec(
    "x.accounts", "x_accounts", equals=("workspace_id",), order=(asc("created_key"),), paged=True
)
CAMPAIGNS = QuerySpec(
    "x.campaigns",
    "campaigns",
    equals=("workspace_id",),
    optional=("status",),
    order=(asc("created_key"),),
    paged=True,
)
TEMPLATES = QuerySpec(
    "x.templates",
    "post_templates",
    equals=("workspace_id",),
    order=(asc("created_key"),),
    paged=True,
)
MEDIA = QuerySpec(
    "x.media",
    "media",
    equals=("workspace_id",),
    order=(desc("created_at"),),
    paged=True,
    why="the media library, newest first",
)
SERIES = QuerySpec(
    "x.series", "post_series", equals=("workspace_id",), order=(asc("created_key"),), paged=True
)
POSTS = QuerySpec(
    "x.posts",
    "posts",
    equals=("workspace_id",),
    optional=("status", "campaign_id", "account_id"),
    range="due_key",
    order=(asc("due_key"),),
    paged=True,
    why="the posts list and the calendar (start/end bound due_key)",
)

CAMPAIGN_LIVE_POSTS = QuerySpec(
    "x.campaign_live_posts",
    "posts",
    equals=("campaign_id",),
    within=(("status", 3),),
    why="a campaign with scheduled posts cannot be deleted",
)
CAMPAIGN_POSTS = QuerySpec(
    "x.campaign_posts",
    "posts",
    equals=("workspace_id", "campaign_id"),
    order=(asc("due_key"),),
    paged=True,
    why="a campaign's cost",
)
DUE_POSTS = QuerySpec(
    "x.due_posts",
    "posts",
    within=(("status", 3),),
    range="next_key",
    range_required=True,
    order=(asc("next_key"),),
    paged=True,
    why="dispatch: posts whose next step is due",
)
DUE_SERIES = QuerySpec(
    "x.due_series",
    "post_series",
    equals=("active",),
    range="next_key",
    range_required=True,
    order=(asc("next_key"),),
    paged=True,
    why="dispatch: series with an occurrence to materialize",
)
DUPLICATE_TEXTS = QuerySpec("x.duplicate_texts", "posts", equals=("account_id", "content_hash"))
SANDBOX_RECENT = QuerySpec(
    "x.sandbox_recent",
    "sandbox_posts",
    equals=("account_id",),
    range="created_at",
    range_required=True,
    why="the sandbox X client's timeline",
)

# The X cost governor (shared/x/spend.py): one sum each, the account's optional.
SPENT_IN_MONTH = QuerySpec(
    "x.spent_in_month",
    "posts",
    equals=("workspace_id", "spend_month"),
    optional=("account_id",),
    aggregations=(total("x_cost_usd", "total"),),
    why="what X billed the month's published posts",
)
PENDING_SPEND = QuerySpec(
    "x.pending_spend",
    "posts",
    equals=("workspace_id",),
    optional=("account_id",),
    within=(("status", 2),),
    range="due_key",
    range_required=True,
    aggregations=(total("estimated_cost_usd", "total"),),
    why="what the month's scheduled posts will cost",
)
ACTIVE_SERIES = QuerySpec(
    "x.active_series",
    "post_series",
    equals=("workspace_id", "active"),
    why="what the workspace's running series will post this month",
)
ACCOUNT_OF_X_USER = QuerySpec(
    "x.account_of_x_user",
    "x_accounts",
    equals=("workspace_id", "x_user_id"),
    why="connecting an account the workspace already has (an X user, a Bluesky DID, a "
    "Mastodon account) reconnects it",
)
GROUP_POSTS = QuerySpec(
    "x.group_posts",
    "posts",
    equals=("workspace_id", "group_id"),
    why="a post written for several channels: its post on each",
)
