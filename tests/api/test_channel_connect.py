"""Connecting Bluesky and Mastodon accounts through the API, against the stand-ins served
over real HTTP (tests/channels/fake_servers.py) as the admin page's browser tests reach
them: what a person gets back for a wrong app password, an address nothing answers at, an
authorization denied on the instance, and the accounts made."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests

from shared.x.models import X_ACCOUNTS
from tests.api.conftest import ORIGIN, Api
from tests.channels.fake_pds import APP_PASSWORD, DID, HANDLE, FakePDS
from tests.channels.fake_servers import DENIED, FakeMastodon, serve

CALLBACK = f"{ORIGIN}/?connect=mastodon"


def _accounts(api: Api) -> list[dict[str, object]]:
    return [s.to_dict() for s in api.runtime.db.collection(X_ACCOUNTS).stream()]


def test_bluesky_wrong_app_password_is_bad_input_then_the_right_one_connects(
    api: Api, owner, served_pds: str
) -> None:
    token, ws = owner
    path = f"/workspaces/{ws}/bluesky/accounts"
    body = {"identifier": "@" + HANDLE, "app_password": "wrong", "service_url": served_pds}
    r = api.call("POST", path, token, json=body)
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["details"] == {"field": "app_password"}
    assert "refused this handle and app password" in error["message"]
    assert "Invalid identifier or password" in error["message"]
    assert "app password made in Bluesky's settings" in error["message"]
    assert _accounts(api) == []

    r = api.call("POST", path, token, json=body | {"app_password": APP_PASSWORD})
    assert r.status_code == 201, r.get_json()
    account = r.get_json()
    assert (account["network"], account["handle"], account["x_user_id"]) == (
        "bluesky",
        HANDLE,
        DID,
    )
    assert account["service_url"] == served_pds and "secret_ref" not in account


def test_bluesky_address_nothing_answers_at_names_the_field(api: Api, owner) -> None:
    token, ws = owner
    with serve(FakePDS().handle) as url:
        pass  # closed: nothing listens there any more
    r = api.call(
        "POST",
        f"/workspaces/{ws}/bluesky/accounts",
        token,
        json={"identifier": HANDLE, "app_password": APP_PASSWORD, "service_url": url},
    )
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["details"] == {"field": "service_url"}
    assert f"check the account's PDS address ({url})" in error["message"]


def test_mastodon_oauth_with_any_instance_and_a_denied_authorization(
    api: Api, owner, served_mastodon: tuple[FakeMastodon, str]
) -> None:
    token, ws = owner
    fake, url = served_mastodon
    begin = f"/workspaces/{ws}/mastodon/oauth/begin"
    r = api.call("POST", begin, token, json={"instance_url": url, "callback_url": CALLBACK})
    assert r.status_code == 200, r.get_json()
    authorize = r.get_json()["authorization_url"]
    assert authorize.startswith(f"{url}/oauth/authorize?")
    # The instance approves at once and sends the browser back to the admin page.
    back = requests.get(authorize, allow_redirects=False, timeout=10).headers["Location"]
    assert back.startswith(CALLBACK + "&")
    query = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
    assert query["state"] == r.get_json()["state"] and query["connect"] == "mastodon"
    r = api.call(
        "POST",
        f"/workspaces/{ws}/mastodon/oauth/complete",
        token,
        json={"state": query["state"], "code": query["code"]},
    )
    assert r.status_code == 201, r.get_json()
    account = r.get_json()
    host = urlparse(url).netloc
    assert account["handle"] == f"herald@{host}" and account["network"] == "mastodon"
    assert account["limits"]["weighted_length"] == 1000

    # Denied on the instance: it sends back an error and no code; nothing is made.
    fake.deny = True
    r = api.call("POST", begin, token, json={"instance_url": url, "callback_url": CALLBACK})
    back = requests.get(r.get_json()["authorization_url"], allow_redirects=False, timeout=10)
    query = {k: v[0] for k, v in parse_qs(urlparse(back.headers["Location"]).query).items()}
    assert query["error"] == "access_denied" and query["error_description"] == DENIED
    assert "code" not in query
    assert len(_accounts(api)) == 1
