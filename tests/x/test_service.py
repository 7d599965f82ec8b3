"""Domain operations: accounts (OAuth 1.0a), validation, cost, templates, series, plans."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import responses

from shared import media
from shared.errors import Conflict, NotFound, ValidationError
from shared.runtime import Runtime
from shared.text import content_hash, is_valid_tweet, weighted_length
from shared.x import service
from shared.x.models import OAUTH_REQUESTS, POSTS, X_ACCOUNTS
from shared.x.series import plan_slots
from tests.images import png
from tests.x.conftest import add_x_account


def _sandbox(runtime: Runtime, **kwargs: object) -> dict:
    return service.create_sandbox_account(runtime, "ws1", **kwargs)  # type: ignore[arg-type]


def test_weighted_length_follows_twitter_text_v3() -> None:
    assert weighted_length("hello") == 5
    assert weighted_length("see https://example.com/a/very/long/path?with=query") == 4 + 23
    assert weighted_length("日本語") == 6 and weighted_length("👍🏽") == 2
    assert is_valid_tweet("a" * 280) and not is_valid_tweet("a" * 281)
    assert not is_valid_tweet("   ") and is_valid_tweet("a" * 281, limit=25_000)
    assert not is_valid_tweet("日" * 141)


def test_oauth_three_legged_flow_stores_tokens_as_secrets(runtime) -> None:
    with responses.RequestsMock() as x:
        x.add(
            responses.POST,
            "https://api.twitter.com/oauth/request_token",
            body="oauth_token=req-tok&oauth_token_secret=req-sec&oauth_callback_confirmed=true",
        )
        begun = service.begin_connection(runtime, "ws1", "http://127.0.0.1:8700/x/callback")
        assert begun["authorization_url"].startswith("https://api.twitter.com/oauth/authorize")
        assert "oauth_token=req-tok" in begun["authorization_url"]
        assert 'oauth_callback="http' in x.calls[0].request.headers["Authorization"].decode()
        x.add(
            responses.POST,
            "https://api.twitter.com/oauth/access_token",
            body="oauth_token=acc-tok&oauth_token_secret=acc-sec&user_id=42&screen_name=herald",
        )
        x.add(
            responses.GET,
            "https://api.twitter.com/2/users/me",
            json={"data": {"id": "42", "name": "Herald", "username": "herald"}},
        )
        account = service.complete_connection(runtime, "ws1", "req-tok", "verifier-123")
        signed = x.calls[1].request.headers["Authorization"].decode()
        assert 'oauth_verifier="verifier-123"' in signed
    assert account["handle"] == "herald" and account["x_user_id"] == "42"
    stored = runtime.db.collection(X_ACCOUNTS).document(account["id"]).get().to_dict()
    assert "acc-sec" not in json.dumps(stored, default=str)
    assert json.loads(runtime.secrets.get(stored["secret_ref"]))["access_token"] == "acc-tok"
    assert not runtime.db.collection(OAUTH_REQUESTS).document("req-tok").get().exists
    with pytest.raises(NotFound):  # a verifier can be used once
        service.complete_connection(runtime, "ws1", "req-tok", "verifier-123")


def test_sandbox_accounts_need_sandbox_mode(runtime) -> None:
    from dataclasses import replace

    account = _sandbox(runtime)
    assert account["sandbox"] is True and account["kind"] == "sandbox"
    production_like = Runtime(settings=replace(runtime.settings, sandbox=False), _db=runtime.db)
    with pytest.raises(ValidationError, match="HERALD_SANDBOX"):
        service.create_sandbox_account(production_like, "ws1")


def test_validation_before_scheduling(runtime, clock) -> None:
    account = _sandbox(runtime)
    due = clock.now() + timedelta(hours=2)
    long = service.create_post(runtime, "ws1", account_id=account["id"], text="x" * 281)
    with pytest.raises(ValidationError) as info:
        service.schedule_post(runtime, "ws1", long["id"], due_at=due)
    problem = info.value.details["problems"][0]
    assert problem["weighted_length"] == 281 and problem["limit"] == 280
    premium = _sandbox(runtime, limits={"weighted_length": 25_000})
    ok = service.create_post(runtime, "ws1", account_id=premium["id"], text="x" * 281)
    assert service.schedule_post(runtime, "ws1", ok["id"], due_at=due)["status"] == "scheduled"
    refs = [media.put(runtime, "ws1", png())["id"] for _ in range(5)]
    with pytest.raises(ValidationError, match="at most 4 media items"):
        service.create_post(runtime, "ws1", account_id=account["id"], text="pics", media=refs)
    thread = service.create_post(
        runtime, "ws1", account_id=account["id"], text="ok", parts=["fine", "y" * 300]
    )
    report = service.validate_post(runtime, "ws1", thread["id"])
    assert not report["ok"] and report["problems"][0]["field"] == "parts[2]"


def test_duplicate_content_is_refused_per_account(runtime, clock) -> None:
    account, other = _sandbox(runtime), _sandbox(runtime)
    due = clock.now() + timedelta(hours=2)
    first = service.create_post(runtime, "ws1", account_id=account["id"], text="Hello   World")
    service.schedule_post(runtime, "ws1", first["id"], due_at=due)
    again = service.create_post(runtime, "ws1", account_id=account["id"], text="hello world")
    with pytest.raises(ValidationError, match="already scheduled or posted") as info:
        service.schedule_post(runtime, "ws1", again["id"], due_at=due + timedelta(hours=1))
    assert info.value.details["problems"][0]["duplicate_of"] == [first["id"]]
    elsewhere = service.create_post(runtime, "ws1", account_id=other["id"], text="hello world")
    service.schedule_post(runtime, "ws1", elsewhere["id"], due_at=due)  # another account: fine
    service.cancel_post(runtime, "ws1", first["id"])
    assert service.schedule_post(runtime, "ws1", again["id"], due_at=due)["status"] == "scheduled"


def test_cost_estimate_bills_url_posts_more(runtime, clock) -> None:
    account = _sandbox(runtime, tier="pay_per_use")
    plain = service.estimate_cost(runtime, "ws1", account_id=account["id"], text="no link here")
    linked = service.estimate_cost(
        runtime, "ws1", account_id=account["id"], text="read https://herald.example/post"
    )
    assert linked["total_usd"] > plain["total_usd"] > 0 and linked["parts_with_url"] == 1
    campaign = service.create_campaign(runtime, "ws1", name="Launch", timezone="Europe/Paris")
    due = clock.now() + timedelta(hours=3)
    for text in ("first", "second https://herald.example"):
        post = service.create_post(
            runtime, "ws1", account_id=account["id"], text=text, campaign_id=campaign["id"]
        )
        service.schedule_post(runtime, "ws1", post["id"], due_at=due)
        due += timedelta(minutes=5)
    total = service.campaign_cost(runtime, "ws1", campaign["id"])
    assert total["posts"] == 2
    assert total["total_usd"] == pytest.approx(plain["total_usd"] + linked["total_usd"])


def test_campaigns_keep_extra_fields_and_generated_posts_need_approval(runtime, clock) -> None:
    account = _sandbox(runtime)
    campaign = service.create_campaign(
        runtime,
        "ws1",
        name="Autopilot",
        keywords=["serverless"],
        hashtags=["#herald"],
        timezone="America/New_York",
        tone="friendly",
        autopilot={"posts_per_day": 3},
    )
    assert campaign["tone"] == "friendly" and campaign["approval_required"] is True
    changed = service.update_campaign(runtime, "ws1", campaign["id"], {"persona": "dev advocate"})
    assert changed["persona"] == "dev advocate" and changed["keywords"] == ["serverless"]
    draft = service.create_post(
        runtime,
        "ws1",
        account_id=account["id"],
        text="generated text",
        campaign_id=campaign["id"],
        source="generated",
        model="gemini-2.5-flash",
    )
    assert draft["status"] == "draft" and draft["model"] == "gemini-2.5-flash"
    due = clock.now() + timedelta(hours=1)
    with pytest.raises(Conflict, match="approval"):
        service.schedule_post(runtime, "ws1", draft["id"], due_at=due)
    service.approve_post(runtime, "ws1", draft["id"])
    assert service.schedule_post(runtime, "ws1", draft["id"], due_at=due)["status"] == "scheduled"
    with pytest.raises(Conflict):
        service.delete_campaign(runtime, "ws1", campaign["id"])


def test_workspaces_are_isolated(runtime) -> None:
    account = _sandbox(runtime)
    post = service.create_post(runtime, "ws1", account_id=account["id"], text="mine")
    with pytest.raises(NotFound):
        service.get_post(runtime, "ws2", post["id"])
    with pytest.raises(NotFound):
        service.create_post(runtime, "ws2", account_id=account["id"], text="not yours")


def test_calendar_listing_pages_by_due_instant(runtime, clock) -> None:
    account = _sandbox(runtime)
    start = clock.now() + timedelta(days=1)
    ids = []
    for i in range(5):
        post = service.create_post(runtime, "ws1", account_id=account["id"], text=f"day {i}")
        service.schedule_post(runtime, "ws1", post["id"], due_at=start + timedelta(hours=i))
        ids.append(post["id"])
    seen, after = [], None
    while True:
        page = service.list_posts(
            runtime,
            "ws1",
            status="scheduled",
            start=start,
            end=start + timedelta(hours=4),
            limit=2,
            after=after,
        )
        seen += [p["id"] for p in page["items"]]
        after = page["next"]
        if not after:
            break
    assert seen == ids[:4]


def test_templates_render_placeholders(runtime) -> None:
    template = service.create_template(
        runtime, "ws1", name="launch", text="{product} is live in {city}! {{not a slot}}"
    )
    assert template["placeholders"] == ["product", "city"]
    out = service.render_template(
        runtime, "ws1", template["id"], {"product": "Herald", "city": "Lyon"}
    )
    assert out["text"] == "Herald is live in Lyon! {not a slot}"
    with pytest.raises(ValidationError, match="city"):
        service.render_template(runtime, "ws1", template["id"], {"product": "Herald"})
    with pytest.raises(ValidationError):
        service.create_template(runtime, "ws1", name="bad", text="{product.name}")


def test_posting_plan_spreads_posts_over_local_active_hours() -> None:
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # the day Paris moves to summer time
    slots = plan_slots(3, "09:00", "18:00", "Europe/Paris", start)
    local = [s.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") for s in slots]
    assert local == ["10:30", "13:30", "16:30"]
    assert [s.hour for s in slots] == [8, 11, 14]  # UTC+2 after the change


def test_plan_for_a_campaign(runtime) -> None:
    account = _sandbox(runtime)
    campaign = service.create_campaign(runtime, "ws1", name="Plan", timezone="Asia/Tokyo")
    plan = service.create_plan(
        runtime, "ws1", campaign_id=campaign["id"], account_id=account["id"], posts_per_day=4
    )
    assert len(plan["slots"]) == 4 and plan["timezone"] == "Asia/Tokyo"
    with pytest.raises(ValidationError):
        service.create_plan(
            runtime, "ws1", campaign_id=campaign["id"], account_id=account["id"], posts_per_day=0
        )


def test_series_vary_text_so_no_duplicate_goes_out(runtime, clock) -> None:
    from shared.x.series import materialize_due

    account = _sandbox(runtime)
    series = service.create_series(
        runtime,
        "ws1",
        name="tips",
        account_id=account["id"],
        texts=["Tip: schedule at the exact second", "Tip: threads resume after failures"],
        start_at=clock.now() + timedelta(hours=1),
        every="daily",
        end_at=clock.now() + timedelta(days=4),
    )
    assert len(series["posts"]) == 1  # the next 24 hours
    for _ in range(4):
        clock.advance(days=1)
        materialize_due(runtime)
        materialize_due(runtime)  # a concurrent or repeated run creates nothing more
    posts = [d.to_dict() for d in runtime.db.collection(POSTS).stream()]
    assert len(posts) == 4  # days 0..3 within end_at
    hashes = [content_hash(p["parts"]) for p in posts]
    assert len(set(hashes)) == 4
    assert all(p["status"] in ("scheduled", "queued") and p["source"] == "series" for p in posts)
    assert service.get_series(runtime, "ws1", series["id"])["active"] is False


def test_media_store_round_trip_and_refusals(runtime) -> None:
    stored = media.put(runtime, "ws1", png())
    data, ctype = media.read(runtime, "ws1", stored["id"])
    assert ctype == "image/png" and data.startswith(b"\x89PNG")
    with pytest.raises(ValidationError, match="not a JPEG, PNG, GIF or WebP"):
        media.put(runtime, "ws1", b"%PDF-1.7 not an image")
    with pytest.raises(NotFound):
        media.read(runtime, "ws2", stored["id"])
    with pytest.raises(NotFound):
        media.resolve(runtime, "ws1", "file:ws1/../../etc/passwd")


def test_x_account_fixture_is_connected(runtime) -> None:
    account = add_x_account(runtime)
    assert service.get_account(runtime, "ws1", account.id)["status"] == "active"
    listed = service.list_accounts(runtime, "ws1")
    assert [a["id"] for a in listed["items"]] == [account.id]
    assert "secret_ref" not in listed["items"][0]


def test_series_texts_are_validated_and_failures_recorded(runtime, clock) -> None:
    from shared.x.models import X_ACCOUNTS
    from shared.x.series import materialize_due

    account = _sandbox(runtime)
    with pytest.raises(ValidationError, match="text 2"):
        service.create_series(
            runtime,
            "ws1",
            name="bad",
            account_id=account["id"],
            texts=["fine", "x" * 300],
            start_at=clock.now() + timedelta(hours=1),
            end_at=clock.now() + timedelta(days=2),
        )
    series = service.create_series(
        runtime,
        "ws1",
        name="ok",
        account_id=account["id"],
        texts=["a", "b"],
        start_at=clock.now() + timedelta(hours=1),
        end_at=clock.now() + timedelta(days=3),
    )
    runtime.db.collection(X_ACCOUNTS).document(account["id"]).update(
        {"status": "revoked", "status_reason": "X refused the tokens"}
    )
    from shared.x import cache

    cache.invalidate(runtime, account["id"])
    clock.advance(days=1)
    materialize_due(runtime)  # the occurrence cannot be scheduled: recorded, not raised
    stored = service.get_series(runtime, "ws1", series["id"])
    assert "revoked" in stored["last_error"]["reason"] and stored["next_index"] == 2


def test_a_campaign_or_template_too_large_for_firestore_is_refused_clearly(runtime) -> None:
    """A campaign's brief is an open document (topics, tone, ...): one over Firestore's
    1 MiB is refused as bad input (400), on create and on update, and nothing is written."""
    huge = ["\U0001f600" * 1000] * 300  # ~1.2 MB of topics
    with pytest.raises(ValidationError, match="campaign is too large to store"):
        service.create_campaign(runtime, "ws1", name="Big", timezone="UTC", topics=huge)
    assert service.list_campaigns(runtime, "ws1")["items"] == []
    campaign = service.create_campaign(runtime, "ws1", name="Small", timezone="UTC")
    with pytest.raises(ValidationError, match="too large"):
        service.update_campaign(runtime, "ws1", campaign["id"], {"topics": huge})
    assert service.get_campaign(runtime, "ws1", campaign["id"]).get("topics") in (None, [])
    template = service.create_template(runtime, "ws1", name="T", text="Hi {name}")
    with pytest.raises(ValidationError, match="template is too large"):
        service.update_template(runtime, "ws1", template["id"], {"text": "x" * 1_100_000})


def test_a_series_stopped_while_it_materializes_stays_stopped(runtime, clock, monkeypatch) -> None:
    """The materializer wrote back the `active` flag of the snapshot it started from: a
    series stopped meanwhile came back to life (a lost update; now a transaction)."""
    from shared.x import series as series_module

    account = _sandbox(runtime)
    created = service.create_series(
        runtime,
        "ws1",
        name="stop me",
        account_id=account["id"],
        texts=["Weekly reminder"],
        start_at=clock.now() + timedelta(hours=30),
        every="daily",
        end_at=clock.now() + timedelta(days=10),
    )
    schedule = series_module.schedule_post

    def stop_meanwhile(*args: object, **kwargs: object) -> dict:
        service.delete_series(runtime, "ws1", created["id"])
        return schedule(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(series_module, "schedule_post", stop_meanwhile)
    clock.advance(hours=12)
    assert len(service.materialize_series(runtime, "ws1", created["id"])) == 1
    stored = service.get_series(runtime, "ws1", created["id"])
    assert stored["active"] is False
    assert stored["next_index"] == 1  # what this run materialized still counts
