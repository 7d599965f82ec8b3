"""A campaign's channels through the API: every id checked against the caller's
workspace, a cap, and generation that goes to them unless the request says otherwise."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_post_groups import _channel


def _account(api: Api, token: str, ws: str, network: str, handle: str) -> str:
    return str(_channel(api, token, ws, network, handle)["id"])


def _campaign(api: Api, token: str, ws: str, **body: Any) -> Any:
    return api.call("POST", f"/workspaces/{ws}/campaigns", token, json={"name": "Net", **body})


def test_campaign_channels_are_accounts_of_the_workspace(api: Api, owner) -> None:
    token, ws = owner
    x = _account(api, token, ws, "x", "acme")
    sky = _account(api, token, ws, "bluesky", "acme.bsky")
    _, other_ws = api.user("mallory", "Other")
    other_token = api.login("mallory")
    foreign = _account(api, other_token, str(other_ws), "mastodon", "mallory")
    r = _campaign(api, token, ws, account_id=x, channels=[sky, foreign])
    assert r.status_code == 404, r.get_json()
    assert r.get_json()["error"]["details"][0]["field"] == "channels"
    r = _campaign(api, token, ws, account_id=x, channels=[sky])
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]
    assert r.get_json()["channels"] == [sky]
    r = api.call("PATCH", f"/workspaces/{ws}/campaigns/{cid}", token, json={"channels": [foreign]})
    assert r.status_code == 404
    r = api.call("PATCH", f"/workspaces/{ws}/campaigns/{cid}", token, json={"channels": [x] * 10})
    assert r.status_code == 400, r.get_json()  # over the cap, before anything is read
    r = api.call("PATCH", f"/workspaces/{ws}/campaigns/{cid}", token, json={"channels": []})
    assert r.status_code == 200 and r.get_json()["channels"] == []


def test_generate_goes_to_the_campaign_channels_unless_told(api: Api, owner) -> None:
    token, ws = owner
    x = _account(api, token, ws, "x", "acme")
    sky = _account(api, token, ws, "bluesky", "acme.bsky")
    toot = _account(api, token, ws, "mastodon", "acme@social.example")
    cid = _campaign(api, token, ws, account_id=x, channels=[sky, toot]).get_json()["id"]
    url = f"/workspaces/{ws}/campaigns/{cid}/generate"
    r = api.call("POST", url, token, json={"count": 1})
    assert r.status_code == 201, r.get_json()
    [draft] = r.get_json()["drafts"]
    assert sorted(p["network"] for p in draft["channels"]) == ["bluesky", "mastodon", "x"]
    assert r.get_json()["skipped_channels"] == []
    r = api.call("POST", url, token, json={"count": 1, "channels": [toot]})
    assert r.status_code == 201, r.get_json()
    [draft] = r.get_json()["drafts"]
    assert sorted(p["network"] for p in draft["channels"]) == ["mastodon", "x"]
    # A disconnected channel of the campaign is skipped and said so.
    assert api.call("DELETE", f"/workspaces/{ws}/x/accounts/{sky}", token).status_code == 204
    r = api.call("POST", url, token, json={"count": 1})
    assert r.status_code == 201, r.get_json()
    [skipped] = r.get_json()["skipped_channels"]
    assert skipped["account_id"] == sky and "disconnected" in skipped["reason"]
