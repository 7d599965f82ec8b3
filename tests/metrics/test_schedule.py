"""The decaying pull schedule, the CSV cell rule and small pure helpers (no emulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.metrics import schedule
from shared.metrics.csv_export import neutralize
from shared.metrics.model import day_bounds, zone

PUB = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_hourly_on_the_first_day() -> None:
    assert schedule.first_pull_at(PUB) == PUB + timedelta(hours=1)
    assert schedule.next_pull_at(PUB, PUB + timedelta(minutes=61)) == PUB + timedelta(hours=2)
    # A late pull does not shift the slots after it: they stay anchored on publication.
    assert schedule.next_pull_at(PUB, PUB + timedelta(hours=5, minutes=59)) == PUB + timedelta(
        hours=6
    )
    assert schedule.next_pull_at(PUB, PUB + timedelta(hours=23, minutes=30)) == PUB + timedelta(
        hours=24
    )


def test_daily_until_thirty_days_then_never() -> None:
    assert schedule.next_pull_at(PUB, PUB + timedelta(hours=24)) == PUB + timedelta(days=2)
    assert schedule.next_pull_at(PUB, PUB + timedelta(days=7, hours=3)) == PUB + timedelta(days=8)
    assert schedule.next_pull_at(PUB, PUB + timedelta(days=29, hours=1)) == PUB + timedelta(days=30)
    final = schedule.next_pull_at(PUB, PUB + timedelta(days=30))
    assert final == schedule.NEVER and schedule.is_final(final)


def test_pulls_over_a_lifetime() -> None:
    at, pulls = schedule.first_pull_at(PUB), 0
    while not schedule.is_final(at):
        pulls += 1
        at = schedule.next_pull_at(PUB, at)
    assert pulls == 24 + 29  # +1 h ... +24 h, then +2 d ... +30 d


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (["=x", "y"], "'=x;y"),
        ({"k": "=v"}, '{"k": "=v"}'),
        (-5, -5),
        (1.5, 1.5),
        (True, "true"),
        (None, ""),
    ],
)
def test_formula_cells_are_neutralized(cell: object, expected: object) -> None:
    assert neutralize(cell) == expected


def test_local_day_bounds_follow_dst() -> None:
    start, end = day_bounds(datetime(2026, 3, 29).date(), zone("Europe/Paris"))
    assert end - start == timedelta(hours=23)  # the spring-forward day
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
