"""GET /timezones: the server's canonical zone names, the ones every timezone field takes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from shared.tenancy import check_timezone
from shared.timezones import canonical_zones
from tests.api.conftest import Api


def test_the_zone_list_is_the_servers_canonical_names_and_needs_no_sign_in(api: Api) -> None:
    r = api.call("GET", "/timezones")
    assert r.status_code == 200, r.get_json()
    assert "public" in r.headers["Cache-Control"] and "max-age" in r.headers["Cache-Control"]
    body = r.get_json()
    names = [z["name"] for z in body["zones"]]
    assert body["count"] == len(names) > 300
    # What Chromium's Intl.supportedValuesOf leaves out (issue 18): UTC and India's name.
    assert names[0] == "UTC"
    assert {"Asia/Kolkata", "Europe/Paris", "America/New_York"} <= set(names)
    # Aliases and POSIX-style zones are not offered; each name once.
    assert not {"Asia/Calcutta", "US/Eastern", "EST5EDT", "Etc/GMT+5", "Factory"} & set(names)
    assert len(set(names)) == len(names)
    offsets = {z["name"]: z["offset_minutes"] for z in body["zones"]}
    assert offsets["UTC"] == 0 and offsets["Asia/Kolkata"] == 330


def test_every_offered_zone_is_accepted_where_a_timezone_is_checked() -> None:
    for name in canonical_zones():
        assert check_timezone(name) == name
        ZoneInfo(name)
