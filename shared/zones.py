"""IANA time zones from untrusted names.

`ZoneInfo` reads a file named after the zone: a very long name raises OSError ("File name
too long"), odd ones ValueError, so every name that comes from a request, a document
or an imported file goes through `find_zone`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_ZONE_NAME = 64  # the longest IANA name is about 32 characters


def find_zone(name: object) -> ZoneInfo | None:
    """The zone called `name`, or None when there is no such zone."""
    if not isinstance(name, str) or not name or len(name) > MAX_ZONE_NAME or "\x00" in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_or_utc(name: object) -> ZoneInfo:
    return find_zone(name) or ZoneInfo("UTC")
