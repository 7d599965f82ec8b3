"""The IANA zone names Herald offers: the server's own database, canonical names only.

A browser's list (`Intl.supportedValuesOf("timeZone")`) is not the one the API
validates with: Chromium's omits UTC and knows India only as the old alias
Asia/Calcutta. So the admin page asks the API (GET /timezones) and offers exactly
these names, every one of which `check_timezone` accepts.

Canonical means a `Z` (zone) line of the tz source `tzdata.zi` that zoneinfo reads,
rather than an `L` (link) line such as Asia/Calcutta -> Asia/Kolkata; the POSIX-style
zones (EST5EDT, CET, ...), Factory and the Etc/ area are left out, UTC is added.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _source() -> str | None:
    """tzdata.zi from where zoneinfo reads its zones: TZPATH first, then `tzdata`."""
    for base in zoneinfo.TZPATH:
        path = Path(base) / "tzdata.zi"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        from importlib.resources import files

        return (files("tzdata.zoneinfo") / "tzdata.zi").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def _offered(name: str) -> bool:
    return "/" in name and not name.startswith(("Etc/", "posix/", "right/"))


@functools.cache
def canonical_zones() -> tuple[str, ...]:
    """UTC, then every canonical region zone the server can load, sorted."""
    available = zoneinfo.available_timezones()
    text = _source()
    if text is None:  # no tz source file: every region name the database has
        names = {n for n in available if _offered(n)}
    else:
        names = {
            parts[1]
            for parts in (line.split() for line in text.splitlines())
            if len(parts) > 1 and parts[0] == "Z" and _offered(parts[1])
        } & available
    return ("UTC", *sorted(names))


def offset_minutes(name: str, at: datetime | None = None) -> int:
    """The zone's UTC offset at `at` (default now), in minutes."""
    instant = at or datetime.now(UTC)
    offset = instant.astimezone(zoneinfo.ZoneInfo(name)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def zone_list(at: datetime | None = None) -> dict[str, Any]:
    """The zones with their current offsets: the admin page formats times with the
    browser's Intl where it knows the zone, and by this offset where it does not."""
    names = canonical_zones()
    return {
        "zones": [{"name": n, "offset_minutes": offset_minutes(n, at)} for n in names],
        "count": len(names),
    }
