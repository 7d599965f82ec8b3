"""A document's storage size as Firestore counts it, and a guard against its 1 MiB limit.

Firestore refuses a write whose document would exceed 1 MiB (1,048,576 bytes) with
INVALID_ARGUMENT, which would surface as a 500. Where user input can grow a document
(a template's body, a campaign's brief, a post's parts and media), the write is checked
first and refused with a ValidationError that says what is too big.

Sizes follow https://firebase.google.com/docs/firestore/storage-size: a string is its
UTF-8 bytes + 1; booleans and nulls 1; integers, floats and instants 8; a geo point 16;
bytes their length; an array the sum of its values; a map the sum of its field names'
and values' sizes; a document its name (each collection and document id, + 16), its
fields, + 32.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from shared.errors import ValidationError

MAX_DOCUMENT_BYTES = 1_048_576
# Room left for the fields the code adds around the user's input (timestamps, keys).
HEADROOM = 16_384


def string_size(text: str) -> int:
    return len(text.encode("utf-8")) + 1


def value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | float | datetime | date):
        return 8
    if isinstance(value, str):
        return string_size(value)
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping):
        return fields_size(value)
    if isinstance(value, list | tuple):
        return sum(value_size(v) for v in value)
    path = getattr(value, "path", None)  # a DocumentReference
    if isinstance(path, str):
        return name_size(path)
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return 16
    return 8  # sentinels (SERVER_TIMESTAMP, Increment) resolve to a number or an instant


def fields_size(data: Mapping[str, Any]) -> int:
    return sum(string_size(str(k)) + value_size(v) for k, v in data.items())


def name_size(path: str) -> int:
    """`collection/doc[/collection/doc...]`: each id's string size + 16."""
    return sum(string_size(part) for part in path.split("/")) + 16


def document_size(path: str, data: Mapping[str, Any]) -> int:
    return name_size(path) + fields_size(data) + 32


def ensure_fits(path: str, data: Mapping[str, Any], what: str) -> None:
    """Refuse (ValidationError, 400) a document that Firestore would refuse as too big,
    keeping HEADROOM for the fields the code writes next to the user's."""
    size = document_size(path, data)
    limit = MAX_DOCUMENT_BYTES - HEADROOM
    if size > limit:
        biggest = sorted(data, key=lambda k: value_size(data[k]), reverse=True)[:3]
        raise ValidationError(
            f"the {what} is too large to store: {size:,} bytes, at most {limit:,}; "
            f"shorten {', '.join(biggest)}",
            {"size": size, "limit": limit, "largest_fields": biggest},
        )
