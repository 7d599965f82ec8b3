"""The rate governor's arithmetic: X's headers capped by the tier's quotas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.channels.outcomes import RateInfo
from shared.x import governor
from shared.x.models import XAccount

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _account(per_15: int = 100, per_day: int = 17) -> XAccount:
    return XAccount(
        id="acct-gov",
        limits={"weighted_length": 280, "posts_per_15min": per_15, "posts_per_24h": per_day},
    )


def test_tier_quota_caps_a_larger_window_from_x() -> None:
    account = _account(per_day=17)
    reset = NOW + timedelta(hours=5)
    # X reports an app-sized day window; the tier allows 17, and 17 are used.
    rate = RateInfo(day_limit=100, day_remaining=83, day_reset_at=reset)
    fields = governor.observe(account, rate, NOW)
    assert fields is not None and fields["day_remaining"] == 0  # persisted: nearly spent
    assert governor.defer_until(account, NOW) == reset + governor.RESET_MARGIN
    assert governor.defer_until(account, reset + timedelta(seconds=2)) is None
    governor.forget()


def test_plenty_left_costs_no_write_and_clears_a_stale_low_mark() -> None:
    account = _account(per_15=100, per_day=10_000)
    rate = RateInfo(limit=100, remaining=90, reset_at=NOW + timedelta(minutes=10))
    assert governor.observe(account, rate, NOW) is None
    assert governor.defer_until(account, NOW) is None
    account.rl_remaining, account.rl_reset_at = 1, NOW + timedelta(minutes=5)
    cleared = governor.observe(account, rate, NOW)
    assert cleared == {
        "rl_remaining": None,
        "rl_reset_at": None,
        "day_remaining": None,
        "day_reset_at": None,
    }
    governor.forget()


def test_document_state_is_used_by_a_fresh_process() -> None:
    governor.forget()
    account = _account()
    account.rl_remaining, account.rl_reset_at = 0, NOW + timedelta(minutes=3)
    assert governor.defer_until(account, NOW) == NOW + timedelta(minutes=3, seconds=1)
