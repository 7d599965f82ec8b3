"""The X pipeline's domain operations, each `(runtime, workspace_id, ...)` -> plain dicts.

A facade: the API routes and other pipelines (the generation team creates drafts with
`create_post(..., source="generated")`) import this one module; the operations live in
modules by responsibility (accounts, campaigns, posts, lifecycle, templates, series).
Nothing in shared.x imports this module. Errors are shared.errors (ValidationError,
NotFound, Conflict, ...), with messages written for a person.
"""

from __future__ import annotations

from shared.x.accounts import (
    begin_connection,
    complete_connection,
    create_sandbox_account,
    delete_account,
    get_account,
    list_accounts,
    update_account,
)
from shared.x.campaigns import (
    campaign_cost,
    create_campaign,
    delete_campaign,
    get_campaign,
    list_campaigns,
    update_campaign,
)
from shared.x.lifecycle import approve_post, cancel_post, reschedule_post, schedule_post
from shared.x.posts import (
    create_post,
    delete_post,
    estimate_cost,
    get_post,
    list_posts,
    update_post,
    validate_post,
)
from shared.x.series import (
    create_plan,
    create_series,
    delete_series,
    get_plan,
    get_series,
    list_series,
    materialize_series,
    plan_slots,
)
from shared.x.templates import (
    create_template,
    delete_template,
    get_template,
    list_templates,
    render_template,
    update_template,
)

__all__ = [
    "approve_post",
    "begin_connection",
    "campaign_cost",
    "cancel_post",
    "complete_connection",
    "create_campaign",
    "create_plan",
    "create_post",
    "create_sandbox_account",
    "create_series",
    "create_template",
    "delete_account",
    "delete_campaign",
    "delete_post",
    "delete_series",
    "delete_template",
    "estimate_cost",
    "get_account",
    "get_campaign",
    "get_plan",
    "get_post",
    "get_series",
    "get_template",
    "list_accounts",
    "list_campaigns",
    "list_posts",
    "list_series",
    "list_templates",
    "materialize_series",
    "plan_slots",
    "render_template",
    "reschedule_post",
    "schedule_post",
    "update_account",
    "update_campaign",
    "update_post",
    "update_template",
    "validate_post",
]
