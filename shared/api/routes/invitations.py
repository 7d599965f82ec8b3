"""Invitations: owners invite a username; the invitee accepts or declines once signed in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared import invitations
from shared.api.context import Ctx, Reply
from shared.api.models import Body
from shared.api.router import router
from shared.tenancy import Role

router.object_param("invitation_id", invitations.INVITATIONS, "invitation")


class InvitationIn(Body):
    username: str = Field(min_length=3, max_length=64)
    role: Role = Role.VIEWER


class InvitationOut(BaseModel):
    id: str
    username: str
    role: Role
    created_at: datetime | None = None
    expires_at: datetime | None = None


class MyInvitationOut(InvitationOut):
    workspace_id: str
    workspace_name: str


class InvitationsOut(BaseModel):
    items: list[InvitationOut]


class MyInvitationsOut(BaseModel):
    items: list[MyInvitationOut]


class AcceptedOut(BaseModel):
    workspace_id: str
    role: Role


@router.post(
    "/workspaces/{ws}/invitations",
    summary="Invite a username to the workspace with a role (the invitee must accept)",
    tag="members",
    role=Role.OWNER,
    body=InvitationIn,
    response=InvitationOut,
    status=201,
    description="The answer is the same whether or not an account has this username: an "
    "invitation to a name nobody holds yet waits for that account, and expires after "
    "14 days. Inviting the same username again renews the invitation with the new role.",
)
def invite_member(ctx: Ctx) -> Any:
    body: InvitationIn = ctx.body
    out = invitations.invite(ctx.db, ctx.ws, body.username, body.role, ctx.user_id or "", ctx.now())
    return Reply(out, 201)


@router.get(
    "/workspaces/{ws}/invitations",
    summary="Pending invitations of the workspace",
    tag="members",
    role=Role.OWNER,
    response=InvitationsOut,
)
def list_workspace_invitations(ctx: Ctx) -> Any:
    return {"items": invitations.pending_of_workspace(ctx.db, ctx.ws, ctx.now())}


@router.delete(
    "/workspaces/{ws}/invitations/{invitation_id}",
    summary="Revoke a pending invitation",
    tag="members",
    role=Role.OWNER,
    status=204,
)
def revoke_invitation(ctx: Ctx) -> Any:
    invitations.revoke(ctx.db, ctx.ws, ctx.params["invitation_id"])


@router.get(
    "/invitations",
    summary="My pending invitations",
    tag="members",
    role=None,
    response=MyInvitationsOut,
)
def my_invitations(ctx: Ctx) -> Any:
    return {"items": invitations.pending_for(ctx.db, ctx.username or "", ctx.now())}


@router.post(
    "/invitations/{invitation_id}/accept",
    summary="Accept an invitation addressed to me: I join its workspace",
    tag="members",
    role=None,
    response=AcceptedOut,
)
def accept_invitation(ctx: Ctx) -> Any:
    return invitations.accept(
        ctx.db, ctx.params["invitation_id"], ctx.user_id or "", ctx.username or "", ctx.now()
    )


@router.post(
    "/invitations/{invitation_id}/decline",
    summary="Decline an invitation addressed to me",
    tag="members",
    role=None,
    status=204,
)
def decline_invitation(ctx: Ctx) -> Any:
    invitations.decline(ctx.db, ctx.params["invitation_id"], ctx.username or "", ctx.now())
