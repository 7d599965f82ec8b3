"""Request and response models shared by several routes modules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.api.paging import DEFAULT_LIMIT, MAX_LIMIT


class Body(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PageQuery(BaseModel):
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
