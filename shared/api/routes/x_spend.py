"""The X cost governor: configured prices, monthly budgets, the month's spend."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.api.context import Ctx
from shared.api.models import OBJECT, Body
from shared.api.router import router
from shared.tenancy import Role


def _svc() -> Any:
    from shared.x import service

    return service


# -- models ---------------------------------------------------------------------------


class SpendQuery(BaseModel):
    month: str | None = Field(None, description="YYYY-MM (UTC); default: this month")
    account_id: str | None = Field(None, description="also this account's spend and budget")


class BudgetIn(Body):
    monthly_usd: float | None = Field(
        description="the month's budget in USD; null removes it", ge=0, le=1_000_000
    )
    on_exceed: str = Field("confirm", description="past it: confirm (ask) | refuse")


# -- routes ---------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/x/spend",
    summary="The month's X spend: spent (counted), committed, projected, and the budgets",
    tag="x",
    query=SpendQuery,
    response=OBJECT,
)
def x_spend(ctx: Ctx) -> Any:
    q: SpendQuery = ctx.query
    return _svc().spend_report(ctx.runtime, ctx.ws, q.month, q.account_id)


@router.get(
    "/workspaces/{ws}/x/budget",
    summary="The workspace's and each account's monthly X budget",
    tag="x",
    response=OBJECT,
)
def get_x_budget(ctx: Ctx) -> Any:
    return _svc().get_budgets(ctx.runtime, ctx.ws)


@router.put(
    "/workspaces/{ws}/x/budget",
    summary="Set the workspace's monthly X budget and what happens past it",
    tag="x",
    role=Role.OWNER,
    body=BudgetIn,
    response=OBJECT,
)
def set_x_budget(ctx: Ctx) -> Any:
    body: BudgetIn = ctx.body
    return _svc().set_budget(ctx.runtime, ctx.ws, body.monthly_usd, body.on_exceed)


@router.put(
    "/workspaces/{ws}/x/accounts/{account_id}/budget",
    summary="Set an X account's monthly budget and what happens past it",
    tag="x",
    role=Role.OWNER,
    body=BudgetIn,
    response=OBJECT,
)
def set_x_account_budget(ctx: Ctx) -> Any:
    body: BudgetIn = ctx.body
    return _svc().set_budget(
        ctx.runtime, ctx.ws, body.monthly_usd, body.on_exceed, ctx.params["account_id"]
    )


@router.get(
    "/workspaces/{ws}/x/prices",
    summary="X's prices as configured (per tier; when they took effect, their source)",
    tag="x",
    response=OBJECT,
)
def get_x_prices(ctx: Ctx) -> Any:
    return _svc().get_prices(ctx.runtime, ctx.ws)
