"""Contact lists, contacts and their imports.

Thin: every operation is shared.email.service; this module declares routes and shapes.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import ARRAY, OBJECT, Body, Name, PageQuery, ShortValue
from shared.api.router import Upload, router
from shared.errors import NotFound, ValidationError
from shared.tenancy import Role

router.object_param("list_id", "contact_lists", "contact list")
router.object_param("contact_id", "contacts", "contact")
router.object_param("import_id", "contact_imports", "contact import")


def _svc() -> Any:
    from shared.email import service

    return service


class ListIn(Body):
    name: str = Field(min_length=1, max_length=120)


class ContactsQuery(PageQuery):
    list_id: str | None = None
    q: str | None = Field(None, max_length=254, description="the address starts with this")


class ContactPatch(Body):
    first_name: str | None = Field(None, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    timezone: str | None = Field(None, description="IANA zone; empty to clear")
    fields: dict[Name, ShortValue | int | float] | None = Field(
        None, max_length=50, description="custom fields to set (merged with the contact's others)"
    )
    status: str | None = Field(
        None,
        description="subscribed | unsubscribed: a manual unsubscribe, or its undoing (a "
        "recipient's own unsubscribe or a hard bounce cannot be undone here)",
    )
    email: str | None = Field(None, description="cannot change; given only to be checked")


@router.get(
    "/workspaces/{ws}/lists",
    summary="Contact lists with their contact counts",
    tag="contacts",
    response=ARRAY,
)
def list_contact_lists(ctx: Ctx) -> Any:
    from shared.email.contact_admin import lists_with_counts

    return lists_with_counts(ctx.runtime, ctx.ws)


@router.post(
    "/workspaces/{ws}/lists",
    summary="Create a contact list",
    tag="contacts",
    role=Role.EDITOR,
    body=ListIn,
    response=OBJECT,
    status=201,
)
def create_contact_list(ctx: Ctx) -> Any:
    return _svc().create_contact_list(ctx.runtime, ctx.ws, ctx.body.name)


@router.get(
    "/workspaces/{ws}/lists/{list_id}",
    summary="A contact list with its contact count",
    tag="contacts",
    response=OBJECT,
)
def get_contact_list(ctx: Ctx) -> Any:
    return _svc().get_contact_list(ctx.runtime, ctx.ws, ctx.params["list_id"])


@router.post(
    "/workspaces/{ws}/lists/{list_id}/import",
    summary="Import contacts from CSV or XLSX into a list; answers the validation report",
    tag="contacts",
    role=Role.EDITOR,
    body=Upload(
        "a .csv or .xlsx file with a header row",
        fields={
            "mapping": 'JSON: {"email": "<column>", "first_name": ..., "last_name": ..., '
            '"timezone": ..., "fields": {"<name>": "<column>"}}; default {"email": "email"}'
        },
        max_bytes=40 * 1024 * 1024,
    ),
    response=OBJECT,
    description="The whole file is checked first; a malformed file is refused with nothing "
    "written. The report lists rejected rows (row, reason: invalid address, duplicate, "
    "suppressed). Up to 2,000 accepted rows are written before the answer (`status: done`); "
    "a larger file is written in the background (`status: importing`; follow it with "
    "GET /workspaces/{ws}/imports/{import_id}).",
)
def import_contacts(ctx: Ctx) -> Any:
    name, data = ctx.upload()
    return _svc().import_contacts(
        ctx.runtime, ctx.ws, data, name, _mapping(ctx.form("mapping")), ctx.params["list_id"]
    )


@router.get(
    "/workspaces/{ws}/imports/{import_id}",
    summary="A contact import: its validation report and progress (chunks, contacts written)",
    tag="contacts",
    response=OBJECT,
)
def get_import(ctx: Ctx) -> Any:
    return _svc().get_import(ctx.runtime, ctx.ws, ctx.params["import_id"])


def _mapping(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {"email": "email"}
    try:
        mapping = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # also too deep, or a 5,000-digit number
        raise ValidationError(
            f"mapping is not valid JSON: {exc}", [{"field": "mapping", "message": "not JSON"}]
        ) from exc
    if not isinstance(mapping, dict):
        raise ValidationError("mapping must be a JSON object", [{"field": "mapping"}])
    return mapping


@router.get(
    "/workspaces/{ws}/contacts",
    summary="Contacts by address (of one list, or whose address starts with q), with "
    "each one's subscription status",
    tag="contacts",
    query=ContactsQuery,
    response=OBJECT,
    paged=True,
    description="`status`: subscribed | unsubscribed | bounced | suppressed (from the "
    "suppression list); `list_ids`: the lists the contact is in.",
)
def list_contacts(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    q: ContactsQuery = ctx.query
    if q.list_id:
        from shared.tenancy import scoped_get

        if scoped_get(ctx.db, "contact_lists", ctx.ws, q.list_id) is None:
            raise NotFound("contact list not found in this workspace")
    if q.q and not q.list_id:
        page = contact_admin.search_contacts(
            ctx.runtime, ctx.ws, q.q, after=after_key(ctx), limit=q.limit
        )
    else:
        page = _svc().list_contacts(
            ctx.runtime, ctx.ws, list_id=q.list_id, after=after_key(ctx), limit=q.limit
        )
    contact_admin.with_status(ctx.runtime, ctx.ws, page["items"])
    return service_page(page)


@router.get(
    "/workspaces/{ws}/contacts/{contact_id}",
    summary="A contact with its subscription status",
    tag="contacts",
    response=OBJECT,
)
def get_contact(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    return contact_admin.get_contact(ctx.runtime, ctx.ws, ctx.params["contact_id"])


@router.patch(
    "/workspaces/{ws}/contacts/{contact_id}",
    summary="Edit a contact (names, timezone, fields) or its subscription status",
    tag="contacts",
    role=Role.EDITOR,
    body=ContactPatch,
    response=OBJECT,
    description="The lists' member entries change with it, so the next campaign uses the "
    "new values. The address is the contact's identity and cannot change.",
)
def update_contact(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    return contact_admin.update_contact(
        ctx.runtime, ctx.ws, ctx.params["contact_id"], ctx.body.given()
    )


@router.delete(
    "/workspaces/{ws}/contacts/{contact_id}",
    summary="Delete a contact and its list memberships (a suppression of the address stays)",
    tag="contacts",
    role=Role.EDITOR,
    status=204,
)
def delete_contact(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    contact_admin.delete_contact(ctx.runtime, ctx.ws, ctx.params["contact_id"])


@router.delete(
    "/workspaces/{ws}/lists/{list_id}/contacts/{contact_id}",
    summary="Take a contact out of a list (the contact stays, with its other lists)",
    tag="contacts",
    role=Role.EDITOR,
    status=204,
)
def remove_from_list(ctx: Ctx) -> Any:
    _svc().remove_from_list(ctx.runtime, ctx.ws, ctx.params["list_id"], ctx.params["contact_id"])
