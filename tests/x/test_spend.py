"""The cost governor: prices from configuration, spend counted from the calls made,
budgets that refuse or ask for confirmation. X is tweepy over `responses`."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import requests
import responses

from shared.errors import ValidationError
from shared.runtime import Runtime
from shared.settings import Settings
from shared.x import service, worker
from shared.x.cost import pricing_of
from shared.x.models import POSTS
from shared.x.prices import PricesError, table
from shared.x.spend import OverBudget
from tests.x.conftest import (
    TWEETS,
    add_x_account,
    created_reply,
    oauth1_signed,
    scheduled_post,
)


def _deliver(runtime: Runtime, clock, post_id: str) -> dict:  # type: ignore[no-untyped-def]
    spec = [t for t in runtime.enqueuer.tasks if t.payload["post_id"] == post_id][-1]  # type: ignore[attr-defined]
    if spec.schedule_time and spec.schedule_time > clock.now():
        clock.set(spec.schedule_time)
    return worker.handle(runtime, dict(spec.payload))


def test_prices_come_from_configuration(runtime, settings) -> None:
    assert table()["effective"] == "2026-04-20"
    account = add_x_account(runtime)
    pricing = pricing_of(settings, account)
    assert (pricing.post_usd, pricing.post_with_url_usd) == (0.015, 0.2)
    assert (pricing.owned_read_usd, pricing.read_usd) == (0.001, 0.005)
    # The environment's JSON goes over the file: a price change without a release.
    changed = dataclasses.replace(
        settings, x_prices='{"tiers": {"pay_per_use": {"post_with_url_usd": 0.25}}}'
    )
    assert pricing_of(changed, account).post_with_url_usd == 0.25
    assert pricing_of(changed, account).post_usd == 0.015
    runtime.settings = changed
    estimate = service.estimate_cost(
        runtime, "ws1", account_id=account.id, text="see https://example.com", parts=["two"]
    )
    assert estimate["per_part_usd"] == [0.25, 0.015]
    # An account's own overrides (an enterprise deal) go over its tier's prices.
    updated = service.update_account(runtime, "ws1", account.id, {"pricing": {"post_usd": 0.01}})
    assert updated["pricing"]["post_usd"] == 0.01 and updated["pricing_overrides"] == {
        "post_usd": 0.01
    }
    assert updated["pricing"]["post_with_url_usd"] == 0.25
    with pytest.raises(PricesError, match="unknown price"):
        table('{"tiers": {"pay_per_use": {"post_usdd": 1}}}')
    with pytest.raises(PricesError, match="not JSON"):
        table("{")
    with pytest.raises(ValidationError):
        service.update_account(runtime, "ws1", account.id, {"pricing": {"post_usd": -1}})


def test_spend_is_counted_from_the_calls_made(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    with_url = scheduled_post(runtime, account.id, text="read https://example.com/a", due_in=5)
    thread = scheduled_post(runtime, account.id, text="plain", parts=["second"], due_in=6)
    x_api.add(responses.POST, TWEETS, **created_reply("3001"))
    assert _deliver(runtime, clock, with_url["id"])["result"] == "published"
    # The thread: part one accepted, part two's answer lost, then found by reconciliation
    # among three of the account's posts (owned reads).
    x_api.add(responses.POST, TWEETS, **created_reply("3002"))
    x_api.add(responses.POST, TWEETS, body=requests.exceptions.ReadTimeout("read timed out"))
    assert _deliver(runtime, clock, thread["id"])["result"] == "unconfirmed"
    timeline = f"https://api.twitter.com/2/users/{account.x_user_id}/tweets"
    x_api.add(
        responses.GET,
        timeline,
        json={
            "data": [
                {
                    "id": "3003",
                    "text": "second",
                    "referenced_tweets": [{"type": "replied_to", "id": "3002"}],
                },
                {"id": "3002", "text": "plain"},
                {"id": "3001", "text": "read https://t.co/x"},
            ]
        },
    )
    assert _deliver(runtime, clock, thread["id"])["result"] == "published"
    # Reconciliation read the account's own posts with its own token: owned reads.
    reads = [c for c in x_api.calls if c.request.method == "GET"]
    assert reads and all(oauth1_signed(c) for c in reads)
    docs = {
        p: runtime.db.collection(POSTS).document(p).get().to_dict()
        for p in (with_url["id"], thread["id"])
    }
    assert docs[with_url["id"]]["x_cost_usd"] == 0.2
    assert docs[thread["id"]]["x_cost_usd"] == pytest.approx(0.015 + 0.015 + 3 * 0.001)
    month = clock.now().strftime("%Y-%m")
    assert {d["spend_month"] for d in docs.values()} == {month}
    report = service.spend_report(runtime, "ws1", account_id=account.id)
    assert report["workspace"]["spent_usd"] == pytest.approx(0.233)
    assert report["account"]["spent_posts_usd"] == pytest.approx(0.233)


def test_committed_and_projected_spend(runtime, clock) -> None:
    account = service.create_sandbox_account(runtime, "ws1")
    clock.set(clock.now().replace(day=10, hour=12))
    scheduled_post(runtime, account["id"], text="later https://example.com", due_in=3600)
    scheduled_post(runtime, account["id"], text="next month", due_in=40 * 86400)
    service.create_series(
        runtime,
        "ws1",
        name="daily tip",
        account_id=account["id"],
        texts=["tip one", "tip two"],
        start_at=clock.now() + timedelta(days=2),
        every="daily",
        end_at=clock.now() + timedelta(days=6),
    )
    spend = service.spend_report(runtime, "ws1")["workspace"]
    assert spend["spent_usd"] == 0 and spend["scheduled_usd"] == pytest.approx(0.2)
    assert spend["committed_usd"] == pytest.approx(0.2)
    # Five daily occurrences (days 2 to 6), none materialized yet: 5 x $0.015.
    assert spend["series_usd"] == pytest.approx(0.075)
    assert spend["projected_usd"] == pytest.approx(0.275)


def test_budgets_ask_for_confirmation_or_refuse(runtime, clock) -> None:
    account = service.create_sandbox_account(runtime, "ws1")
    first = scheduled_post(runtime, account["id"], text="one https://example.com/1", due_in=600)
    assert first["status"] == "scheduled"
    service.set_budget(runtime, "ws1", 0.3)
    second = service.create_post(
        runtime, "ws1", account_id=account["id"], text="two https://example.com/2"
    )
    due = clock.now() + timedelta(hours=2)
    with pytest.raises(OverBudget) as refused:
        service.schedule_post(runtime, "ws1", second["id"], due_at=due)
    details = refused.value.details
    assert details["needs_confirmation"] is True and details["after_usd"] == pytest.approx(0.4)
    assert refused.value.status == 409 and refused.value.code == "over_budget"
    done = service.schedule_post(runtime, "ws1", second["id"], due_at=due, confirm_over_budget=True)
    assert done["status"] == "scheduled"
    # Moving an already scheduled post within its month does not count it twice.
    service.reschedule_post(runtime, "ws1", first["id"], due + timedelta(hours=1))
    # An account budget that refuses: no confirmation gets past it.
    service.set_budget(runtime, "ws1", None)
    service.set_budget(runtime, "ws1", 0.5, "refuse", account_id=account["id"])
    third = service.create_post(runtime, "ws1", account_id=account["id"], text="three https://e.x")
    with pytest.raises(OverBudget) as refused:
        service.schedule_post(runtime, "ws1", third["id"], due_at=due, confirm_over_budget=True)
    assert refused.value.details["scope"] == "account"
    assert refused.value.details["needs_confirmation"] is False
    # Next month has its own budget.
    later = clock.now() + timedelta(days=45)
    assert service.schedule_post(runtime, "ws1", third["id"], due_at=later)["status"] == (
        "scheduled"
    )
    budgets = service.get_budgets(runtime, "ws1")
    assert budgets["monthly_usd"] is None
    assert budgets["accounts"][account["id"]] == {"monthly_usd": 0.5, "on_exceed": "refuse"}
    with pytest.raises(ValidationError):
        service.set_budget(runtime, "ws1", 5, "maybe")


def test_a_series_past_its_budget_leaves_drafts_with_the_reason(runtime, clock) -> None:
    account = service.create_sandbox_account(runtime, "ws1")
    service.set_budget(runtime, "ws1", 0.01)  # less than one post
    series = service.create_series(
        runtime,
        "ws1",
        name="over",
        account_id=account["id"],
        texts=["a tip"],
        start_at=clock.now() + timedelta(hours=1),
        end_at=clock.now() + timedelta(days=3),
    )
    assert series["posts"] == []
    assert "budget" in service.get_series(runtime, "ws1", series["id"])["last_error"]["reason"]


def test_spend_and_budget_routes(api, owner) -> None:
    token, ws = owner
    account = api.call("POST", f"/workspaces/{ws}/x/accounts/sandbox", token, json={}).get_json()
    r = api.call("PUT", f"/workspaces/{ws}/x/budget", token, json={"monthly_usd": 0.1})
    assert r.status_code == 200 and r.get_json()["monthly_usd"] == 0.1
    post = api.call(
        "POST",
        f"/workspaces/{ws}/posts",
        token,
        json={"account_id": account["id"], "text": "over https://example.com"},
    ).get_json()
    due = (api.runtime.clock.now() + timedelta(hours=3)).isoformat()
    path = f"/workspaces/{ws}/posts/{post['id']}/schedule"
    r = api.call("POST", path, token, json={"due_at": due})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "over_budget"
    assert r.get_json()["error"]["details"]["needs_confirmation"] is True
    r = api.call("POST", path, token, json={"due_at": due, "confirm_over_budget": True})
    assert r.status_code == 200, r.get_json()
    r = api.call("GET", f"/workspaces/{ws}/x/spend?account_id={account['id']}", token)
    body = r.get_json()
    assert body["workspace"]["committed_usd"] == 0.2 and body["workspace"]["budget_usd"] == 0.1
    assert body["account"]["budget_usd"] is None
    r = api.call("GET", f"/workspaces/{ws}/x/prices", token)
    assert r.get_json()["tiers"]["pay_per_use"]["owned_read_usd"] == 0.001


def test_settings_read_the_prices_override() -> None:
    env = {"HERALD_X_PRICES": '{"tiers": {"pay_per_use": {"post_usd": 0.02}}}'}
    assert Settings.from_env(env).x_prices == env["HERALD_X_PRICES"]
