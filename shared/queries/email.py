"""Queries of the email pipeline: templates, lists, contacts, campaigns, batches."""

from shared.queries.spec import QuerySpec, asc, count, total

TEMPLATES = QuerySpec("email.templates", "email_templates", equals=("workspace_id",))
CONTACT_LISTS = QuerySpec("email.contact_lists", "contact_lists", equals=("workspace_id",))
MEMBER_PAGES = QuerySpec(
    "email.member_pages",
    "contact_list_members",
    equals=("list_id", "workspace_id"),
    range="hi",
    range_required=True,
    order=(asc("hi"),),
    why="a list's member pages by the top of their hash range: a campaign's expansion "
    "(cursor: the last page's hi), an import's layout, the page holding one contact",
)
CONTACTS = QuerySpec(
    "email.contacts",
    "contacts",
    equals=("workspace_id",),
    range="email_norm",
    order=(asc("email_norm"),),
    paged=True,
    why="the contacts list, and its search by the start of the address (a range)",
)
LIST_CONTACTS = QuerySpec(
    "email.list_contacts",
    "contacts",
    equals=("workspace_id",),
    contains="list_ids",
    order=(asc("email_norm"),),
    paged=True,
    why="a list's contacts, a page at a time by address",
)
LIST_CONTACT_COUNT = QuerySpec(
    "email.list_contact_count",
    "contacts",
    equals=("workspace_id",),
    contains="list_ids",
    aggregations=(count(),),
    why="a list's size (an aggregation reads an index entry per 1,000 members)",
)
LIST_IMPORTS = QuerySpec(
    "email.list_imports",
    "contact_imports",
    equals=("list_id", "status"),
    why="a campaign waits for an import into its list",
)
STALE_CHUNKS = QuerySpec(
    "email.stale_chunks",
    "contact_import_chunks",
    equals=("status",),
    range="updated_at",
    range_required=True,
    why="import chunks whose task was lost",
)
QUEUED_CHUNK = QuerySpec(
    "email.queued_chunk",
    "contact_import_chunks",
    equals=("import_id", "status"),
    why="an import is not done while one of its chunks is queued (read with limit 1)",
)
IMPORT_SUMS = QuerySpec(
    "email.import_sums",
    "contact_import_chunks",
    equals=("import_id",),
    aggregations=(total("done"), total("written")),
)
SUPPRESSED_IN = QuerySpec(
    "email.suppressed_in",
    "email_suppressions",
    equals=("workspace_id",),
    within=(("email_norm", 30),),
)
SUPPRESSIONS = QuerySpec(
    "email.suppressions",
    "email_suppressions",
    equals=("workspace_id",),
    order=(asc("email_norm"),),
    paged=True,
)

CAMPAIGNS = QuerySpec(
    "email.campaigns",
    "email_campaigns",
    equals=("workspace_id",),
    order=(asc("key"),),
    paged=True,
)
DUE_CAMPAIGNS = QuerySpec(
    "email.due_campaigns",
    "email_campaigns",
    equals=("status",),
    range="due_at",
    range_required=True,
    why="dispatch: scheduled campaigns due now",
)
CAMPAIGNS_WITH_STATUS = QuerySpec(
    "email.campaigns_with_status", "email_campaigns", equals=("status",)
)

CAMPAIGN_BATCHES = QuerySpec(
    "email.campaign_batches",
    "email_batches",
    equals=("campaign_id",),
    order=(asc("key"),),
    paged=True,
    why="a campaign's batches, for a resend",
)
CAMPAIGN_BATCHES_WITH_STATUS = QuerySpec(
    "email.campaign_batches_with_status",
    "email_batches",
    equals=("campaign_id", "status"),
    order=(asc("key"),),
    paged=True,
    why="pause and resume",
)
BATCH_OUTCOMES = QuerySpec(
    "email.batch_outcomes",
    "email_batches",
    equals=("campaign_id", "workspace_id"),
    order=(asc("key"),),
    paged=True,
    why="per-recipient outcomes, a page of batches at a time",
)
# A campaign's finished batches' tallies, in two queries of at most five sums each
# (Firestore's limit), read together in one snapshot (shared.email.campaigns).
BATCH_TALLIES = (
    QuerySpec(
        "email.batch_tallies",
        "email_batches",
        equals=("campaign_id",),
        aggregations=(
            total("n_sent", "sent"),
            total("n_failed", "failed"),
            total("n_deferred", "deferred"),
            total("n_suppressed", "suppressed"),
            total("n_unconfirmed", "unconfirmed"),
        ),
    ),
    QuerySpec(
        "email.batch_tallies_more",
        "email_batches",
        equals=("campaign_id",),
        aggregations=(total("n_cancelled", "cancelled"), total("n_batches_done", "batches_done")),
    ),
)
# Feedback after delivery (shared.email.feedback): a campaign's bounces and complaints,
# and a workspace's (or sending domain's) sends and feedback over the guard's window.
CAMPAIGN_FEEDBACK = QuerySpec(
    "email.campaign_feedback",
    "email_events",
    equals=("campaign_id", "type"),
    aggregations=(count(),),
    why="a campaign's hard bounces, soft bounces and complaints",
)
SENT_SINCE = QuerySpec(
    "email.sent_since",
    "email_batches",
    equals=("workspace_id",),
    optional=("sender_domain",),
    range="finished_at",
    range_required=True,
    aggregations=(total("n_sent", "sent"),),
    why="reputation: messages sent in the window",
)
FEEDBACK_SINCE = QuerySpec(
    "email.feedback_since",
    "email_events",
    equals=("workspace_id", "type"),
    optional=("domain",),
    range="at",
    range_required=True,
    aggregations=(count(),),
    why="reputation: bounces and complaints in the window",
)
MAILBOXES = QuerySpec(
    "email.mailboxes",
    "email_deliverability",
    equals=("mailbox_enabled",),
    why="dispatch: the bounce mailboxes to read",
)

LOST_BATCHES = {
    field: QuerySpec(
        f"email.lost_batches_by_{field}",
        "email_batches",
        equals=("status",),
        range=field,
        range_required=True,
        why="recovery: batches whose task was lost",
    )
    for field in ("due_at", "lease_until")
}
