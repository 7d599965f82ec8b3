"""Request and response models shared by several routes modules.

Every request string, list and free-form object has a bound (a field's own, else the
model's `str_max_length`), so no request can store a document near Firestore's 1 MiB
limit; tests/api/test_bounds.py checks the bounds of every body against that limit.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from shared.api.paging import DEFAULT_LIMIT, MAX_LIMIT

# A request string without a bound of its own: one line of text (a name, an id, a URL).
MAX_STR = 2000
# A free-form JSON object (targeting, creative, brief options): its JSON size.
MAX_OBJECT_BYTES = 16 * 1024


def _bounded(limit: int) -> Any:
    def check(value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
        if size > limit:
            raise ValueError(f"is {size} bytes as JSON; at most {limit}")
        return value

    return check


# `x-max-bytes` documents the bound (JSON Schema has no keyword for an object's size).
JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_bounded(MAX_OBJECT_BYTES)),
    WithJsonSchema({"type": "object", "maxProperties": 100, "x-max-bytes": MAX_OBJECT_BYTES}),
]


# A short free-form object (one topic of a brief).
SmallObject = Annotated[
    dict[str, Any],
    AfterValidator(_bounded(2048)),
    WithJsonSchema({"type": "object", "maxProperties": 20, "x-max-bytes": 2048}),
]
# A personalization variable's or placeholder's name, and a short value.
Name = Annotated[str, Field(max_length=64)]
Word = Annotated[str, Field(max_length=200)]
ShortValue = Annotated[str, Field(max_length=500)]


class Body(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not silently ignored.

    `references` maps each field that names an object of the workspace (an id, or a list
    of ids) to its object path parameter (`router.object_param`): the API checks them
    all before the handler runs. `external_ids` lists `*_id` fields that name something
    outside Herald (an ad platform's account id); tests check every `*_id` field is one
    or the other."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=MAX_STR)
    references: ClassVar[dict[str, str]] = {}
    external_ids: ClassVar[frozenset[str]] = frozenset()

    def given(self, *, json: bool = False) -> dict[str, Any]:
        """The fields the request gave, not the defaults it left out (a create, or a
        partial update); `json`: datetimes as ISO strings."""
        return self.model_dump(exclude_unset=True, mode="json" if json else "python")


class Query(BaseModel):
    """Query strings: bounded like bodies (unknown parameters are ignored, as HTTP does)."""

    model_config = ConfigDict(str_max_length=MAX_STR)


class PageQuery(Query):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="rows per page")


class Ok(BaseModel):
    ok: bool = True


class Open(BaseModel):
    """Response records: the listed fields and whatever else the document holds."""

    model_config = ConfigDict(extra="allow")


# Loose response schemas for views whose shape the pipeline's service owns.
OBJECT: dict[str, object] = {"type": "object"}
ARRAY: dict[str, object] = {"type": "array", "items": {"type": "object"}}
