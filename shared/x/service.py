"""The X pipeline's domain operations, each `(runtime, workspace_id, ...)` -> plain dicts.

A facade: the API routes and other pipelines (the generation team creates drafts with
`create_post(..., source="generated")`) import this one module; the operations live in
modules by responsibility (accounts, campaigns, posts, lifecycle, templates, series).
Nothing in shared.x imports this module. Errors are shared.errors (ValidationError,
NotFound, Conflict, ...), with messages written for a person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from shared.x.lifecycle import (
    approve_post,
    cancel_post,
    drop_rest,
    post_rest_separately,
    reschedule_post,
    schedule_post,
)
from shared.x.oauth2 import begin_oauth2, complete_oauth2
from shared.x.posts import (
    create_post,
    delete_post,
    estimate_cost,
    get_post,
    list_posts,
    update_post,
    validate_post,
)
from shared.x.prices import summary as _prices
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
from shared.x.spend import budgets as get_budgets
from shared.x.spend import set_budget, spend_report
from shared.x.templates import (
    create_template,
    delete_template,
    get_template,
    list_templates,
    render_template,
    update_template,
)

if TYPE_CHECKING:
    from shared.runtime import Runtime


def get_prices(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    """X's configured prices (shared/x/prices.json, HERALD_X_PRICES over it)."""
    return _prices(runtime.settings)


__all__ = [
    "approve_post",
    "begin_connection",
    "begin_oauth2",
    "campaign_cost",
    "cancel_post",
    "complete_connection",
    "complete_oauth2",
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
    "drop_rest",
    "estimate_cost",
    "get_account",
    "get_budgets",
    "get_campaign",
    "get_plan",
    "get_post",
    "get_prices",
    "get_series",
    "get_template",
    "list_accounts",
    "list_campaigns",
    "list_posts",
    "list_series",
    "list_templates",
    "materialize_series",
    "plan_slots",
    "post_rest_separately",
    "render_template",
    "reschedule_post",
    "schedule_post",
    "set_budget",
    "spend_report",
    "update_account",
    "update_campaign",
    "update_post",
    "update_template",
    "validate_post",
]
